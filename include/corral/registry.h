/* The official MCP Registry (resolvers/registry/): API v0.1 reads
 * (GET /v0.1/servers, /v0.1/servers/{name}/versions/{version}), the inputs a
 * server.json asks for (environmentVariables, packageArguments,
 * runtimeArguments, remote headers and their {variables}), and the resolver
 * that picks one of a server's packages and hands it to the npm, docker,
 * MCPB or remote resolver (issue 13).  Spec: modelcontextprotocol/registry
 * docs/reference/api/openapi.yaml and server-json/server.schema.json. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/paths.h"
#include "corral/resolver.h"

#define REGISTRY_DEFAULT_URL "https://registry.modelcontextprotocol.io"
#define REGISTRY_MAX_URLS 8             /* configured registries */
#define REGISTRY_DOC_MAX (4u << 20)     /* one API answer, bytes */
#define REGISTRY_MAX_PACKAGES 64        /* packages[] + remotes[] looked at */
#define REGISTRY_MAX_INPUTS 128         /* arguments, variables, env, headers */
#define REGISTRY_VALUE_MAX 8192         /* one input value, bytes */
#define REGISTRY_SEARCH_PAGE 30         /* servers asked per page */
#define REGISTRY_SEARCH_MAX_PAGES 20    /* pages followed per registry */
#define REGISTRY_SEARCH_MAX_RESULTS 500 /* --limit's ceiling */

/* The registries to ask, in order (owned, NULL-terminated, never empty):
 * $CORRAL_MCP_REGISTRY (comma-separated base URLs) when set, else
 * corral.json's "mcp_registries" (an array of base URLs, or one string),
 * else REGISTRY_DEFAULT_URL.  Trailing slashes removed.  Each must be
 * https://, or http:// to loopback.  0 or -EX_CONFIG. */
int registry_urls(const corral_paths *paths, char ***ret, corral_error *err);

/* Where registry answers are cached (PATHS.cache/registry/: HASH.json, the
 * body of a 200, and HASH.meta, its URL and validators; HASH the SHA-256 of
 * the URL) and how they are used: within max_age seconds of being fetched
 * or revalidated, an answer is used without asking; after that it is
 * revalidated (If-None-Match / If-Modified-Since from the ETag and
 * Last-Modified the registry sent; a 304 makes it fresh again); offline
 * uses whatever is cached however old and never asks. */
typedef struct registry_cache {
        char *dir;     /* owned; NULL: nothing is cached */
        long max_age;  /* npm packuments' window: $CORRAL_NPM_METADATA_MAX_AGE,
                        * corral.json "npm_metadata_max_age", else 300 s */
        bool offline;  /* --offline */
} registry_cache;

/* Fills *c for the store at p.  0, or -EX_CONFIG (a bad max age). */
int registry_cache_init(registry_cache *c, const corral_paths *p, bool offline,
                        corral_error *err);
void registry_cache_done(registry_cache *c);

/* A blocking GET (http_fetch_blocking) through cache c (NULL: no cache; only
 * 200 answers are kept): 0 with the HTTP status and the body (owned,
 * NUL-terminated, at most max bytes, else -EX_DATAERR), or -EX_UNAVAILABLE
 * (no answer in 60 s; with c->offline, not in the cache) with err set.
 * headers are extra "Name: value" lines (may be NULL).  Refuses plain
 * http:// beyond loopback (-EX_USAGE).  Redirects are followed (at most 5,
 * never to http://). */
int registry_http_get(const registry_cache *c, const char *url, const char *const *headers,
                      size_t max, long *ret_status, char **ret_body, size_t *ret_len,
                      corral_error *err);

/* A blocking download of url into fd (written from its current offset): at
 * most max bytes (-EX_DATAERR past it), status 200 only (404 → -EX_NOINPUT,
 * others -EX_UNAVAILABLE).  *ret_sha256 (optional) gets the lower-case hex
 * SHA-256 of what was written (owned). */
int registry_http_download(const char *url, int fd, size_t max, char **ret_sha256,
                           corral_error *err);

/* "%XX"-escapes everything but unreserved characters (RFC 3986 §2.3); owned. */
char *registry_url_escape(const char *s);

