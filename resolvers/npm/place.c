/* Where one dependency goes, by arborist's rules (can-place-dep.js and
 * place-dep.js of npm >= 7), written for corral's tree (tree.c).
 *
 * A dependency dep (resolved in a virtual root beside its peer set) for edge
 * is tried at each level from its start (its dependent, or for a peer the
 * start of the package that brought it) up to the root; each check answers:
 *
 *   | at the target                                  | answer            |
 *   |------------------------------------------------|-------------------|
 *   | target has a peer dep on the name (not a top)  | CONFLICT          |
 *   | nothing there; target's own dep on the name    | CONFLICT          |
 *   |   would not accept dep                         |                   |
 *   | nothing there; a copy above it that a node     | CONFLICT          |
 *   |   below depends on would be hidden and dep     |                   |
 *   |   does not satisfy that node                   |                   |
 *   | nothing there otherwise                        | OK (if peers fit) |
 *   | the same version, satisfying the edge          | KEEP              |
 *   | an older one all of whose dependents accept dep| REPLACE (peers)   |
 *   | one that satisfies the edge                    | KEEP              |
 *   | for a peer: a newer one all dependents would   | REPLACE (peers)   |
 *   |   accept an older dep for (prefer dedupe)      |                   |
 *   | target is dep's deepest possible place and it  | REPLACE (peers)   |
 *   |   is the dependent itself, or the current peer |                   |
 *   |   group there can be replaced or nested deeper |                   |
 *   | otherwise                                      | CONFLICT          |
 *
 * "(peers)": the answer holds only if every peer of dep fits at its own
 * deepest target from here (checked recursively, as one group); else
 * CONFLICT.  The walk stops at the first CONFLICT; the last fit wins, so a
 * dependency goes as high as it can.  Replacing a node keeps its children,
 * prunes what only it needed and sends peer sets that no longer fit back to
 * be placed again; then copies below that became duplicates are pruned.
 * Peers of the placed node that are not met are placed the same way. */
#include <string.h>

#include "corral/strbuf.h"
#include "tree_internal.h"

typedef struct cpd {
        builder *b;
        npm_node *dep, *target, *current;
        npm_edge *edge, *target_edge;
        struct cpd *parent;
        npm_node **peer_path;
        size_t n_peer_path;
        bool prefer_dedupe, edge_override;
        cp_result can_place, can_place_self;
        bool has_self;
        int peers_done; /* 0 not checked, else 1 + the cached result */
        struct cpd *next; /* the builder's list, freed after each placement */
} cpd;

static cp_result check(cpd *c);

static cpd *cpd_top(cpd *c)
{
        while (c->parent)
                c = c->parent;
        return c;
}

static cpd *cpd_new(builder *b, npm_node *dep, npm_node *target, npm_edge *edge, cpd *parent,
                    npm_node **peer_path, size_t n_peer_path, bool prefer_dedupe)
{
        cpd *c = xcalloc(1, sizeof(*c));
        c->next = b->cpds;
        b->cpds = c;
        c->b = b;
        c->dep = dep;
        c->target = target;
        c->edge = edge;
        c->parent = parent;
        c->peer_path = xcalloc(n_peer_path + 1, sizeof(*c->peer_path));
        if (n_peer_path)
                memcpy(c->peer_path, peer_path, n_peer_path * sizeof(*peer_path));
        c->n_peer_path = n_peer_path;
        /* Peers are always placed preferring to dedupe: they try to be
         * singletons. */
        c->prefer_dedupe = prefer_dedupe || tree_peer(edge);
        c->current = tree_child(target, edge->name);
        c->target_edge = tree_edge_out(target, edge->name);
        c->edge_override = !tree_satisfied_by(edge, dep);
        c->can_place = check(c);
        if (!c->has_self)
                c->can_place_self = c->can_place;
        return c;
}

static void cpds_free(builder *b)
{
        while (b->cpds) {
                cpd *n = b->cpds->next;
                free(b->cpds->peer_path);
                free(b->cpds);
                b->cpds = n;
        }
}

