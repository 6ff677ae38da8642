/* corral.json: site configuration (DESIGN.md, "Paths": /etc/corral/corral.json,
 * $XDG_CONFIG_HOME/corral/corral.json, or DIR/etc/corral.json with --root).
 * A missing file is an empty configuration.  Keys read here:
 *
 *   { "sandbox": { "profile": "default", "network": "none", "memory_mb": 512,
 *                  "pids": 256, "cpus": 1.0, "mounts": ["SRC[:DST][:ro]", …] } }
 *
 * sandbox.mounts are read-only: an entry ending ":rw" is refused (-EX_CONFIG),
 * since a site default reaches every server installed later (issue 18).
 *
 * "sandbox" gives the policy new installs start from (issue 4: "Policy lives in
 * the manifest (defaults from corral.json)"); --sandbox PROFILE still wins for
 * the profile.  Unknown keys inside "sandbox" are an error: a typo must not
 * loosen a policy.  Other top-level keys belong to other modules (the npm
 * resolver reads "registry" and "npm_metadata_max_age"; the download cache
 * "cache_max_size", include/corral/cache.h). */
#pragma once

#include <stdbool.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/paths.h"

#define CONFIG_MAX_BYTES (1u << 20)

/* Reads and parses p->config.  0 with *ret owned (NULL when the file does not
 * exist), or -EX_CONFIG naming the file and what is wrong (unreadable, over
 * CONFIG_MAX_BYTES, not a JSON object). */
int config_load(const corral_paths *p, cJSON **ret, corral_error *err);
/* config_load() of any path; expand false leaves ${VAR} references as
 * written (what `corral config get/set` show and change).  With expand,
 * string values are expanded (include/corral/expand.h) from the process
 * environment; an unset variable without a default is -EX_CONFIG naming
 * it and its key path. */
int config_read(const char *path, bool expand, cJSON **ret, corral_error *err);

/* Checks a whole configuration (may be NULL): every top-level key is one
 * a module reads (sandbox, docker, gateway, http, auth, users, registry,
 * npm, npm_metadata_max_age, cache_max_size, github_url, git_auth,
 * smithery, site, tools, audit, limits, management — a new key is added
 * here), the object-valued ones are objects, the "sandbox", "gateway",
 * "docker", "tools", "limits" and "management" objects pass their own
 * checks, and the members of "http" (its listen entries too), "metrics",
 * "management", "limits" (its rules too), "site", "audit" and "users" are
 * the ones their table knows, of its types: an unknown nested key is
 * -EX_CONFIG naming it dotted ("unknown key http.max_sesions").
 * 0 or -EX_CONFIG naming the key.  Used by `corral config` before every
 * write and by the daemon's hot reload. */
int config_validate(const cJSON *config, corral_error *err);

/* Applies config's "sandbox" defaults (config may be NULL) to m's sandbox
 * fields.  0, or -EX_CONFIG naming the key that is wrong (unknown key, wrong
 * type, profile or network not one of the known values, limits out of range:
 * memory_mb 1..1048576, pids 1..1000000, cpus > 0 and <= 1024, at most 64
 * mounts).  m is unchanged on failure. */
int config_apply_sandbox(const cJSON *config, manifest *m, corral_error *err);

/* ---- tables of known keys ------------------------------------------------
 * Each module that reads an object of corral.json describes its members in
 * one table (e.g. audit_config_keys in src/state/audit.h); config_validate()
 * and the module's own loader check the object against it, so a typo or a
 * key of a later corral is refused, never silently ignored. */
typedef enum {
        CONFIG_ANY = 0,  /* any JSON value (its owner checks it) */
        CONFIG_BOOL,
        CONFIG_NUMBER,   /* finite, within [min, max] unless both are 0 */
        CONFIG_STRING,
        CONFIG_STRINGS,  /* a string or an array of strings */
        CONFIG_OBJECT,   /* members checked against sub when it is set */
        CONFIG_ARRAY,    /* elements: objects checked against sub when it is set */
        CONFIG_MAP,      /* an object of free names, each value checked against sub[0]'s type */
} config_type;

typedef struct config_key {
        const char *name; /* NULL ends a table */
        config_type type;
        double min, max;
        const struct config_key *sub;
} config_key;

/* Checks the members of obj (may be NULL: nothing to check) against keys:
 * 0, or -EX_CONFIG "corral.json: unknown key PATH.KEY" or "corral.json:
 * PATH.KEY must be …" (the type and range), path being obj's dotted path
 * ("audit", "limits.rules[2]").  obj itself must be an object. */
int config_check_object(const cJSON *obj, const char *path, const config_key *keys,
                        corral_error *err);
/* The table of corral.json's object name ("http", "metrics", "management",
 * "limits", "site", "audit"), or NULL. */
const config_key *config_object_keys(const char *name);
