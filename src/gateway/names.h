/* The gateway's pure parts (src/gateway/names.c), kept apart from sessions and
 * transports so tests/unit/test_gateway.c can drive them without a supervisor:
 * pagination cursors, paged aggregation of the units' lists, and the owner
 * table that routes resource URIs (DESIGN.md, "Gateway"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

/* One unit's cached list, in install order.  Both fields borrowed. */
typedef struct gw_source {
        const char *server;
        const cJSON *items; /* array of MCP items; NULL = nothing */
} gw_source;

/* Cursors are opaque to clients (MCP 2025-11-25 server/utilities/pagination);
 * ours carry the offset into the aggregated list: "o:<decimal>".  encode's
 * result is owned; decode accepts exactly what encode produces and returns
 * false for anything else (the caller answers -32602). */
char *gw_cursor_encode(size_t offset);
bool gw_cursor_decode(const char *cursor, size_t *ret_offset);

/* One page of the aggregate of src[0..n) (in that order): {key: [items],
 * nextCursor?}.  Items are deep copies; with qualify their "name" becomes
 * SERVER__NAME (every other member kept as is).  Items without a string name
 * are skipped when qualifying.  cursor NULL starts at the beginning; an
 * offset past the end gives an empty page.  Returns an owned object, or NULL
 * when the cursor is invalid.  page_size 0 = GATEWAY_PAGE_SIZE. */
cJSON *gw_list_page(const gw_source *src, size_t n, const char *key, bool qualify,
                    const char *cursor, size_t page_size);

/* Whether uri can be an expansion of the RFC 6570 URI template tpl (levels
 * 1-4: operators none, '+', '#', '.', '/', ';', '?', '&'; any variable may be
 * undefined).  An expression matches nothing, or its operator's first
 * character and then a run of the characters its expansion can hold (no '/'
 * in simple, label, parameter and form values; no '?' or '#' in path
 * segments; no '#' in queries).  *ret_literal (may be NULL) gets the count of
 * the template's literal characters.  False for a malformed template or a
 * uri over GW_URI_MATCH_MAX bytes.  O(template length x uri length). */
#define GW_URI_MATCH_MAX 8192
bool gw_uri_template_match(const char *tpl, const char *uri, size_t *ret_literal);

/* The resource owner table: which server answers for a resource URI.
 * Resources are matched exactly; templates by RFC 6570 matching
 * (gw_uri_template_match(), the most literal characters first), then, for a
 * URI no template matches, by their literal prefix (the uriTemplate up to its
 * first '{'), longest prefix first; completion/complete refs also by their
 * literal uriTemplate.  The first source (the first-installed server) wins;
 * every URI listed by more than one server is a collision. */
typedef struct gw_owners gw_owners;

/* resources[i].items are arrays of MCP Resource ({uri, …}); templates[i].items
 * of ResourceTemplate ({uriTemplate, …}).  Copies what it keeps.  Owned. */
gw_owners *gw_owners_build(const gw_source *resources, size_t n_resources,
                           const gw_source *templates, size_t n_templates);
gw_owners *gw_owners_free(gw_owners *o);

/* The owner of a concrete URI: exact resource, else the template it
 * matches, else the template with the longest matching literal prefix.
 * Borrowed; NULL when nobody owns it. */
const char *gw_owners_lookup(const gw_owners *o, const char *uri);
/* The owner of a completion ref/resource uri: a uriTemplate given literally,
 * else as gw_owners_lookup(). */
const char *gw_owners_lookup_ref(const gw_owners *o, const char *uri);
/* [{uri, owner, shadowed:[servers…]}] sorted by uri (templates report their
 * uriTemplate as uri).  Owned. */
cJSON *gw_owners_collisions_json(const gw_owners *o);
