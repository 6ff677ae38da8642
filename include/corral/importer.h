/* Client configs → corral installs (issue 16, `corral import`).  Reads the
 * MCP server lists other clients keep and maps each entry to what
 * `corral install` takes; nothing here touches the store.
 *
 * Formats (detected from the document's shape):
 *   {"mcpServers": {NAME: ENTRY}}            Claude Desktop
 *                                            (claude_desktop_config.json),
 *                                            Cursor (mcp.json), Claude Code
 *                                            (.mcp.json, ~/.claude.json)
 *   {"servers": {NAME: ENTRY}, "inputs": []}  VS Code mcp.json
 *   {"mcp": {"servers": …, "inputs": …}}      VS Code settings.json
 *   {"mcpServers": …, "projects": {DIR: {"mcpServers": …}}}
 *                                            Claude Code's ~/.claude.json:
 *                                            the top level (user scope) and
 *                                            projects[ctx->project] (local
 *                                            scope, which wins on a name
 *                                            both have, as in Claude Code)
 * ENTRY: {"command", "args", "env", "envFile", "cwd", "type", "url",
 * "headers", "disabled"}; other keys are reported and ignored.  "envFile"
 * (VS Code) is a dotenv file (KEY=VALUE lines, '#' comments, optional
 * "export ", '…' or "…" quoting; at most 64 KiB) read relative to base_dir;
 * "env" wins over it.
 *
 * Mapping:
 *   npx [-y] PKG[@V] ARGS      → npm:PKG[@V] with ARGS after the bin
 *   docker|podman run … IMAGE ARGS
 *                              → docker:IMAGE, ARGS in place of the image's
 *                                Cmd; -e/--env → env, -v/--volume and
 *                                --mount type=bind → mounts; flags that
 *                                would weaken confinement (--privileged,
 *                                --network host, --cap-add, …) and flags
 *                                with no meaning under corral (--rm, -i,
 *                                --name, …) are reported and dropped
 *   node|python3|… /path/script ARGS
 *                              → the script's project directory (the
 *                                directory above its node_modules, or the
 *                                nearest with package.json / pyproject.toml,
 *                                else the script's own) as a local install
 *                                running the script relative to it
 *   "url" or type http|sse     → a remote server (`install URL --remote`)
 *   npx [-y] mcp-remote URL [--header "Name: value"]… [--transport T]
 *                              → the same remote server (not an npm install
 *                                of the proxy); ${VAR} in its arguments
 *                                reads the entry's "env" first, as the
 *                                proxy does; its other options are noted
 *                                and dropped
 *   uvx|uv|pipx|pip            → not installable (no PyPI registry here)
 * A command holding shell syntax is refused (nothing runs through a
 * shell).  Names become server names ([a-z0-9][a-z0-9-]{0,47}; "My Server"
 * → "my-server", clashes get "-2", "-3", …) and each change is a note.
 *
 * Values: VS Code's "${input:ID}" is asked of the caller (import_context),
 * "${env:NAME}" is "${NAME}", "${userHome}" and "${workspaceFolder}" are
 * filled in; then "${VAR}"/"${VAR:-default}"/"$$" are expanded from the
 * caller's environment (include/corral/expand.h).  Env values and headers
 * that look secret (names with TOKEN, SECRET, PASSWORD, KEY, AUTH,
 * CREDENTIAL, COOKIE, …; Authorization headers; any value built from an
 * input with "password": true) become secret env / secret headers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "corral/error.h"
#include "corral/expand.h"

#define IMPORT_MAX_BYTES (1u << 20) /* a client config larger than this is refused */
#define IMPORT_MAX_SERVERS 256

typedef enum {
        IMPORT_INSTALL,   /* install it */
        IMPORT_SKIP,      /* not installable by corral yet (uvx, …): reason says why */
        IMPORT_REFUSED,   /* a malformed or unsafe entry: reason says why */
        IMPORT_UNCHANGED, /* set by the caller: already installed from the same source */
        IMPORT_CONFLICT,  /* set by the caller: the name is taken by another source */
} import_action;

typedef struct import_entry {
        char *key;  /* the entry's name in the client config */
        char *name; /* the server name corral uses */
        import_action action;
        char *reason;   /* SKIP/REFUSED/CONFLICT: why (owned) */
        char **notes;   /* what was mapped, dropped or ignored (NULL-terminated or NULL) */
        /* what `corral install` receives (include/corral/resolver.h) */
        char *spec;
        char *kind; /* "npm", "docker", "local", "remote" */
        bool remote;
        char *transport;      /* remote: "http" or "sse" */
        char **command;       /* args after -- (npm: appended to the bin; local: argv) */
        char **image_args;    /* docker: in place of the image's Cmd */
        char **env;           /* KEY=VALUE */
        char **secret_env;    /* KEY=VALUE, kept in secrets.json */
        char **headers;       /* "Name: value" */
        char **secret_headers;
        char **mounts;        /* HOST[:TARGET]:ro|rw, as written */
        bool disabled;        /* "disabled": true: installed, then disabled */
} import_entry;

typedef struct import_plan {
        const char *format; /* "mcpServers" or "vscode" (static) */
        import_entry *entries;
        size_t n;
} import_plan;

typedef struct import_context {
        /* ${VAR} values; NULL = getenv(3) */
        expand_lookup_fn lookup;
        void *lookup_ud;
        /* The value of VS Code input id (decl is its "inputs" entry, may be
         * NULL when undeclared): owned, or NULL when there is none. */
        char *(*input)(void *ud, const char *id, bool password, const char *description);
        void *input_ud;
        /* The directory relative paths and ${workspaceFolder} start from
         * (the config file's project); NULL = the current directory. */
        const char *base_dir;
        /* Claude Code's ~/.claude.json: the project directory (absolute, as
         * Claude Code keys "projects") whose local-scope "mcpServers" are
         * imported with the top-level ones; NULL = none. */
        const char *project;
        /* Claude Code's project scope: the project's .mcp.json (project_json_len
         * bytes, at most IMPORT_MAX_BYTES), merged into a ~/.claude.json
         * between its user scope and the project's local scope, as Claude
         * Code ranks them (local > project > user, by server name); NULL =
         * none.  Ignored for other documents. */
        const char *project_json;
        size_t project_json_len;
} import_context;

/* Parses a client config (len bytes) and maps every entry.  A document of
 * an unknown shape, over IMPORT_MAX_BYTES or IMPORT_MAX_SERVERS entries, is
 * -EX_DATAERR; one bad entry only makes that entry IMPORT_REFUSED.  *ret is
 * filled (import_plan_done()) on success. */
int importer_parse(const char *text, size_t len, const import_context *ctx, import_plan *ret,
                   corral_error *err);
void import_plan_done(import_plan *p);

/* name as a server name (owned): lower case, runs of other characters as
 * one '-', trimmed, at most 48 bytes; "server" when nothing is left. */
char *importer_server_name(const char *name);

/* The environment variable `corral import` reads VS Code input id from when
 * it cannot ask on a terminal: "CORRAL_INPUT_" + id upper-cased, other
 * characters as '_' ("api-key" → CORRAL_INPUT_API_KEY).  Owned. */
char *importer_input_var(const char *id);

/* Whether an env variable or header of this name holds a secret: one of its
 * words (split at '_', '-', '.') is TOKEN, SECRET, PASSWORD, KEY, APIKEY,
 * AUTH, AUTHORIZATION, CREDENTIAL(S), COOKIE, PAT, PRIVATE, SESSION, BEARER,
 * SIGNATURE, PASS, PASSWD, or a word ends in TOKEN or SECRET. */
bool importer_name_is_secret(const char *name);