static npm_node *cpd_deepest(cpd *c)
{
        npm_node *start = c->parent ? cpd_deepest(c->parent) : c->edge->from;
        return tree_deepest_target(c->b, start, c->edge->name);
}

/* Can dep's peers go where they would have to, given dep goes here? */
static cp_result can_place_peers(cpd *c, cp_result state)
{
        c->can_place_self = state;
        c->has_self = true;
        if (c->peers_done)
                return (cp_result)(c->peers_done - 1);
        size_t np = c->n_peer_path + 1;
        _cleanup_free_ npm_node **path = xcalloc(np + 1, sizeof(*path));
        if (c->n_peer_path)
                memcpy(path, c->peer_path, c->n_peer_path * sizeof(*path));
        path[c->n_peer_path] = c->dep;
        bool conflict = false;
        for (size_t i = 0; i < c->dep->n_edges; i++) {
                npm_edge *pe = &c->dep->edges[i];
                if (!tree_peer(pe) || !pe->to)
                        continue;
                bool seen = false;
                for (size_t k = 0; k < np; k++)
                        if (path[k] == pe->to)
                                seen = true;
                if (seen)
                        continue;
                npm_node *t = tree_deepest_target(c->b, c->target, pe->to->name);
                cpd *k = cpd_new(c->b, pe->to, t, pe, c, path, np, true);
                if (k->can_place == CP_CONFLICT)
                        conflict = true;
        }
        cp_result r = conflict ? CP_CONFLICT : state;
        c->peers_done = 1 + (int)r;
        return r;
}

/* arborist's peerEntrySets: for each edge that brings node's peer group in
 * from outside (a non-peer edge, or one from a top), the group it brings. */
typedef struct entry_set {
        npm_edge *edge;
        nodeset set;
} entry_set;

static void peer_group(npm_node *start, nodeset *sub)
{
        nodeset_add(sub, start);
        for (size_t i = 0; i < sub->n; i++) {
                npm_node *p = sub->v[i];
                for (size_t k = 0; k < p->n_edges; k++) {
                        npm_edge *e = &p->edges[k];
                        if (tree_edge_valid(e) && tree_peer(e) && e->to)
                                nodeset_add(sub, e->to);
                }
        }
}

static size_t peer_entry_sets(npm_node *node, entry_set **ret)
{
        nodeset uni = {0};
        nodeset_add(&uni, node);
        for (size_t i = 0; i < uni.n; i++) {
                npm_node *n = uni.v[i];
                for (size_t k = 0; k < n->n_edges; k++)
                        if (tree_edge_valid(&n->edges[k]) && tree_peer(&n->edges[k]) &&
                            n->edges[k].to)
                                nodeset_add(&uni, n->edges[k].to);
                for (size_t k = 0; k < n->n_in; k++)
                        if (tree_edge_valid(n->in[k]) && tree_peer(n->in[k]))
                                nodeset_add(&uni, n->in[k]->from);
        }
        entry_set *out = NULL;
        size_t n_out = 0;
        for (size_t i = 0; i < uni.n; i++) {
                npm_node *peer = uni.v[i];
                for (size_t k = 0; k < peer->n_in; k++) {
                        npm_edge *e = peer->in[k];
                        if (!tree_edge_valid(e) || (tree_peer(e) && e->from->parent))
                                continue;
                        nodeset sub = {0};
                        peer_group(peer, &sub);
                        if (nodeset_has(&sub, node)) {
                                out = xrealloc(out, (n_out + 1) * sizeof(*out));
                                out[n_out++] = (entry_set){e, sub};
                        } else {
                                nodeset_done(&sub);
                        }
                }
        }
        nodeset_done(&uni);
        *ret = out;
        return n_out;
}

static void entry_sets_free(entry_set *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                nodeset_done(&s[i].set);
        free(s);
}

