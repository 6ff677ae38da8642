/* Tool allow/deny lists (issue 15): glob patterns (fnmatch(3), no flags) on
 * the qualified name SERVER__TOOL, site-wide and per user, from corral.json:
 *
 *   { "tools": { "allow": ["PATTERN", …], "deny": ["PATTERN", …],
 *                "default_denylist": true,
 *                "users": { "alice": { "allow": [...], "deny": [...] } } } }
 *
 * A tool is refused to a caller when
 *   1. any deny pattern matches it (the site's or the caller's user's): deny
 *      wins over every allow, for admins too;
 *   2. the site's allow list, or the user's, is not empty and none of its
 *      patterns matches (an allow list is a whitelist);
 *   3. the caller is not an admin, default_denylist is on (the default), it
 *      matches POLICY_DEFAULT_DENYLIST and no allow pattern (site or user)
 *      names it.
 * The gateway applies this to tools/list (the tool is left out) and to
 * tools/call (answered exactly like a tool that does not exist), on every
 * entry point, like permission levels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

#include "corral/error.h"

#define POLICY_MAX_PATTERNS 256 /* per list */
#define POLICY_MAX_USERS 4096
#define POLICY_MAX_PATTERN_BYTES 256

/* The shipped default denylist: tools whose names say they run commands,
 * write, delete or kill.  NULL-terminated. */
extern const char *const POLICY_DEFAULT_DENYLIST[];

typedef struct policy_rules {
        char **allow; /* NULL-terminated, NULL when none */
        char **deny;
} policy_rules;

typedef struct policy_user {
        char *user;
        policy_rules rules;
} policy_user;

typedef struct tool_policy {
        policy_rules site;
        policy_user *users;
        size_t n_users;
        bool default_denylist;
} tool_policy;

/* Fills *ret from config's "tools" (config may be NULL: no lists, the
 * default denylist on).  0, or -EX_CONFIG naming the key (unknown key, not
 * an array of strings, a pattern empty or over POLICY_MAX_PATTERN_BYTES, a
 * list over POLICY_MAX_PATTERNS, too many users).  *ret untouched on
 * failure; tool_policy_done() frees. */
int tool_policy_load(const cJSON *config, tool_policy *ret, corral_error *err);
void tool_policy_done(tool_policy *p);

/* Whether the caller (user NULL: anonymous; admin as the gateway judged it)
 * may list and call SERVER__TOOL.  p NULL allows everything but the default
 * denylist's rule 3. */
bool tool_policy_allows(const tool_policy *p, const char *user, bool admin, const char *server,
                        const char *tool);