/* GET {base}/v0.1/servers/{name}/versions/{version or "latest"} from each of
 * urls in turn; the first that has it wins.  *ret (owned) is the server
 * object ("server" of the answer; a bare server.json is accepted too) and
 * *ret_base (owned) the registry that answered.  -EX_NOINPUT (no registry
 * has it: the message names the registries asked), -EX_UNAVAILABLE (none
 * answered and none said 404), -EX_DATAERR (not a server.json). */
int registry_get_server(const registry_cache *c, char *const *urls, const char *name,
                        const char *version, cJSON **ret, char **ret_base, corral_error *err);

/* One registry search result. */
typedef struct registry_hit {
        char *name, *description, *version;
        char *types;    /* "npm, oci, remote": the package types offered */
        char *registry; /* base URL */
        char *install;  /* the spec that installs it: "registry:NAME", "smithery:NAME" */
} registry_hit;

/* GET {base}/v0.1/servers?search=TEXT&version=latest&limit=N&cursor=C on each
 * of urls, following metadata.nextCursor until limit hits in all (at most
 * REGISTRY_SEARCH_MAX_PAGES pages per registry).  *ret (owned array, *ret_n
 * entries; free with registry_hits_free()).  A registry that does not answer
 * is a warning on stderr unless none answers (-EX_UNAVAILABLE). */
int registry_search(const registry_cache *c, char *const *urls, const char *text, size_t limit,
                    registry_hit **ret, size_t *ret_n, corral_error *err);
void registry_hits_free(registry_hit *h, size_t n);
/* The package types a server.json offers ("mcpb, npm, remote"); owned. */
char *registry_package_types(const cJSON *server);

/* ---- inputs (resolvers/registry/inputs.c) ------------------------------ */

/* Where the values of a server's inputs come from: --set KEY=VALUE entries,
 * the --config FILE.json object, and, when interactive, questions on the
 * terminal (secrets without echo).  Keys: an environment variable's or
 * header's name, a named argument's name without leading dashes, a
 * positional argument's valueHint, a {variable}'s name. */
typedef struct registry_inputs {
        char **sets;         /* KEY=VALUE, borrowed */
        cJSON *config;       /* owned: the --config object, or NULL */
        bool interactive;
        bool *used_sets;     /* which sets were consumed */
        char **missing;      /* required inputs with no value, for the error */
        char **known;        /* every key asked about, for a typo's error */
        bool sets_optional;  /* a --set no input takes is not an error (corral update) */
        cJSON *record;       /* owned: every value given (--set, --config, the terminal;
                                not defaults) by key, a string or (repeated) an array */
        cJSON *secret_args;  /* borrowed, or NULL: where isSecret arguments' values go
                                ({"CORRAL_ARG_KEY": VALUE}, for secrets.json "env");
                                NULL refuses secret arguments */
} registry_inputs;

/* Loads opt->sets and opt->config_file (a JSON object of string, number or
 * boolean values, at most 1 MiB).  0, -EX_USAGE or -EX_NOINPUT. */
int registry_inputs_init(registry_inputs *in, const install_options *opt, corral_error *err);
void registry_inputs_done(registry_inputs *in);

/* Asks for key on the terminal (stderr; "KEY (DESCRIPTION) [DEFAULT]: ", the
 * default not shown for secrets) and reads one line from stdin, without echo
 * when secret.  The line without its newline (owned), def (copied) for an
 * empty line, NULL on EOF or an empty line without def. */
char *registry_ask(const char *key, const char *desc, const char *def, bool secret);

/* The value of input (a server.json Input / KeyValueInput / Argument object)
 * under key: --set, --config, the terminal, then "default"; for inputs with a
 * fixed "value" that value with its {variables} filled in the same way.
 * 1 with *ret (owned), 0 when it has no value (a required one is added to
 * in->missing), -EX_USAGE when a value is not one of "choices" or not a
 * "number"/"boolean" as "format" says. */
int registry_input_value(registry_inputs *in, const char *key, const cJSON *input, char **ret,
                         corral_error *err);

/* tmpl with each "{name}" that input's "variables" defines replaced by that
 * variable's value (as registry_input_value()).  1 with *ret (owned), 0
 * when a variable has no value, or registry_input_value()'s errors. */