static cp_result check_current(cpd *c)
{
        npm_node *cur = c->current, *dep = c->dep, *target = c->target;
        if (tree_matches(dep, cur) && (tree_satisfied_by(c->edge, cur) || c->edge_override))
                return CP_KEEP;
        bool try_replace = tree_version_cmp(dep, cur) >= 0;
        if (try_replace && tree_can_replace_with(cur, dep, NULL)) {
                cp_result r = can_place_peers(c, CP_REPLACE);
                if (r != CP_CONFLICT)
                        return r;
        }
        if (tree_satisfied_by(c->edge, cur))
                return CP_KEEP;
        if (c->prefer_dedupe && !try_replace && tree_can_replace_with(cur, dep, NULL)) {
                cp_result r = can_place_peers(c, CP_REPLACE);
                if (r != CP_CONFLICT)
                        return r;
        }
        /* Could dep go deeper?  Then leave the current one alone. */
        if (target != cpd_deepest(c))
                return CP_CONFLICT;
        if (!tree_peer(c->edge) && target == c->edge->from)
                return can_place_peers(c, CP_REPLACE);
        if (!c->parent && !tree_peer(c->edge))
                return CP_CONFLICT;
        /* The deepest place for a peer: the current peer groups here must
         * each be replaceable by dep's set, or able to nest deeper. */
        npm_node *vr = dep->parent;
        npm_edge *entry_edge = cpd_top(c)->edge;
        entry_set *sets = NULL;
        size_t n_sets = peer_entry_sets(cur, &sets);
        bool can_replace = true;
        for (size_t i = 0; i < n_sets && can_replace; i++) {
                npm_edge *ee = sets[i].edge;
                if (ee == c->edge || ee == entry_edge)
                        continue;
                npm_node *entry = ee->to;
                npm_node *rep = vr ? tree_child(vr, entry->name) : NULL;
                if (rep && tree_can_replace_with(entry, rep, vr))
                        continue;
                bool clobber = !rep;
                if (!rep) {
                        nodeset walk = {0};
                        nodeset_add(&walk, entry);
                        for (size_t k = 0; k < walk.n && clobber; k++)
                                for (size_t j = 0; j < walk.v[k]->n_edges; j++) {
                                        npm_edge *e = &walk.v[k]->edges[j];
                                        if (!tree_peer(e) || !tree_edge_valid(e))
                                                continue;
                                        npm_node *r2 = vr ? tree_child(vr, e->name) : NULL;
                                        if (!r2) {
                                                if (e->to)
                                                        nodeset_add(&walk, e->to);
                                                continue;
                                        }
                                        if (!tree_satisfied_by(e, r2)) {
                                                clobber = false;
                                                break;
                                        }
                                }
                        nodeset_done(&walk);
                }
                if (clobber)
                        continue;
                for (size_t k = 0; k < sets[i].set.n; k++) {
                        npm_node *cd = tree_deepest_target(c->b, ee->from, sets[i].set.v[k]->name);
                        if (cd == target || tree_descendant_of(target, cd)) {
                                can_replace = false;
                                break;
                        }
                }
        }
        entry_sets_free(sets, n_sets);
        return can_replace ? can_place_peers(c, CP_REPLACE) : CP_CONFLICT;
}

static cp_result check_no_current(cpd *c)
{
        npm_node *target = c->target;
        /* Would dep hide, from a node below, the copy it already uses? */
        npm_node *cur = target != cpd_top(c)->edge->from ? tree_resolve(target, c->edge->name) : NULL;
        if (cur)
                for (size_t i = 0; i < cur->n_in; i++) {
                        npm_edge *e = cur->in[i];
                        if (tree_descendant_of(e->from, target) && tree_edge_valid(e) &&
                            !tree_satisfied_by(e, c->dep))
                                return CP_CONFLICT;
                }
        return can_place_peers(c, CP_OK);
}

