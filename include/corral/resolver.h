/* Resolver dispatch: a source spec becomes an installed server.  Each kind has
 * its own module under resolvers/; kinds not built yet fail with -EX_UNAVAILABLE
 * and a message naming the kind. */
#pragma once

#include <stdbool.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/spec.h"
#include "corral/store.h"

/* install_options.progress */
enum { INSTALL_PROGRESS_NONE, INSTALL_PROGRESS_TTY, INSTALL_PROGRESS_JSON };

typedef struct install_options {
        const char *spec;      /* as typed */
        const char *name;      /* --name, or NULL to derive from the spec */
        char **command;        /* argv after "--", or NULL */
        char **env;            /* KEY=VALUE list from --env, or NULL */
        char **secret_env;     /* KEY=VALUE kept in secrets.json "env" (0600), null in the
                                  manifest, filled in at start (expand.h); or NULL */
        char **image_args;     /* docker: the arguments after IMAGE of `docker run IMAGE
                                  ARGS`: in place of the image's Cmd, after its Entrypoint;
                                  or NULL */
        bool remote;           /* --remote */
        /* remote servers (resolvers/remote.c, include/corral/remote.h) */
        char **headers;        /* --header 'Name: value' lines, or NULL */
        char **secret_headers; /* --secret-header 'Name: value' (values read from stdin by
                                  the CLI, never argv), kept in secrets.json; or NULL */
        const char *transport; /* --transport http|sse, or NULL (http) */
        const char *sessions;  /* --sessions shared|per_user|per_user_or_shared, or NULL */
        bool insecure_http;    /* --insecure-http: plain http:// beyond loopback */
        bool force;            /* --force: replace an installed server of the same name */
        const char *sandbox;   /* --sandbox PROFILE or NULL */
        char **mounts;         /* --mount entries, normalized, appended to the site's */
        unsigned run_uid, run_gid; /* --run-as-owner: manifest sandbox.run_as; 0 = unset */
        bool dry_run;          /* --dry-run: *ret gets the manifest, nothing is committed */
        /* npm sources (resolvers/npm/, include/corral/npm.h) */
        const char *registry;  /* --registry URL or NULL */
        bool offline;          /* --offline: metadata and tarballs from the cache only */
        bool frozen;           /* --frozen: reinstall the installed server's lock exactly */
        bool allow_scripts;    /* --allow-scripts: npm install scripts, inside the sandbox */
        /* git sources (resolvers/git/, include/corral/git.h) */
        bool submodules;       /* --submodules: fetch https:// and git:// submodules */
        int progress;          /* INSTALL_PROGRESS_*: one line on a TTY, JSON events, none */
        /* `corral update`: the installed server being replaced (opt->force
         * must be set).  The new manifest takes its source, command and cwd
         * from the fetch and everything the admin chose from this one (env,
         * headers, sandbox policy and mounts, restart, enabled, owner,
         * access); its secrets.json travels along.  NULL for installs. */
        const manifest *update_from;
        /* registry, Smithery and MCPB sources (include/corral/registry.h) */
        char **sets;             /* --set KEY=VALUE inputs, or NULL */
        const char *config_file; /* --config FILE.json: more inputs, or NULL */
        const char *package_type; /* --package mcpb|npm|oci|remote, or NULL */
        bool interactive;        /* ask missing inputs on the terminal */
        bool sets_optional;      /* corral update: sets no input takes are not an error */
        /* Called once the code is fetched and the manifest filled, before the
         * commit (the store lock is held): 0 goes on, a negative sysexits code
         * with err set abandons the install.  NULL: no confirmation.  Used by
         * `corral install` to show the exact resolution and ask on a TTY;
         * it may add mounts to m (the answer "rw"). */
        int (*confirm)(manifest *m, void *userdata, corral_error *err);
        void *confirm_userdata;
} install_options;

/* Resolves, fetches into staging, writes the manifest and commits it to the
 * store (holding the store lock).  On success *ret (optional) receives the
 * installed manifest.  On failure nothing is left in the store. */
int resolver_install(store *s, const install_options *opt, manifest **ret, corral_error *err);

/* A resolver for one source kind: resolves spec, fetches and verifies the code
 * into pkg_dir (which does not exist yet), and fills m (command, resolved.*,
 * lock).  s gives the cache dir and paths.  Runs under the store lock, inside a
 * staging dir that is removed on failure.  Returns 0 or a negative sysexits
 * code with err set.  Registered in resolvers/resolver.c's table. */
typedef int (*resolver_fetch_fn)(store *s, const install_options *opt, const source_spec *spec,
                                 const char *pkg_dir, manifest *m, corral_error *err);