int registry_template(registry_inputs *in, const char *tmpl, const cJSON *input, char **ret,
                      corral_error *err);

/* After every input was asked for: -EX_USAGE listing in->missing ("missing
 * required values: A, B (give them with --set KEY=VALUE or --config
 * FILE.json)"), or naming a --set/--config key no input has; else 0. */
int registry_inputs_finish(registry_inputs *in, corral_error *err);

/* Appends a package's arguments (packageArguments or runtimeArguments
 * array) to *argv: positional ones as their value, named ones as NAME VALUE
 * (NAME alone for a boolean "true"); inputs without a value and not required
 * are left out.  An isRepeated one takes every --set KEY=VALUE given for it
 * (or a --config array) and appears once per value.  Values are written for
 * a manifest's command line, which is expanded at start (expand.h): "$"
 * doubled, and an isSecret argument's value stored in in->secret_args under
 * "CORRAL_ARG_" + its key upper-cased (unique) and written as "${THAT}".
 * 0, or registry_input_value()'s errors; a secret argument when
 * in->secret_args is NULL is -EX_USAGE. */
int registry_args_append(registry_inputs *in, const cJSON *args, char ***argv, corral_error *err);

/* ---- runtimeArguments (resolvers/registry/runtime_args.c) --------------- */

/* An npm package's runtimeArguments (rt, as registry_args_append() wrote
 * them) for runtimeHint hint (NULL: npx): npx's own options (-y, --yes,
 * --quiet, …) are left out with a note, `--node-options "…"` and node's
 * options that tune the runtime (--max-old-space-size, --stack-size,
 * --enable-source-maps, --no-warnings, --experimental-*, …; NAME VALUE
 * joined as NAME=VALUE) go to *ret_flags (owned, NULL when none), to be put
 * between node and the script; this host's node is asked to take them
 * (`node FLAGS --version`).  Anything else (options that run other code
 * such as -r, --import, -e, --inspect; npx's --package) is -EX_UNAVAILABLE
 * naming each; so is a runtimeHint other than npx or node. */
int registry_npm_runtime_args(char *const *rt, const char *hint, char ***ret_flags,
                              corral_error *err);

/* An oci package's runtimeArguments (`docker run` options) onto m: -e/--env
 * KEY=VALUE → runtime.env (a KEY already there — --env, environmentVariables
 * — wins; -e KEY needs one there; a secret argument's ${CORRAL_ARG_…}
 * holding KEY=VALUE moves to secrets[KEY], env null), -v SRC:DST[:ro|rw] and
 * --mount type=bind,… with an existing absolute host path → m->mounts,
 * read-only unless rw, --network none (anything else needs the sandbox
 * policy's "host"), --memory/--cpus/--pids-limit lower the limits (higher
 * ones keep the policy's, with a note); -i, -t, --rm, -d, --name, -p, -P,
 * --init, --read-only, … are left out with a note.  Anything else
 * (--privileged, --cap-add, --user, --entrypoint, named volumes, unknown
 * options) is -EX_UNAVAILABLE listing every one. */
int registry_oci_runtime_args(char *const *rt, cJSON *secrets, manifest *m, corral_error *err);

/* ---- Smithery (resolvers/registry/smithery*.c) -------------------------- */

/* Reads a Smithery stdio connection's stdioFunction without running it:
 * only `[async] (param) => ({command, args, env})` (or a function whose body
 * is one return of that object) with string literals and param.FIELD /
 * param["FIELD"] values.  *ret (owned): {"command": "npx", "args": [ITEM…],
 * "env": {"KEY": ITEM}}, ITEM a string or {"config": "FIELD"}.  At most 64
 * KiB of source, 64 args and 64 env keys.  0, -EX_UNAVAILABLE naming what
 * it would have to evaluate, -EX_DATAERR (none, too long). */
int smithery_read_stdio_function(const char *src, cJSON **ret, corral_error *err);

/* ---- the resolver (resolvers/registry/registry.c) ---------------------- */