static cp_result check(cpd *c)
{
        if (c->target_edge && tree_peer(c->target_edge) && c->target->parent)
                return CP_CONFLICT;
        if (!c->current && c->target_edge && !tree_satisfied_by(c->target_edge, c->dep) &&
            c->target_edge != c->edge)
                return CP_CONFLICT;
        return c->current ? check_current(c) : check_no_current(c);
}

/* ---- PlaceDep ---------------------------------------------------------------- */

typedef struct pd {
        builder *b;
        npm_node *dep;
        npm_edge *edge;
        struct pd *parent;
        cpd *can_place;
        npm_node *placed;
        nodeset need_eval;
        struct pd **children;
        size_t n_children;
} pd;

static void pd_free(pd *p)
{
        for (size_t i = 0; i < p->n_children; i++)
                pd_free(p->children[i]);
        free(p->children);
        nodeset_done(&p->need_eval);
        free(p);
}

static npm_node *pd_start(pd *p)
{
        npm_node *from = p->parent ? pd_start(p->parent) : p->edge->from;
        return tree_deepest_target(p->b, from, p->edge->name);
}

static bool valid_not_to(const npm_edge *e, void *ud)
{
        return e->to != ud && tree_edge_valid(e);
}

static void remove_set(nodeset *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->parent)
                        tree_set_parent(s->v[i], NULL);
}

static void prune_dedupable(pd *p, npm_node *n, bool descend)
{
        if (!n->parent)
                return;
        if (tree_can_dedupe(n, false)) {
                nodeset s = {0};
                nodeset_add(&s, n);
                tree_gather_dep_set(&s, valid_not_to, n);
                remove_set(&s);
                nodeset_done(&s);
                return;
        }
        if (descend) {
                size_t nk = n->n_children;
                _cleanup_free_ npm_node **kids = xcalloc(nk + 1, sizeof(*kids));
                if (nk)
                        if (nk)
                                memcpy(kids, n->children, nk * sizeof(*kids));
                for (size_t i = 0; i < nk; i++)
                        prune_dedupable(p, kids[i], true);
        }
}

static bool prune_filter(const npm_edge *e, void *ud)
{
        const npm_node *node = ud;
        return e->from != node && e->to != node && tree_edge_valid(e);
}

static bool entry_filter(const npm_edge *e, void *ud)
{
        return e->to != ud && !e->peer_conflicted;
}

static bool old_dep_filter(const npm_edge *e, void *ud)
{
        return e->to != ud;
}

/* arborist's replaceOldDep: p->placed takes old's place and children. */
static void replace_old(pd *p, npm_node *old)
{
        npm_node *target = old->parent;
        nodeset old_deps = {0};
        for (size_t i = 0; i < old->n_edges; i++) {
                npm_edge *e = &old->edges[i];
                if (e->to && !tree_edge_out(p->placed, e->name)) {
                        nodeset s = {0};
                        nodeset_add(&s, e->to);
                        tree_gather_dep_set(&s, old_dep_filter, e->to);
                        for (size_t k = 0; k < s.n; k++)
                                nodeset_add(&old_deps, s.v[k]);
                        nodeset_done(&s);
                }
        }
        /* Peer sets here that the new one breaks go back to be placed anew
         * (deeper), unless the project itself brought them. */
        nodeset prune_peers = {0};
        for (size_t i = 0; i < old->n_in; i++) {
                npm_edge *e = old->in[i];
                if (tree_satisfied_by(e, p->placed) || !tree_peer(e) || e->from->parent != target ||
                    e->peer_conflicted)
                        continue;
                entry_set *sets = NULL;
                size_t n = peer_entry_sets(e->from, &sets);
                for (size_t k = 0; k < n; k++) {
                        npm_node *entry = sets[k].edge->to;
                        if (entry != target && sets[k].edge->from != p->b->root) {
                                nodeset s = {0};
                                nodeset_add(&s, entry);
                                tree_gather_dep_set(&s, entry_filter, entry);
                                for (size_t j = 0; j < s.n; j++)
                                        nodeset_add(&prune_peers, s.v[j]);
                                nodeset_done(&s);
                        } else {
                                e->peer_conflicted = true;
                        }
                }
                entry_sets_free(sets, n);
        }
        tree_replace(p->placed, old);
        /* What only the old node needed, or now-invalid deps of the new one. */
        nodeset invalid = {0};
        for (size_t i = 0; i < p->placed->n_edges; i++) {
                npm_edge *e = &p->placed->edges[i];
                if (e->to && !tree_edge_valid(e))
                        nodeset_add(&invalid, e->to);
        }
        for (size_t i = 0; i < old_deps.n; i++) {
                nodeset s = {0};
                nodeset_add(&s, old_deps.v[i]);
                tree_gather_dep_set(&s, valid_not_to, old_deps.v[i]);
                for (size_t k = 0; k < s.n; k++)
                        nodeset_add(&invalid, s.v[k]);
                nodeset_done(&s);
        }
        tree_gather_dep_set(&invalid, prune_filter, p->placed);
        remove_set(&invalid);
        for (size_t i = 0; i < prune_peers.n; i++) {
                npm_node *d = prune_peers.v[i];
                for (size_t k = 0; k < d->n_in; k++)
                        nodeset_add(&p->need_eval, d->in[k]->from);
                if (d->parent)
                        tree_set_parent(d, NULL);
        }
        nodeset_done(&invalid);
        nodeset_done(&old_deps);
        nodeset_done(&prune_peers);
}

