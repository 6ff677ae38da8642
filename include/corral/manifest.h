/* manifest.json version 1 (DESIGN.md, "manifest.json"): what is installed,
 * from where, how to run it, and under which sandbox policy. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/level.h"

#define MANIFEST_VERSION 1
#define MANIFEST_MAX_BYTES (4u << 20) /* cap on a manifest file read from disk */
/* runtime.session_idle_s and runtime.sessions_max (users' sessions, issue 15) */
#define MANIFEST_SESSION_IDLE_MIN 2u
#define MANIFEST_SESSION_IDLE_MAX 86400u
#define MANIFEST_SESSIONS_MAX 1024u

typedef struct manifest_lock_entry {
        char *name;
        char *version;
        char *integrity; /* may be NULL */
        char *resolved;  /* where it came from (npm: tarball URL); may be NULL */
        char *path;      /* where it sits under pkg/ (npm: node_modules/a/node_modules/b); may be NULL */
        /* npm: what its package-lock would say to reproduce the tree on
         * another host: an optional package (only optional paths lead to
         * it), its os/cpu/libc lists (NULL = any), and whether this host
         * left it out (inert: its platform or engines do not fit here). */
        bool optional, inert;
        char **os, **cpu, **libc;
} manifest_lock_entry;

typedef struct manifest_env {
        char *key;
        char *value; /* runtime.env: NULL (JSON null) = a secret kept in secrets.json
                        beside the manifest, {"env": {KEY: VALUE}} */
} manifest_env;

/* access.tools: one tool's own minimum level. */
typedef struct manifest_tool_access {
        char *tool;
        corral_level level;
} manifest_tool_access;

typedef struct manifest {
        char *name;
        /* source */
        char *spec;              /* as given to install */
        char *kind;              /* spec_kind_name() */
        char *resolved_version;  /* NULL = JSON null */
        char *resolved_url;
        char *resolved_integrity;
        char *resolved_commit;
        char *resolved_digest;
        manifest_lock_entry *lock;
        size_t n_lock;
        char **scripts_skipped; /* source.scripts_skipped: packages whose install scripts were
                                   not run (NULL-terminated; NULL = none) */
        char **engines_unmet;   /* source.engines_unmet: "NAME@VERSION wants node RANGE" for
                                   packages installed although no version suited this node
                                   (NULL = none) */
        /* source.registry: where a registry:, smithery: or mcpb package came
         * from (NULL when not from a registry): the registry's base URL, the
         * server's name and version there, the package type chosen (mcpb,
         * npm, oci, remote) and its identifier (package name, image, URL). */
        char *registry_url, *registry_name, *registry_version, *registry_package,
                *registry_identifier;
        /* runtime */
        char *backend;  /* "native" (default), "docker", "remote" */
        char **command; /* NULL-terminated argv, at least one element */
        manifest_env *env; /* a NULL value (JSON null) is a secret kept in secrets.json
                              "env" and filled in at start (include/corral/expand.h) */
        size_t n_env;
        char *cwd;      /* relative to the server dir; default "pkg" */
        /* remote backend (include/corral/remote.h): command is [URL];
         * runtime.transport "http" (Streamable HTTP, SSE fallback) or "sse";
         * runtime.headers sent with every request, a NULL value (JSON null)
         * meaning a secret kept in secrets.json. */
        char *transport; /* NULL unless backend is remote */
        /* runtime.sessions of a global remote server in a system-mode store
         * (issue 15): "per_user" (each calling user's own session and
         * token), "per_user_or_shared" (the unit's own session for users
         * without a token), "shared" (one session, the daemon's token);
         * NULL: not set (per_user, README "Remote servers"). */
        char *sessions;
        /* runtime.session_idle_s: a user's session unused this long is
         * closed (MANIFEST_SESSION_IDLE_MIN…MAX; 0 = not set: 600);
         * runtime.sessions_max: users' sessions open at once per server
         * (1…MANIFEST_SESSIONS_MAX; 0 = not set: 64).  Read live: a change
         * applies on reload without a restart. */
        unsigned session_idle_s, sessions_max;
        manifest_env *headers;
        size_t n_headers;
        /* sandbox policy */
        char *profile;  /* "default", "strict", "log", "none" */
        char *network;  /* "none", "host" */
        char *code;     /* "overlay", "readonly"; NULL = by profile (manifest_code()) */
        char **mounts;  /* NULL-terminated, may be empty */
        unsigned memory_mb;
        unsigned pids;
        /* sandbox.run_as {"uid", "gid"}: the host ids the native sandbox
         * runs the server as instead of its derived private uid (install
         * --run-as-owner: the owner of a read-write mount the filesystem
         * cannot idmap).  0 = not set; root (0) is never a value. */
        unsigned run_uid, run_gid;
        double cpus;
        /* lifecycle */
        char *restart;  /* "on-failure" (default), "always", "no" */
        bool enabled;
        char *owner;    /* NULL = global */
        /* access: {"level": L, "tools": {TOOL: L}} — the least permission
         * level that reaches the server (default trusted) and, per tool, a
         * level that replaces it for that tool (DESIGN.md, "Gateway"). */
        corral_level access_level;
        manifest_tool_access *tool_access;
        size_t n_tool_access;
        char *installed_at;   /* RFC 3339 UTC */
        char *corral_version;
} manifest;

