/* Permission levels (DESIGN.md, "Gateway", Identity): public < trusted <
 * anchor.  A stdio or unix-socket session is anchor; each HTTP listener has a
 * configured level (default public); a user's level comes from corral.json
 * "users" or a token claim; a caller's effective level is
 * min(interface, user).  Servers and their tools carry a minimum level. */
#pragma once

typedef enum corral_level {
        CORRAL_LEVEL_PUBLIC = 0,
        CORRAL_LEVEL_TRUSTED = 1,
        CORRAL_LEVEL_ANCHOR = 2,
} corral_level;

/* The default minimum level of an installed server and its tools. */
#define CORRAL_LEVEL_DEFAULT CORRAL_LEVEL_TRUSTED

/* "public", "trusted" or "anchor" (static string); "?" for anything else. */
const char *corral_level_name(corral_level level);
/* Parses one of the names above into *ret_level (untouched on failure).
 * 0, or -1 for NULL or any other string. */
int corral_level_parse(const char *name, corral_level *ret_level);

static inline corral_level corral_level_min(corral_level a, corral_level b)
{
        return a < b ? a : b;
}