/* A same-name node above that lost every dependent to the new placement
 * (npm/cli#9135) leaves with its subtree; what pointed into it is
 * evaluated again. */
static void prune_orphan(pd *p, npm_node *n)
{
        if (n->n_in)
                return;
        nodeset members = {0};
        nodeset_add(&members, n);
        for (size_t i = 0; i < members.n; i++)
                for (size_t k = 0; k < members.v[i]->n_children; k++)
                        nodeset_add(&members, members.v[i]->children[k]);
        nodeset outside = {0};
        for (size_t i = 0; i < members.n; i++)
                for (size_t k = 0; k < members.v[i]->n_in; k++)
                        if (!nodeset_has(&members, members.v[i]->in[k]->from))
                                nodeset_add(&outside, members.v[i]->in[k]->from);
        tree_set_parent(n, NULL);
        for (size_t i = 0; i < outside.n; i++)
                nodeset_add(&p->need_eval, outside.v[i]);
        nodeset_done(&members);
        nodeset_done(&outside);
}

static void named_in(npm_node *n, const char *name, nodeset *out)
{
        if (n->parent && strcmp(n->name, name) == 0)
                nodeset_add(out, n);
        for (size_t i = 0; i < n->n_children; i++)
                named_in(n->children[i], name, out);
}