/* Local directories (resolvers/local.c): copies spec->name into pkg_dir and
 * fills m->command: the explicit command when given, else `node <bin>` from
 * package.json's "bin" (a string, the entry named after the package, or the
 * only entry), else the bin of the single dependency that has one (a
 * directory where `npm install PKG` was run).  The bin path is relative to
 * pkg_dir, the server's cwd.  Also sets m->resolved_version from the
 * package.json whose bin is used (or the top one with an explicit command).
 * Trees over 1 GiB or 200000 entries and special files are refused before
 * copying.  -EX_NOINPUT, -EX_DATAERR or -EX_USAGE (no or several candidate
 * commands: pass `-- CMD ARGS`). */
int resolver_local_fetch(const source_spec *spec, char *const *command, const char *pkg_dir,
                         manifest *m, corral_error *err);

/* The command of a Node package (resolvers/bin.c), shared by the local and
 * npm resolvers.  resolver_pick_bin() reads package.json's "bin" (pkg): a
 * string, an object's only entry, or the entry named after the package
 * (name without its scope; NULL: pkg's own "name").  BIN_ONE: *ret_bin
 * (owned) is the path as written; BIN_AMBIGUOUS: *ret_bin (owned) lists the
 * entry names ("a, b"); BIN_NONE: *ret_bin is NULL. */
typedef enum { RESOLVER_BIN_NONE, RESOLVER_BIN_ONE, RESOLVER_BIN_AMBIGUOUS } resolver_bin;
struct cJSON;
resolver_bin resolver_pick_bin(const struct cJSON *pkg, const char *name, char **ret_bin);
/* A bin path normalised inside its package ("./dist//index.js" →
 * "dist/index.js"); owned, or NULL when it is empty, absolute or uses "..". */
char *resolver_bin_path(const char *p);

/* Docker images (resolvers/docker.c): pulls docker:IMAGE[:TAG][@DIGEST]
 * through the engine (progress on stderr when it is a TTY), records the repo
 * digest in m->resolved_digest (starts then run IMAGE@digest, not the tag),
 * the tag in resolved_version and REGISTRY/REPOSITORY in resolved_url, sets
 * runtime.backend "docker" and the command: opt->command, else the image's
 * Entrypoint + Cmd.  pkg_dir gets only a marker file IMAGE naming the pinned
 * reference.  -EX_UNAVAILABLE (no engine, registry down), -EX_NOINPUT (no
 * such image or tag), -EX_DATAERR (no entrypoint/cmd and no command given,
 * digest mismatch), -EX_USAGE (bad reference). */
struct docker_ref;
int resolver_docker_fetch(store *s, const install_options *opt, const source_spec *spec,
                          const char *pkg_dir, manifest *m, corral_error *err);
/* Pulls ref and gives its repo digest ("sha256:…", owned) and, when
 * ret_command is not NULL, the image's Entrypoint + Cmd (owned, possibly
 * empty).  Used by the resolver and by `corral update`.  Errors as above. */
int resolver_docker_resolve(const struct docker_ref *ref, bool progress, char **ret_digest,
                            char ***ret_command, corral_error *err);
/* An image's Entrypoint followed by its Cmd from GET /images/{id}/json
 * (owned, NULL-terminated, possibly empty; at most 256 strings). */
char **resolver_docker_image_command(const struct cJSON *info);

/* Remote MCP servers (resolvers/remote.c): checks the URL (https://, or
 * http:// to loopback unless opt->insecure_http), sets runtime.backend
 * "remote", command [URL], transport and headers (secret values into
 * secrets.json beside the manifest, 0600), then probes the server with an
 * initialize and records serverInfo.version as resolved.version.  A 401
 * installs it all the same (the unit waits for `corral auth`); an
 * unreachable URL or an answer that is not MCP fails the install:
 * -EX_UNAVAILABLE, -EX_PROTOCOL, -EX_USAGE. */
int resolver_remote_fetch(store *s, const install_options *opt, const source_spec *spec,
                          const char *pkg_dir, manifest *m, corral_error *err);

/* smithery-hosted:QUALIFIED_NAME (resolvers/remote.c): GET
 * {CORRAL_SMITHERY_REGISTRY or https://registry.smithery.ai}/servers/NAME
 * (Bearer SMITHERY_API_KEY when set), the "http" connection's URL (else
 * deploymentUrl + "/mcp"), then as resolver_remote_fetch(); the spec stays
 * smithery-hosted:NAME and resolved.url is the endpoint.  -EX_NOINPUT (no
 * such server), -EX_NOPERM (key refused), -EX_UNAVAILABLE (not hosted, the
 * registry down), -EX_DATAERR (no deployment). */
int resolver_smithery_hosted_fetch(store *s, const install_options *opt, const source_spec *spec,
                                   const char *pkg_dir, manifest *m, corral_error *err);

/* npm packages (resolvers/npm/npm.c; contract in include/corral/npm.h). */
int resolver_npm_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err);
