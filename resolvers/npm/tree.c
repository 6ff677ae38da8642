/* The ideal tree, built as npm >= 7 (arborist's buildIdealTree) builds it
 * for `npm install --omit=dev`: nodes with their dependency edges resolved by
 * node_modules lookup, a queue visited shallowest first in path order, and
 * for each node its problem edges (missing or invalid), each resolved with
 * its peer set in a virtual root and placed by place.c.  At the end optional
 * packages that cannot go on this host are marked inert. */
#include <string.h>

#include "corral/semver.h"
#include "corral/strbuf.h"
#include "tree_internal.h"

/* ---- names ---------------------------------------------------------------- */

/* Orders names and paths like localeCompare('en') does for npm's ASCII
 * names: punctuation before digits before letters, case folded. */
static int rank(unsigned char c)
{
        if (c >= 'a' && c <= 'z')
                return 300 + c;
        if (c >= 'A' && c <= 'Z')
                return 300 + (c - 'A' + 'a');
        if (c >= '0' && c <= '9')
                return 200 + c;
        return c;
}

int npm_name_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                if (!*a || !*b)
                        return (unsigned char)*a - (unsigned char)*b;
                int d = rank((unsigned char)*a) - rank((unsigned char)*b);
                if (d)
                        return d;
        }
}

/* ---- nodes and edges ------------------------------------------------------ */

/* A name listed twice (say dependencies and optionalDependencies) is one
 * edge, in the place it was first seen, of the kind seen last, as arborist's
 * edgesOut map holds it. */
static void load_edges(npm_node *n)
{
        const npm_version *v = n->v;
        n->edges = xcalloc(v->n_deps + 1, sizeof(*n->edges));
        for (size_t i = 0; i < v->n_deps; i++) {
                size_t j = 0;
                while (j < n->n_edges && strcmp(n->edges[j].name, v->deps[i].name) != 0)
                        j++;
                n->edges[j] = (npm_edge){.name = v->deps[i].name, .range = v->deps[i].range,
                                         .kind = v->deps[i].kind, .from = n};
                if (j == n->n_edges)
                        n->n_edges++;
        }
}

npm_node *tree_node_new(builder *b, const char *name, const npm_version *v)
{
        npm_node *n = xcalloc(1, sizeof(*n));
        n->name = name;
        n->v = v;
        n->path = xstrdup("");
        load_edges(n);
        n->next_all = b->all;
        b->all = n;
        /* Each placement resolves a few virtual copies; a registry whose
         * peers make placements undo each other forever is stopped here. */
        if (++b->allocs > 64 * b->max + 1024 && b->r >= 0)
                b->r = corral_error_set(b->err, EX_DATAERR,
                                        "refusing the install: the dependency tree does not "
                                        "settle (more than %zu nodes tried)",
                                        64 * b->max + 1024);
        return n;
}

/* Children order: npm's, with byte order between names it ranks equal. */
static int child_cmp(const char *a, const char *b)
{
        int c = npm_name_cmp(a, b);
        return c ? c : strcmp(a, b);
}

