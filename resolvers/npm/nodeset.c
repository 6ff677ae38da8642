/* Sets of tree nodes for the tree builder (tree.c, place.c): members in
 * insertion order (arborist iterates its Sets that way, and some of its
 * loops grow the set they walk), membership by an open-addressing hash of
 * the pointer. */
#include <stdint.h>
#include <string.h>

#include "corral/strbuf.h"
#include "tree_internal.h"

static size_t slot_of(const nodeset *s, const npm_node *n)
{
        size_t h = ((uintptr_t)n >> 4) * 0x9E3779B97F4A7C15ull;
        size_t i = h & (s->n_slots - 1);
        while (s->slots[i] && s->slots[i] != n)
                i = (i + 1) & (s->n_slots - 1);
        return i;
}

bool nodeset_has(const nodeset *s, const npm_node *n)
{
        return s->n_slots && s->slots[slot_of(s, n)] == n;
}

/* Rebuilds the slots for the current members, at least twice as many. */
static void rehash(nodeset *s)
{
        size_t want = 16;
        while (want < s->n * 2 + 2)
                want *= 2;
        if (want != s->n_slots) {
                free(s->slots);
                s->n_slots = want;
                s->slots = xcalloc(want, sizeof(*s->slots));
        } else {
                memset(s->slots, 0, want * sizeof(*s->slots));
        }
        for (size_t i = 0; i < s->n; i++)
                s->slots[slot_of(s, s->v[i])] = s->v[i];
}

bool nodeset_add(nodeset *s, npm_node *n)
{
        if (nodeset_has(s, n))
                return false;
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 8;
                s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
        }
        s->v[s->n++] = n;
        if ((s->n + 1) * 2 > s->n_slots)
                rehash(s);
        else
                s->slots[slot_of(s, n)] = n;
        return true;
}

void nodeset_del(nodeset *s, npm_node *n)
{
        if (!nodeset_has(s, n))
                return;
        size_t j = 0;
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i] != n)
                        s->v[j++] = s->v[i];
        s->n = j;
        rehash(s);
}

void nodeset_done(nodeset *s)
{
        free(s->v);
        free(s->slots);
        memset(s, 0, sizeof(*s));
}