static pd *pd_new(builder *b, npm_edge *edge, npm_node *dep, pd *parent)
{
        pd *p = xcalloc(1, sizeof(*p));
        p->b = b;
        p->edge = edge;
        p->dep = dep;
        p->parent = parent;
        if (edge->to && tree_edge_valid(edge))
                return p;

        cpd *chosen = NULL, *self = NULL;
        for (npm_node *target = pd_start(p); target; target = target->parent) {
                npm_edge *te = tree_edge_out(target, edge->name);
                if (target->parent && te && tree_peer(te))
                        continue;
                cpd *c = cpd_new(b, dep, target, edge, parent ? parent->can_place : NULL, NULL, 0,
                                 false);
                if (c->can_place_self != CP_CONFLICT)
                        self = c;
                if (c->can_place == CP_CONFLICT)
                        break;
                chosen = c;
        }
        if (!chosen) {
                /* The project's own dependency that fits nowhere is npm's
                 * ERESOLVE; elsewhere npm warns and keeps what is there. */
                if (edge->from == b->root && !tree_peer(edge)) {
                        if (b->r >= 0)
                                b->r = corral_error_set(b->err, EX_DATAERR,
                                                        "cannot place %s@%s: it conflicts with "
                                                        "its peers",
                                                        dep->v->name, dep->v->version);
                        return p;
                }
                if (!self)
                        return p;
                chosen = self;
        }
        p->can_place = chosen;
        npm_node *target = chosen->target;
        cp_result type = chosen->can_place == CP_CONFLICT ? chosen->can_place_self
                                                          : chosen->can_place;
        if (type == CP_KEEP) {
                prune_dedupable(p, target, true);
                return p;
        }
        if (++b->count > b->max) {
                if (b->r >= 0)
                        b->r = corral_error_set(b->err, EX_DATAERR,
                                                "refusing the install: more than %zu packages",
                                                b->max);
                return p;
        }
        npm_node *placed = tree_node_new(b, dep->name, dep->v);
        p->placed = placed;
        npm_node *old = tree_child(target, dep->name);
        if (old)
                replace_old(p, old);
        else
                tree_set_parent(placed, target);

        if (tree_edge_valid(edge) && edge->to && edge->to != placed)
                prune_dedupable(p, edge->to, false);
        nodeset same = {0};
        named_in(b->root, dep->name, &same);
        for (size_t i = 0; i < same.n; i++) {
                npm_node *n = same.v[i];
                if (!n->parent || !tree_descendant_of(n, target))
                        continue;
                prune_dedupable(p, n, false);
                if (n->parent && tree_in_real(b, n)) {
                        size_t nk = n->n_children;
                        _cleanup_free_ npm_node **kids = xcalloc(nk + 1, sizeof(*kids));
                        if (nk)
                        if (nk)
                                memcpy(kids, n->children, nk * sizeof(*kids));
                        for (size_t k = 0; k < nk; k++)
                                prune_dedupable(p, kids[k], false);
                }
        }
        nodeset_done(&same);
        if (placed->parent)
                for (npm_node *a = placed->parent->parent; a; a = a->parent) {
                        npm_node *sh = tree_child(a, dep->name);
                        if (sh && sh != placed)
                                prune_orphan(p, sh);
                }

        /* Its peers that the tree does not meet yet, from the same set. */
        npm_node *vr = dep->parent;
        for (size_t i = 0; vr && placed->parent && i < placed->n_edges; i++) {
                npm_edge *pe = &placed->edges[i];
                if (tree_edge_valid(pe) || !tree_peer(pe) || pe->peer_conflicted)
                        continue;
                npm_node *peer = tree_child(vr, pe->name);
                if (!peer || !tree_satisfied_by(pe, peer))
                        continue;
                pd *k = pd_new(b, pe, peer, p);
                p->children = xrealloc(p->children, (p->n_children + 1) * sizeof(*p->children));
                p->children[p->n_children++] = k;
                if (b->r < 0)
                        break;
        }
        return p;
}

/* What a placement changed goes back into the queue (arborist's visit). */
static void visit(builder *b, pd *p)
{
        npm_node *placed = p->placed;
        if (placed && placed->parent && tree_in_real(b, placed)) {
                cp_result self = p->can_place->can_place_self;
                for (size_t i = 0; i < placed->n_in; i++) {
                        npm_edge *e = placed->in[i];
                        if (e == p->edge || e->peer_conflicted || tree_edge_valid(e))
                                continue;
                        if (self == CP_OK || self == CP_REPLACE) {
                                e->from->seen = false;
                                tree_queue_push(b, e->from);
                        }
                }
                tree_queue_push(b, placed);
                for (size_t i = 0; i < p->need_eval.n; i++) {
                        p->need_eval.v[i]->seen = false;
                        tree_queue_push(b, p->need_eval.v[i]);
                }
        }
        for (size_t i = 0; i < p->n_children; i++)
                visit(b, p->children[i]);
}

int place_dep(builder *b, npm_edge *edge, npm_node *dep)
{
        pd *p = pd_new(b, edge, dep, NULL);
        if (b->r >= 0)
                visit(b, p);
        pd_free(p);
        cpds_free(b);
        return b->r;
}