npm_node *tree_child(const npm_node *n, const char *name)
{
        size_t lo = 0, hi = n->n_children;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = child_cmp(n->children[mid]->name, name);
                if (c == 0)
                        return n->children[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

npm_node *tree_resolve(npm_node *from, const char *name)
{
        for (npm_node *l = from; l; l = l->parent) {
                npm_node *c = tree_child(l, name);
                if (c)
                        return c;
        }
        return NULL;
}

npm_edge *tree_edge_out(const npm_node *n, const char *name)
{
        for (size_t i = 0; i < n->n_edges; i++)
                if (strcmp(n->edges[i].name, name) == 0)
                        return &n->edges[i];
        return NULL;
}

bool tree_is_top(const npm_node *n)
{
        return !n->parent;
}

static npm_node *root_of(const npm_node *n)
{
        while (n->parent)
                n = n->parent;
        return (npm_node *)n;
}

bool tree_in_real(const builder *b, const npm_node *n)
{
        return root_of(n) == b->root;
}

bool tree_descendant_of(const npm_node *n, const npm_node *of)
{
        for (; n; n = n->parent)
                if (n == of)
                        return true;
        return false;
}

bool tree_peer(const npm_edge *e)
{
        return e->kind == NPM_DEP_PEER || e->kind == NPM_DEP_PEER_OPTIONAL;
}

bool tree_optional(const npm_edge *e)
{
        return e->kind == NPM_DEP_OPTIONAL || e->kind == NPM_DEP_PEER_OPTIONAL;
}

/* "npm:real@range" aliases: the folder is the dependency's name, the package
 * another one. */
static void split_alias(const char *range, char **real, char **inner)
{
        *real = NULL;
        *inner = NULL;
        if (strncmp(range, "npm:", 4) != 0)
                return;
        const char *p = range + 4;
        const char *at = strchr(p[0] == '@' ? p + 1 : p, '@');
        *real = at ? xstrndup(p, (size_t)(at - p)) : xstrdup(p);
        *inner = xstrdup(at ? at + 1 : "*");
}

/* arborist's depValid for registry specs: "*" takes any version, a range is
 * tested loosely without prereleases, and anything else is a dist-tag, which
 * any version from the registry satisfies. */
static bool spec_valid(const char *version, const char *range)
{
        if (!*range || strcmp(range, "*") == 0)
                return true;
        semver_range *sr = NULL;
        corral_error e = {0};
        if (semver_range_parse_loose(&sr, range, &e) < 0)
                return true;
        semver v;
        bool ok = false;
        if (semver_parse(&v, version, true) >= 0) {
                ok = semver_range_test(sr, &v, false);
                semver_done(&v);
        }
        semver_range_free(sr);
        return ok;
}

bool tree_satisfied_by(const npm_edge *e, const npm_node *n)
{
        if (strcmp(n->name, e->name) != 0)
                return false;
        _cleanup_free_ char *real = NULL;
        _cleanup_free_ char *inner = NULL;
        split_alias(e->range, &real, &inner);
        if (real)
                return strcmp(n->v->name, real) == 0 && spec_valid(n->v->version, inner);
        return strcmp(n->v->name, e->name) == 0 && spec_valid(n->v->version, e->range);
}

bool tree_edge_valid(const npm_edge *e)
{
        if (!e->to)
                return tree_optional(e);
        /* A peer inside its own dependent is never valid (except at a top). */
        if (tree_peer(e) && e->from == e->to->parent && e->from->parent)
                return false;
        return tree_satisfied_by(e, e->to);
}

bool tree_matches(const npm_node *a, const npm_node *b)
{
        return a == b || (strcmp(a->name, b->name) == 0 && strcmp(a->v->name, b->v->name) == 0 &&
                          strcmp(a->v->version, b->v->version) == 0);
}

static void in_del(npm_node *to, const npm_edge *e)
{
        for (size_t i = 0; i < to->n_in; i++)
                if (to->in[i] == e) {
                        memmove(to->in + i, to->in + i + 1, (to->n_in - i - 1) * sizeof(*to->in));
                        to->n_in--;
                        return;
                }
}

static void edge_set_to(npm_edge *e, npm_node *to)
{
        if (e->to == to)
                return;
        if (e->to)
                in_del(e->to, e);
        e->to = to;
        if (to) {
                to->in = xrealloc(to->in, (to->n_in + 1) * sizeof(*to->in));
                to->in[to->n_in++] = e;
        }
}

static void reload_named(npm_node *n, const char *name)
{
        npm_edge *e = tree_edge_out(n, name);
        if (e)
                edge_set_to(e, tree_resolve(n, name));
        for (size_t i = 0; i < n->n_children; i++)
                reload_named(n->children[i], name);
}

static void reload_all(npm_node *n)
{
        for (size_t i = 0; i < n->n_edges; i++)
                edge_set_to(&n->edges[i], tree_resolve(n, n->edges[i].name));
        for (size_t i = 0; i < n->n_children; i++)
                reload_all(n->children[i]);
}

static void clear_edges(npm_node *n)
{
        for (size_t i = 0; i < n->n_edges; i++)
                edge_set_to(&n->edges[i], NULL);
        for (size_t i = 0; i < n->n_children; i++)
                clear_edges(n->children[i]);
}

static void set_paths(npm_node *n)
{
        free(n->path);
        if (!n->parent)
                n->path = xstrdup("");
        else if (!n->parent->path[0])
                n->path = xasprintf("node_modules/%s", n->name);
        else
                n->path = xasprintf("%s/node_modules/%s", n->parent->path, n->name);
        n->depth = n->parent ? n->parent->depth + 1 : 0;
        for (size_t i = 0; i < n->n_children; i++)
                set_paths(n->children[i]);
}

static void unlink_child(npm_node *n)
{
        npm_node *p = n->parent;
        for (size_t i = 0; i < p->n_children; i++)
                if (p->children[i] == n) {
                        memmove(p->children + i, p->children + i + 1,
                                (p->n_children - i - 1) * sizeof(*p->children));
                        p->n_children--;
                        break;
                }
        n->parent = NULL;
}

static void link_child(npm_node *n, npm_node *p)
{
        size_t i = 0;
        while (i < p->n_children && child_cmp(p->children[i]->name, n->name) < 0)
                i++;
        p->children = xrealloc(p->children, (p->n_children + 1) * sizeof(*p->children));
        memmove(p->children + i + 1, p->children + i, (p->n_children - i) * sizeof(*p->children));
        p->children[i] = n;
        p->n_children++;
        n->parent = p;
}

void tree_set_parent(npm_node *n, npm_node *parent)
{
        if (n->parent == parent && parent)
                return;
        npm_node *old = n->parent;
        if (old) {
                unlink_child(n);
                clear_edges(n);
                reload_named(old, n->name);
        }
        if (!parent) {
                set_paths(n);
                return;
        }
        npm_node *clobbered = tree_child(parent, n->name);
        if (clobbered) {
                unlink_child(clobbered);
                clear_edges(clobbered);
                set_paths(clobbered);
        }
        link_child(n, parent);
        set_paths(n);
        reload_all(n);
        reload_named(parent, n->name);
}

void tree_replace(npm_node *n, npm_node *old)
{
        npm_node *p = old->parent;
        /* Keep old's children, as arborist's Node#replace does. */
        while (old->n_children) {
                npm_node *k = old->children[0];
                unlink_child(k);
                link_child(k, n);
        }
        unlink_child(old);
        clear_edges(old);
        set_paths(old);
        link_child(n, p);
        set_paths(n);
        reload_all(n);
        reload_named(p, n->name);
}

/* ---- dependency sets -------------------------------------------------------- */

void tree_gather_dep_set(nodeset *set, bool (*filter)(const npm_edge *e, void *ud), void *ud)
{
        for (size_t i = 0; i < set->n; i++) {
                npm_node *n = set->v[i];
                for (size_t k = 0; k < n->n_edges; k++)
                        if (n->edges[k].to && filter(&n->edges[k], ud))
                                nodeset_add(set, n->edges[k].to);
        }
        bool changed = true;
        while (changed && set->n) {
                changed = false;
                for (size_t i = 0; i < set->n; i++) {
                        npm_node *d = set->v[i];
                        for (size_t k = 0; k < d->n_in; k++)
                                if (!nodeset_has(set, d->in[k]->from) && filter(d->in[k], ud)) {
                                        changed = true;
                                        nodeset_del(set, d);
                                        i--;
                                        break;
                                }
                }
        }
}

static bool not_to_valid(const npm_edge *e, void *ud)
{
        return e->to != ud && tree_edge_valid(e);
}

/* arborist's Node#canReplaceWith: every dependent of cur outside cur's own
 * dependency set accepts repl.  With ignore_peers_vr, peer edges from
 * siblings of cur whose names are children of that virtual root (the peer
 * set being placed) do not count. */
bool tree_can_replace_with(const npm_node *cur, const npm_node *repl,
                           const npm_node *ignore_peers_vr)
{
        if (strcmp(cur->name, repl->name) != 0 || strcmp(cur->v->name, repl->v->name) != 0)
                return false;
        nodeset deps = {0};
        nodeset_add(&deps, (npm_node *)cur);
        tree_gather_dep_set(&deps, not_to_valid, (void *)cur);
        bool ok = true;
        for (size_t i = 0; ok && i < cur->n_in; i++) {
                const npm_edge *e = cur->in[i];
                if (cur->parent && e->from->parent == cur->parent && tree_peer(e) &&
                    ignore_peers_vr && tree_child(ignore_peers_vr, e->from->name))
                        continue;
                if (!nodeset_has(&deps, e->from) && !tree_satisfied_by(e, repl))
                        ok = false;
        }
        nodeset_done(&deps);
        return ok;
}

int tree_version_cmp(const npm_node *a, const npm_node *b)
{
        semver x, y;
        if (semver_parse(&x, a->v->version, true) < 0)
                return 0;
        if (semver_parse(&y, b->v->version, true) < 0) {
                semver_done(&x);
                return 0;
        }
        int c = semver_compare(&x, &y);
        semver_done(&x);
        semver_done(&y);
        return c;
}

/* arborist's Node#canDedupe: a copy two levels down that nobody needs, or
 * whose dependents would all accept the copy its grandparent resolves. */
bool tree_can_dedupe(npm_node *n, bool prefer_dedupe)
{
        if (!n->parent || !n->parent->parent)
                return false;
        if (n->n_in == 0)
                return true;
        npm_node *other = tree_resolve(n->parent->parent, n->name);
        if (!other)
                return false;
        if (tree_matches(other, n))
                return true;
        if (!tree_can_replace_with(n, other, NULL))
                return false;
        int c = tree_version_cmp(other, n);
        return prefer_dedupe || c >= 0;
}

/* arborist's deepestNestingTarget: from start up, the first node that is the
 * project root, a top, or has no peer dependency on name. */
npm_node *tree_deepest_target(const builder *b, npm_node *start, const char *name)
{
        for (npm_node *t = start; t; t = t->parent) {
                if (t == b->root || !t->parent)
                        return t;
                const npm_edge *e = tree_edge_out(t, name);
                if (!e || !tree_peer(e))
                        return t;
        }
        return start;
}

/* ---- the queue -------------------------------------------------------------- */

void tree_queue_push(builder *b, npm_node *n)
{
        for (size_t i = 0; i < b->n_queue; i++)
                if (b->queue[i] == n)
                        return;
        b->queue = xrealloc(b->queue, (b->n_queue + 1) * sizeof(*b->queue));
        b->queue[b->n_queue++] = n;
        b->sorted = false;
}

static int queue_cmp(const void *x, const void *y)
{
        const npm_node *a = *(npm_node *const *)x, *c = *(npm_node *const *)y;
        if (a->depth != c->depth)
                return a->depth < c->depth ? -1 : 1;
        return npm_name_cmp(a->path, c->path);
}

static npm_node *queue_pop(builder *b)
{
        if (!b->n_queue)
                return NULL;
        if (!b->sorted) {
                qsort(b->queue, b->n_queue, sizeof(*b->queue), queue_cmp);
                b->sorted = true;
        }
        npm_node *n = b->queue[0];
        memmove(b->queue, b->queue + 1, (b->n_queue - 1) * sizeof(*b->queue));
        b->n_queue--;
        return n;
}

/* ---- resolving a dependency with its peer set --------------------------------- */

/* A root standing in for src (same dependencies), where a dependency and its
 * peers are resolved before they are placed; cached per node when reuse. */
static npm_node *virtual_root(builder *b, npm_node *src, bool reuse)
{
        if (reuse && src->vr)
                return src->vr;
        npm_node *vr = tree_node_new(b, src->name, src->v);
        vr->is_vr = true;
        src->vr = vr;
        return vr;
}

static int load_peer_set(builder *b, npm_node *node);

/* A new node of name for range under parent; NULL when nothing matches (a
 * hard error is left in b->r). */
static npm_node *node_from_spec(builder *b, const char *name, const char *range, npm_node *parent,
                                bool optional)
{
        _cleanup_free_ char *real = NULL;
        _cleanup_free_ char *inner = NULL;
        split_alias(range, &real, &inner);
        const npm_version *v = NULL;
        corral_error e = {0};
        int r = b->pick(b->ud, real ? real : name, real ? inner : range, &v, &e);
        if (r <= 0) {
                if (!optional && b->r >= 0) {
                        *b->err = e;
                        if (r == 0) {
                                corral_error_prefix(b->err, "%s depends on %s@%s",
                                                    parent->v->name[0] ? parent->v->name : "the root",
                                                    name, range);
                                r = -EX_NOINPUT;
                        }
                        b->r = r;
                }
                return NULL;
        }
        npm_node *n = tree_node_new(b, name, v);
        tree_set_parent(n, parent);
        return n;
}

/* arborist's #nodeFromEdge: the node for edge, resolved in parent (a fresh
 * virtual root of the dependent by default), with its peer set loaded. */
static npm_node *node_from_edge(builder *b, npm_edge *edge, npm_node *parent, npm_edge *second)
{
        if (!parent)
                parent = virtual_root(b, edge->from, false);
        npm_node *first = node_from_spec(b, edge->name, edge->range, parent, tree_optional(edge));
        if (!first)
                return NULL;
        npm_node *sec = NULL;
        if (second && !tree_edge_valid(second))
                sec = node_from_spec(b, edge->name, second->range, parent, true);
        npm_node *node = sec && tree_edge_valid(edge) ? sec : first;
        tree_set_parent(node, parent);
        if (load_peer_set(b, node) < 0)
                return NULL;
        return node;
}

static int edge_name_cmp(const void *x, const void *y)
{
        return npm_name_cmp((*(npm_edge *const *)x)->name, (*(npm_edge *const *)y)->name);
}

/* arborist's #loadPeerSet: the peers of node (and theirs) join it in its
 * virtual root, preferring the version the root's own dependency picks. */
static int load_peer_set(builder *b, npm_node *node)
{
        _cleanup_free_ npm_edge **pe = xcalloc(node->n_edges + 1, sizeof(*pe));
        size_t np = 0;
        for (size_t i = 0; i < node->n_edges; i++) {
                npm_edge *e = &node->edges[i];
                if (tree_peer(e) && !(tree_edge_valid(e) && e->to))
                        pe[np++] = e;
        }
        qsort(pe, np, sizeof(*pe), edge_name_cmp);
        for (size_t i = 0; i < np && b->r >= 0; i++) {
                npm_edge *e = pe[i];
                if (!node->parent)
                        break;
                if (tree_edge_valid(e) && e->to)
                        continue;
                npm_node *vr = node->parent;
                npm_edge *parent_edge = tree_edge_out(vr, e->name);
                if (!e->to) {
                        if (!parent_edge) {
                                (void)node_from_edge(b, e, vr, NULL);
                                continue;
                        }
                        (void)node_from_edge(b, parent_edge, vr, e);
                        if (!tree_edge_valid(e))
                                e->peer_conflicted = true; /* npm overrides it, warning */
                        continue;
                }
                npm_node *current = e->to;
                npm_node *dep = node_from_edge(b, e, NULL, NULL);
                if (dep && tree_can_replace_with(current, dep, NULL))
                        (void)node_from_edge(b, e, vr, NULL);
        }
        return b->r;
}

/* arborist's #problemEdges: missing (but not optional peers) or invalid. */
static bool problem(const npm_edge *e)
{
        if (!e->to)
                return e->kind != NPM_DEP_PEER_OPTIONAL;
        return !tree_edge_valid(e);
}

/* BFS under top for a node that satisfies e (an optional peer reuses one). */
static npm_node *find_hoistable(npm_node *top, const npm_edge *e)
{
        nodeset q = {0};
        npm_node *found = NULL;
        for (size_t i = 0; i < top->n_children; i++)
                nodeset_add(&q, top->children[i]);
        for (size_t i = 0; i < q.n && !found; i++) {
                npm_node *n = q.v[i];
                if (strcmp(n->name, e->name) == 0 && tree_satisfied_by(e, n))
                        found = n;
                for (size_t k = 0; k < n->n_children; k++)
                        nodeset_add(&q, n->children[k]);
        }
        nodeset_done(&q);
        return found;
}

typedef struct task {
        npm_edge *edge;
        npm_node *dep;
} task;

static int task_cmp(const void *x, const void *y)
{
        return npm_name_cmp(((const task *)x)->edge->name, ((const task *)y)->edge->name);
}

static int build_step(builder *b, npm_node *node)
{
        _cleanup_free_ task *tasks = xcalloc(node->n_edges + 1, sizeof(*tasks));
        size_t nt = 0;
        for (size_t i = 0; i < node->n_edges && b->r >= 0; i++) {
                npm_edge *e = &node->edges[i];
                if (!problem(e) || e->peer_conflicted)
                        continue;
                npm_node *vr = virtual_root(b, node, true);
                npm_edge *vre = tree_edge_out(vr, e->name);
                npm_node *vrdep = vre && tree_edge_valid(vre) ? vre->to : NULL;
                npm_node *dep = vrdep && tree_satisfied_by(e, vrdep) ? vrdep : NULL;
                if (!dep && e->kind == NPM_DEP_PEER_OPTIONAL)
                        dep = find_hoistable(node->parent ? node->parent : node, e);
                if (!dep)
                        dep = node_from_edge(b, e, tree_peer(e) ? vr : NULL, NULL);
                if (!dep)
                        continue; /* an optional one that does not resolve */
                tasks[nt++] = (task){e, dep};
        }
        if (b->r < 0)
                return b->r;
        /* Stable: equal names keep their order. */
        for (size_t i = 1; i < nt; i++)
                for (size_t j = i; j > 0 && task_cmp(&tasks[j - 1], &tasks[j]) > 0; j--) {
                        task t = tasks[j];
                        tasks[j] = tasks[j - 1];
                        tasks[j - 1] = t;
                }
        for (size_t i = 0; i < nt; i++) {
                int r = place_dep(b, tasks[i].edge, tasks[i].dep);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- after the build: what this host does not install ---------------------- */

static void mark_required(npm_node *n, nodeset *req)
{
        if (!nodeset_add(req, n))
                return;
        for (size_t i = 0; i < n->n_edges; i++)
                if (n->edges[i].to && !tree_optional(&n->edges[i]))
                        mark_required(n->edges[i].to, req);
}

static void all_nodes(npm_node *n, nodeset *s)
{
        nodeset_add(s, n);
        for (size_t i = 0; i < n->n_children; i++)
                all_nodes(n->children[i], s);
}

static bool optional_filter(const npm_edge *e, void *ud)
{
        const nodeset *set = ud;
        return !nodeset_has(set, e->to) && !e->from->inert;
}

/* arborist's #checkEngineAndPlatform: an optional node whose os/cpu/libc or
 * engines do not fit is inert, with what only it needs (optionalSet). */
static void mark_inert(npm_node *root)
{
        nodeset req = {0}, all = {0};
        mark_required(root, &req);
        all_nodes(root, &all);
        for (size_t i = 0; i < all.n; i++)
                all.v[i]->optional = !nodeset_has(&req, all.v[i]);
        for (size_t i = 0; i < all.n; i++) {
                npm_node *n = all.v[i];
                if (!n->optional || n->inert || (n->v->platform_ok && !n->v->engine_unmet))
                        continue;
                nodeset set = {0};
                nodeset_add(&set, n);
                for (size_t k = 0; k < set.n; k++)
                        for (size_t j = 0; j < set.v[k]->n_in; j++)
                                if (!tree_optional(set.v[k]->in[j]))
                                        nodeset_add(&set, set.v[k]->in[j]->from);
                nodeset copy = {0};
                for (size_t k = 0; k < set.n; k++)
                        nodeset_add(&copy, set.v[k]);
                tree_gather_dep_set(&set, optional_filter, &copy);
                for (size_t k = 0; k < set.n; k++)
                        if (set.v[k] != root)
                                set.v[k]->inert = true;
                nodeset_done(&set);
                nodeset_done(&copy);
        }
        nodeset_done(&req);
        nodeset_done(&all);
}

/* ---- entry points ------------------------------------------------------------ */

int npm_tree_build(npm_node **ret, const npm_version *root_v, npm_pick_fn pick, void *userdata,
                   size_t max_nodes, corral_error *err)
{
        builder b = {.pick = pick, .ud = userdata, .max = max_nodes, .err = err};
        b.root = tree_node_new(&b, root_v->name, root_v);
        tree_queue_push(&b, b.root);
        int r = 0;
        npm_node *n;
        while (r >= 0 && (n = queue_pop(&b))) {
                if (n->seen || !tree_in_real(&b, n))
                        continue;
                n->seen = true;
                r = build_step(&b, n);
                if (r >= 0 && b.r < 0)
                        r = b.r;
        }
        free(b.queue);
        /* The root heads the allocation chain, so npm_tree_free() frees all. */
        npm_node *root = b.root;
        npm_node **pp = &b.all;
        while (*pp != root)
                pp = &(*pp)->next_all;
        *pp = root->next_all;
        root->next_all = b.all;
        if (r < 0) {
                npm_tree_free(root);
                return r;
        }
        mark_inert(root);
        *ret = root;
        return 0;
}

npm_node *npm_tree_free(npm_node *root)
{
        if (!root)
                return NULL;
        npm_node *n = root->next_all;
        while (n) {
                npm_node *next = n->next_all;
                free(n->children);
                free(n->edges);
                free(n->in);
                free(n->path);
                free(n);
                n = next;
        }
        free(root->children);
        free(root->edges);
        free(root->in);
        free(root->path);
        free(root);
        return NULL;
}

static int walk(const npm_node *n, int (*fn)(const npm_node *, void *), void *ud)
{
        for (size_t i = 0; i < n->n_children; i++) {
                int r = fn(n->children[i], ud);
                if (r < 0)
                        return r;
                r = walk(n->children[i], fn, ud);
                if (r < 0)
                        return r;
        }
        return 0;
}

int npm_tree_walk(const npm_node *root, int (*fn)(const npm_node *n, void *ud), void *ud)
{
        return walk(root, fn, ud);
}