/* A manifest with the defaults of DESIGN.md filled in (backend native, cwd
 * "pkg", profile default, network none, 512 MiB, 256 pids, 1.0 cpus, restart
 * on-failure, enabled, installed_at now, corral_version this build). */
manifest *manifest_new(const char *name);
manifest *manifest_free(manifest *m);
/* The level a tool needs: its access.tools entry, else the server's level. */
corral_level manifest_tool_level(const manifest *m, const char *tool);
/* Sets the server's level (tool NULL) or one tool's; 0. */
int manifest_set_access(manifest *m, const char *tool, corral_level level);

/* How a native sandbox shows the server its pkg/: "overlay" (writable, the
 * changes kept in data/NAME/overlay/, the host's pkg/ untouched) or
 * "readonly".  m->code when set, else "readonly" for the strict profile and
 * "overlay" for the others. */
const char *manifest_code(const manifest *m);

/* The value of secret environment variable key (a runtime.env entry whose
 * value is null) from server_dir/secrets.json's "env" object; owned, or
 * NULL when the file or the key is missing. */
char *manifest_secret_env(const char *server_dir, const char *key);

/* Parses and validates JSON text (len bytes, need not be NUL-terminated).
 * Returns 0 with *ret owned by the caller, or -EX_DATAERR naming the field that
 * is wrong (unknown manifest_version, invalid name, empty command, …). */
int manifest_parse(manifest **ret, const char *json, size_t len, corral_error *err);
/* manifest_parse() on a file; -EX_NOINPUT when it does not exist. */
int manifest_load(manifest **ret, const char *path, corral_error *err);
/* The manifest as a cJSON object in the manifest.json v1 shape (absent
 * resolved fields as null); owned by the caller (cJSON_Delete()).  Used for
 * `--json` output and by manifest_format(). */
cJSON *manifest_to_json(const manifest *m);
/* Pretty-printed JSON text with a trailing newline; owned. */
char *manifest_format(const manifest *m);
/* Writes manifest_format() atomically (temp + rename), mode 0644.
 * 0 or -EX_CANTCREAT. */
int manifest_save(const manifest *m, const char *path, corral_error *err);
/* True when both describe the same thing to run (everything except enabled and
 * installed_at): used by reload to decide whether a unit restarts. */
bool manifest_same_runtime(const manifest *a, const manifest *b);
/* Whether a and b give the same "access" (the server's level and every
 * tool's, in any order): when not, callers of other levels see other lists. */
bool manifest_same_access(const manifest *a, const manifest *b);
