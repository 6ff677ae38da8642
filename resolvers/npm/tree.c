/* The hoisted node_modules tree, built the way npm >= 7 (arborist) builds an
 * ideal tree: nodes are visited by depth then path, each node's dependencies
 * in name order; a dependency reuses the copy visible from its dependent when
 * that satisfies the range, else goes to the highest ancestor where it neither
 * conflicts with another version of the same name nor shadows a copy some
 * descendant already resolved to. */
#include <string.h>

#include "corral/npm.h"
#include "corral/semver.h"
#include "corral/strbuf.h"

/* Orders names and paths like localeCompare does for npm's ASCII names:
 * punctuation before digits before letters. */
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

static int name_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                if (!*a || !*b)
                        return (unsigned char)*a - (unsigned char)*b;
                int d = rank((unsigned char)*a) - rank((unsigned char)*b);
                if (d)
                        return d;
        }
}

static npm_node *node_new(const char *name, const npm_version *v, npm_node *parent)
{
        npm_node *n = xcalloc(1, sizeof(*n));
        n->name = name;
        n->v = v;
        n->parent = parent;
        if (!parent)
                n->path = xstrdup("");
        else if (!parent->path[0])
                n->path = xasprintf("node_modules/%s", name);
        else
                n->path = xasprintf("%s/node_modules/%s", parent->path, name);
        n->depth = parent ? parent->depth + 1 : 0;
        if (parent) {
                size_t i = 0;
                while (i < parent->n_children && name_cmp(parent->children[i]->name, name) < 0)
                        i++;
                parent->children = xrealloc(parent->children,
                                            (parent->n_children + 1) * sizeof(*parent->children));
                memmove(parent->children + i + 1, parent->children + i,
                        (parent->n_children - i) * sizeof(*parent->children));
                parent->children[i] = n;
                parent->n_children++;
        }
        return n;
}

npm_node *npm_tree_free(npm_node *n)
{
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_children; i++)
                npm_tree_free(n->children[i]);
        free(n->children);
        free(n->edge_names);
        free(n->edge_targets);
        free(n->path);
        free(n);
        return NULL;
}

static npm_node *child_named(const npm_node *n, const char *name)
{
        for (size_t i = 0; i < n->n_children; i++)
                if (strcmp(n->children[i]->name, name) == 0)
                        return n->children[i];
        return NULL;
}

static void add_edge(npm_node *from, const char *name, npm_node *to)
{
        from->edge_names = xrealloc(from->edge_names, (from->n_edges + 1) * sizeof(char *));
        from->edge_targets = xrealloc(from->edge_targets, (from->n_edges + 1) * sizeof(npm_node *));
        from->edge_names[from->n_edges] = name;
        from->edge_targets[from->n_edges] = to;
        from->n_edges++;
}

static bool in_subtree(const npm_node *x, const npm_node *top)
{
        for (; x; x = x->parent)
                if (x == top)
                        return true;
        return false;
}

/* Would a new child NAME of top hide, from some node under top, the copy that
 * node already resolved NAME to (which sits above top)? */