/* resolver_fetch_fn for SPEC_REGISTRY: fetches the server.json, picks a
 * package (opt->package_type, else corral.json "registry_package_order",
 * else mcpb, npm, oci, remote), fills its inputs and installs it through the
 * npm, docker, MCPB or remote resolver into pkg_dir.  Environment values
 * marked isSecret go to secrets.json beside the manifest ("env"), the
 * manifest's runtime.env holding null for them.  m's source.registry records
 * the registry, server name and version and the chosen package.  Errors:
 * -EX_NOINPUT, -EX_UNAVAILABLE (nothing installable: the message lists the
 * package types offered), -EX_USAGE (missing inputs), and the delegate's. */
int resolver_registry_fetch(store *s, const install_options *opt, const source_spec *spec,
                            const char *pkg_dir, manifest *m, corral_error *err);

/* Writes {"env": env} into the staging dir of pkg_dir (secrets.json, 0600),
 * merging with what is there.  env consumed.  0 or -EX_CANTCREAT. */
int registry_write_secret_env(const char *pkg_dir, cJSON *env, corral_error *err);

/* Writes {"inputs": in->record} into the staging dir's secrets.json (0600:
 * secret values among them), so that `corral update` can give the same
 * values again (registry_update_sets()).  0 or -EX_CANTCREAT. */
int registry_write_inputs(const char *pkg_dir, const registry_inputs *in, corral_error *err);

/* ---- upgrades (resolvers/registry/update.c) ----------------------------- */

/* What the registry recorded in m (source.registry.url) offers now for m's
 * server: *ret_latest the latest version's "version", *ret_wanted the
 * version m's spec pins (registry:NAME@VERSION) or else the latest (both
 * owned).  The answer is revalidated (no freshness window).  0,
 * -EX_DATAERR (m is not a registry: install), or registry_get_server()'s
 * errors. */
int registry_available(store *s, const manifest *m, char **ret_wanted, char **ret_latest,
                       corral_error *err);

/* The inputs m's install was given (secrets.json "inputs" beside it) as
 * KEY=VALUE entries (owned; NULL when none), for install_options.sets. */
char **registry_update_sets(store *s, const manifest *m);

/* ---- Smithery (resolvers/registry/smithery.c) -------------------------- */

/* resolver_fetch_fn for SPEC_SMITHERY: GET {registry}/servers/{name}
 * ($CORRAL_SMITHERY_REGISTRY, corral.json "smithery_registry", else
 * https://registry.smithery.ai; bearer $SMITHERY_API_KEY or corral.json
 * "smithery_api_key", never logged), then the first of: a stdio
 * connection's bundleUrl (an MCPB bundle; its configSchema properties are
 * asked as inputs and feed the bundle's user_config), a stdio connection
 * whose stdioFunction runs `npx PACKAGE` and takes no configuration (the npm
 * resolver), an http connection (resolver_smithery_hosted_fetch()).
 * opt->package_type (mcpb, npm, remote) chooses.  -EX_NOINPUT,
 * -EX_NOPERM, -EX_UNAVAILABLE (nothing installable), and the delegate's. */
int resolver_smithery_fetch(store *s, const install_options *opt, const source_spec *spec,
                            const char *pkg_dir, manifest *m, corral_error *err);

#define SMITHERY_SEARCH_PAGE 30 /* servers asked per page (the API allows 100) */

/* `corral search` in Smithery: GET {registry}/servers?q=TEXT&page=P&pageSize=N
 * (registry and key as resolver_smithery_fetch() finds them) through cache
 * c, following pagination.currentPage/totalPages until limit hits (at most
 * REGISTRY_SEARCH_MAX_PAGES pages).  Hits (appended to *hits, *n entries):
 * qualifiedName, description, version "-", types "remote" (remote: true) or
 * "local", install "smithery:NAME".  Smithery is asked only when a Smithery
 * API key or registry is configured ($SMITHERY_API_KEY, corral.json
 * "smithery_api_key", $CORRAL_SMITHERY_REGISTRY, "smithery_registry"): 1
 * when it is not, 0 when it answered, -EX_NOPERM (key refused),
 * -EX_UNAVAILABLE, -EX_DATAERR (not a server list), -EX_CONFIG. */
int smithery_search(const store *s, const registry_cache *c, const char *text, size_t limit,
                    registry_hit **hits, size_t *n, corral_error *err);
