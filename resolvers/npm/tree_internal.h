/* Internal to the tree builder (tree.c: nodes, edges and the build loop;
 * place.c: where one dependency and its peer set go). */
#pragma once

#include "corral/npm.h"

/* A set of nodes: insertion order kept, membership by pointer hash. */
typedef struct nodeset {
        npm_node **v;
        size_t n, cap;
        npm_node **slots; /* open addressing, power of two */
        size_t n_slots;
} nodeset;

bool nodeset_has(const nodeset *s, const npm_node *n);
bool nodeset_add(nodeset *s, npm_node *n); /* true when it was new */
void nodeset_del(nodeset *s, npm_node *n); /* keeps v's order */
void nodeset_done(nodeset *s);

typedef struct builder {
        npm_node *root;
        npm_pick_fn pick;
        void *ud;
        npm_node *all; /* allocation chain (root->next_all continues it) */
        size_t count, max;
        size_t allocs; /* nodes made, virtual ones included (capped) */
        npm_node **queue;
        size_t n_queue;
        bool sorted;
        struct cpd *cpds; /* the current placement's checks, freed after it */
        corral_error *err;
        int r; /* first hard error */
} builder;

typedef enum { CP_CONFLICT, CP_OK, CP_REPLACE, CP_KEEP } cp_result;

int npm_name_cmp(const char *a, const char *b);
npm_node *tree_node_new(builder *b, const char *name, const npm_version *v);
npm_node *tree_child(const npm_node *n, const char *name);
npm_node *tree_resolve(npm_node *from, const char *name);
npm_edge *tree_edge_out(const npm_node *n, const char *name);
bool tree_is_top(const npm_node *n);
bool tree_in_real(const builder *b, const npm_node *n);
bool tree_descendant_of(const npm_node *n, const npm_node *of);
bool tree_peer(const npm_edge *e);
bool tree_optional(const npm_edge *e);
bool tree_satisfied_by(const npm_edge *e, const npm_node *n);
bool tree_edge_valid(const npm_edge *e);
bool tree_matches(const npm_node *a, const npm_node *b);
/* semver order of the two versions (0 when either does not parse). */
int tree_version_cmp(const npm_node *a, const npm_node *b);
/* Moves n under parent (clobbering a child of the same name there);
 * parent NULL removes n and its subtree from its tree. */
void tree_set_parent(npm_node *n, npm_node *parent);
/* Puts n where old is: old's children move to n, old leaves the tree. */
void tree_replace(npm_node *n, npm_node *old);
/* arborist's gatherDepSet: set grown along edges passing filter, then
 * shrunk to the nodes nothing outside it (by such an edge) depends on. */
void tree_gather_dep_set(nodeset *set, bool (*filter)(const npm_edge *e, void *ud), void *ud);
bool tree_can_replace_with(const npm_node *cur, const npm_node *repl, const npm_node *ignore_peers_vr);
bool tree_can_dedupe(npm_node *n, bool prefer_dedupe);
npm_node *tree_deepest_target(const builder *b, npm_node *start, const char *name);
void tree_queue_push(builder *b, npm_node *n);

/* place.c: arborist's PlaceDep for edge with dep (a node in a virtual root
 * whose siblings are its peer set); the nodes placed and those to visit
 * again go into the builder's queue.  0 or a negative code. */
int place_dep(builder *b, npm_edge *edge, npm_node *dep);