static bool would_shadow(const npm_node *n, const npm_node *top, const char *name)
{
        for (size_t i = 0; i < n->n_edges; i++)
                if (strcmp(n->edge_names[i], name) == 0 && !in_subtree(n->edge_targets[i], top))
                        return true;
        for (size_t i = 0; i < n->n_children; i++)
                if (would_shadow(n->children[i], top, name))
                        return true;
        return false;
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

/* Does node n satisfy the edge (name, range)?  Ranges that are not semver
 * ranges are dist-tags: n satisfies them when it is the version they pick. */
static bool satisfies(const npm_node *n, const char *range, npm_pick_fn pick, void *ud)
{
        _cleanup_free_ char *real = NULL;
        _cleanup_free_ char *inner = NULL;
        split_alias(range, &real, &inner);
        if (real) {
                if (strcmp(n->v->name, real) != 0)
                        return false;
                range = inner;
        } else if (strcmp(n->v->name, n->name) != 0) {
                return false;
        }
        semver_range *sr = NULL;
        corral_error e = {0};
        if (semver_range_parse(&sr, range, &e) >= 0) {
                semver v;
                bool ok = false;
                if (semver_parse(&v, n->v->version, true) >= 0) {
                        ok = semver_range_test(sr, &v, false);
                        semver_done(&v);
                }
                semver_range_free(sr);
                return ok;
        }
        const npm_version *t = NULL;
        corral_error e2 = {0};
        if (pick(ud, real ? real : n->name, range, &t, &e2) <= 0)
                return false;
        return strcmp(t->version, n->v->version) == 0;
}

static int dep_cmp(const void *a, const void *b)
{
        const npm_dep *x = *(const npm_dep *const *)a, *y = *(const npm_dep *const *)b;
        return name_cmp(x->name, y->name);
}

static int place_deps(npm_node *f, npm_pick_fn pick, void *ud, size_t *count, size_t max,
                      corral_error *err)
{
        const npm_version *v = f->v;
        if (v->n_deps == 0)
                return 0;
        _cleanup_free_ const npm_dep **deps = xcalloc(v->n_deps, sizeof(*deps));
        size_t nd = 0;
        for (size_t i = 0; i < v->n_deps; i++) {
                /* A name listed twice (dependencies and optionalDependencies)
                 * counts once, as the later kind, as npm does. */
                size_t j = 0;
                while (j < nd && strcmp(deps[j]->name, v->deps[i].name) != 0)
                        j++;
                deps[j] = &v->deps[i];
                if (j == nd)
                        nd++;
        }
        qsort(deps, nd, sizeof(*deps), dep_cmp);

        for (size_t i = 0; i < nd; i++) {
                const npm_dep *d = deps[i];
                npm_node *start = d->kind == NPM_DEP_PEER && f->parent ? f->parent : f;
                npm_node *visible = NULL;
                for (npm_node *l = start; l && !visible; l = l->parent)
                        visible = child_named(l, d->name);
                if (visible && satisfies(visible, d->range, pick, ud)) {
                        add_edge(f, d->name, visible);
                        continue;
                }
                _cleanup_free_ char *real = NULL;
                _cleanup_free_ char *inner = NULL;
                split_alias(d->range, &real, &inner);
                const npm_version *pv = NULL;
                corral_error perr = {0};
                int r = pick(ud, real ? real : d->name, real ? inner : d->range, &pv, &perr);
                if (r < 0 && d->kind != NPM_DEP_OPTIONAL) {
                        *err = perr;
                        return r;
                }
                if (r <= 0 || !pv->platform_ok) {
                        if (d->kind == NPM_DEP_OPTIONAL)
                                continue;
                        if (r == 0) {
                                *err = perr;
                                corral_error_prefix(err, "%s@%s depends on %s@%s", v->name,
                                                    v->version, d->name, d->range);
                                return -EX_NOINPUT;
                        }
                }
                /* Highest level reachable from start without meeting another
                 * copy of the name or shadowing one a descendant uses. */
                npm_node *target = NULL;
                npm_node *reuse = NULL;
                for (npm_node *l = start; l; l = l->parent) {
                        npm_node *there = child_named(l, d->name);
                        if (there) {
                                if (strcmp(there->v->version, pv->version) == 0 &&
                                    strcmp(there->v->name, pv->name) == 0)
                                        reuse = there;
                                break;
                        }
                        if (would_shadow(l, l, d->name))
                                break;
                        target = l;
                }
                if (reuse && !target) {
                        add_edge(f, d->name, reuse);
                        continue;
                }
                if (!target)
                        target = f;
                if (child_named(target, d->name)) {
                        /* A peer that conflicts beside its dependent goes under it. */
                        target = f;
                        if (child_named(target, d->name))
                                return corral_error_set(err, EX_DATAERR,
                                                        "cannot place %s@%s under %s: conflict",
                                                        d->name, pv->version, f->path);
                }
                if (++*count > max)
                        return corral_error_set(err, EX_DATAERR,
                                                "refusing the install: more than %zu packages",
                                                max);
                npm_node *n = node_new(d->name, pv, target);
                add_edge(f, d->name, n);
        }
        return 0;
}

static void collect(npm_node *n, npm_node ***all, size_t *na)
{
        *all = xrealloc(*all, (*na + 1) * sizeof(**all));
        (*all)[(*na)++] = n;
        for (size_t i = 0; i < n->n_children; i++)
                collect(n->children[i], all, na);
}

int npm_tree_build(npm_node **ret, const npm_version *root_v, npm_pick_fn pick, void *userdata,
                   size_t max_nodes, corral_error *err)
{
        npm_node *root = node_new(root_v->name, root_v, NULL);
        size_t count = 0;
        int r = 0;
        /* The next node is always the unvisited one of least (depth, path),
         * since placing a dependency may add a node above the current depth. */
        for (;;) {
                _cleanup_free_ npm_node **all = NULL;
                size_t na = 0;
                collect(root, &all, &na);
                npm_node *next = NULL;
                for (size_t i = 0; i < na; i++) {
                        npm_node *c = all[i];
                        if (c->visited)
                                continue;
                        if (!next || c->depth < next->depth ||
                            (c->depth == next->depth && name_cmp(c->path, next->path) < 0))
                                next = c;
                }
                if (!next)
                        break;
                next->visited = true;
                r = place_deps(next, pick, userdata, &count, max_nodes, err);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                npm_tree_free(root);
                return r;
        }
        *ret = root;
        return 0;
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
