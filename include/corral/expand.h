/* `${VAR}` expansion (issue 16): in imported client configs, corral.json and
 * a manifest's runtime.env values and command arguments.
 *
 *   ${NAME}            the variable's value; an error when it is unset
 *   ${NAME:-default}   the value, or default when unset or empty (POSIX
 *                      sh's ":-"; default is literal text up to the "}")
 *   $$                 a literal "$"
 *
 * A "$" followed by anything else is kept as it is ("$HOME" stays "$HOME":
 * no shell runs, and only the braced form is a reference).  NAME is
 * [A-Za-z_][A-Za-z0-9_]* (at most EXPAND_NAME_MAX bytes); VS Code's
 * "${input:ID}" is handled by the importer before this (a ':' right after
 * the name other than ":-" is an error here).  Nothing is expanded twice: a
 * value or default that contains "${" is inserted as it is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/paths.h"

#define EXPAND_NAME_MAX 128
#define EXPAND_MAX_BYTES (64u << 10) /* cap on an input and on a result */
#define EXPAND_MAX_REFS 256          /* references in one string */

/* The value of name, or NULL when unset.  ud is the caller's. */
typedef const char *(*expand_lookup_fn)(void *ud, const char *name);

/* Expands s into *ret (owned).  0, or -EX_DATAERR with err naming the
 * variable ("${TOKEN} is not set and has no default") or the fault
 * (unterminated "${", a bad name, input or result over EXPAND_MAX_BYTES);
 * *ret is untouched on failure. */
int expand_vars(const char *s, expand_lookup_fn lookup, void *ud, char **ret, corral_error *err);

/* Whether s holds anything expand_vars() would change ("${" or "$$"). */
bool expand_needed(const char *s);

/* getenv(3) as an expand_lookup_fn (ud unused). */
const char *expand_getenv(void *ud, const char *name);

/* Expands every string value (not the keys) of the JSON tree j in place.
 * what names the document in errors ("corral.json"); the key path of the
 * failing string is added ("corral.json: http.public_url: ${HOST} is not
 * set …").  0 or -EX_DATAERR. */
int expand_json(cJSON *j, const char *what, expand_lookup_fn lookup, void *ud, corral_error *err);

/* What a unit runs, with its secrets and references filled in: a copy of m
 * where every runtime.env entry whose value is null (a secret) takes its
 * value from servers/NAME/secrets.json {"env": {KEY: VALUE}}, and every
 * other env value and command argument after the first is expanded with
 * the server's secrets first, then the process environment (the daemon's)
 * — except for a user's own server (m->owner set, system mode), whose
 * references read its secrets only.
 * *ret is NULL when m needs none of this (use m itself), else owned
 * (manifest_free()).  -EX_CONFIG naming the server and the secret or
 * variable that is missing. */
int expand_manifest(const manifest *m, const corral_paths *paths, manifest **ret,
                    corral_error *err);
