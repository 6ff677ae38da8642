/* MCP Bundles (resolvers/mcpb/): a .mcpb file is a zip holding manifest.json
 * (MCPB manifest 0.2–0.4: server.type, entry_point, mcp_config with
 * ${__dirname} and ${user_config.KEY}, user_config, compatibility) and the
 * server's code, node_modules included.  Spec: modelcontextprotocol/mcpb
 * MANIFEST.md.  Issue 13. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corral/error.h"
#include "corral/registry.h"
#include "corral/resolver.h"

/* Caps on what a bundle controls (each refused with -EX_DATAERR naming it). */
#define MCPB_MAX_BUNDLE (512ull << 20)    /* the .mcpb file, bytes */
#define MCPB_MAX_UNPACKED (1ull << 30)    /* all entries, bytes once unpacked */
#define MCPB_MAX_ENTRY (512ull << 20)     /* one entry, bytes once unpacked */
#define MCPB_MAX_ENTRIES 50000            /* zip entries */
#define MCPB_MAX_PATH 1024                /* one entry's path, bytes */
#define MCPB_MAX_DEPTH 64                 /* directory levels */
#define MCPB_MAX_MANIFEST (1u << 20)      /* manifest.json, bytes */
#define MCPB_MAX_USER_CONFIG 64           /* user_config entries */

typedef struct mcpb_limits {
        uint64_t max_unpacked, max_entry, max_entries;
} mcpb_limits;

/* Extracts the zip at fd into dest (created; must not exist), refusing the
 * whole bundle on: an absolute path, a ".." component, a symlink or hard
 * link, a device, fifo or socket, a path over MCPB_MAX_PATH or deeper than
 * MCPB_MAX_DEPTH, a duplicate path, an entry over lim->max_entry, more than
 * lim->max_entries entries or more than lim->max_unpacked bytes in all
 * (declared sizes are checked before a byte is written, actual bytes while
 * writing).  Files 0644, or 0755 when the zip gives an exec bit; dirs 0755.
 * 0 or -EX_DATAERR (what names the bundle); dest is left for the caller to
 * remove on failure. */
int mcpb_extract(int fd, const char *dest, const mcpb_limits *lim, const char *what,
                 corral_error *err);

/* Installs the bundle at path (a local file) or url (https://, or http://
 * to loopback; mcpb_fetch_url(): through the download cache) into pkg_dir: checks sha256
 * (lower-case hex, or NULL) against the file, extracts it, reads
 * manifest.json, checks compatibility (mcpb_check_compat()) and
 * server.type, fills user_config from in (--set/--config/terminal; sensitive
 * values to secrets.json; directory/file values become read-only mounts),
 * and sets m's command, env, resolved.url/version/digest; opt->command (a
 * registry mcpb package's packageArguments, as registry_args_append() wrote
 * them) is appended after the bundle's mcp_config args.  Calls
 * registry_inputs_finish(in).  -EX_DATAERR (bad bundle, sha256 mismatch,
 * command leaving the bundle), -EX_UNAVAILABLE (a server.type or platform
 * this host cannot run), -EX_USAGE (missing inputs), -EX_NOINPUT. */
int mcpb_install(store *s, const install_options *opt, const char *path, const char *url,
                 const char *sha256, registry_inputs *in, const char *pkg_dir, manifest *m,
                 corral_error *err);

/* A bundle at url through the download cache (CACHE/mcpb/SHA256.mcpb, and
 * url-HASH.json mapping a URL to the content it gave last): with sha256
 * (hex) a cached copy of that content is used without asking; else, or when
 * none is cached, url is downloaded (registry_http_download(), at most
 * MCPB_MAX_BUNDLE bytes), checked against sha256 (-EX_DATAERR "sha256
 * mismatch", nothing kept) and kept.  offline: the content sha256 names, or
 * without one what url gave last, from the cache only (-EX_UNAVAILABLE when
 * it is not there).  Cached copies are re-hashed before use (a damaged one
 * is dropped).  *ret_fd (owned, at offset 0) and *ret_sha256 (owned, lower
 * case).  Records what it adds in s->cache_txn. */
int mcpb_fetch_url(store *s, const char *url, const char *sha256, bool offline, int *ret_fd,
                   char **ret_sha256, corral_error *err);

/* The lower-case hex SHA-256 of what fd holds, read from offset 0: *ret
 * owned.  0, -EX_IOERR or -EX_SOFTWARE. */
int mcpb_file_sha256(int fd, char **ret, corral_error *err);

/* server.type and compatibility against this host: platforms must include
 * linux; node → node on PATH, at runtimes.node's range; python → python3 on
 * the sandbox's PATH (NATIVE_CLEAN_PATH), at runtimes.python's range (PEP
 * 440 commas read as an npm range's blanks); uv → refused naming uv (not
 * installed here, or: it would fetch from PyPI at start); binary → nothing
 * to check.  0 or -EX_UNAVAILABLE saying what is missing. */
int mcpb_check_compat(const cJSON *man, const char *type, corral_error *err);

/* resolver_fetch_fn for SPEC_MCPB (mcpb:PATH_OR_URL, ./x.mcpb). */
int resolver_mcpb_fetch(store *s, const install_options *opt, const source_spec *spec,
                        const char *pkg_dir, manifest *m, corral_error *err);

/* ${__dirname} (dirname: the installed pkg/ dir), ${HOME} (home: the
 * server's data dir, its HOME in the sandbox), ${/} and ${pathSeparator}
 * ("/") and ${user_config.KEY} (values: user_config values by key; unset →
 * empty) in s: *ret owned.  -EX_DATAERR for an unknown ${...}.  flags:
 * MCPB_SUB_ESCAPE doubles every '$' written (the text and the values), for
 * the manifest's arguments and env, which are ${VAR}-expanded again when
 * the server starts (include/corral/expand.h): a value a user gave never
 * names a variable there.  MCPB_SUB_REFS: values hold ${CORRAL_ARG_…}
 * references to secrets.json, written as they are. */
#define MCPB_SUB_ESCAPE 1u
#define MCPB_SUB_REFS 2u
int mcpb_substitute(const char *s, const char *dirname, const char *home, const cJSON *values,
                    unsigned flags, char **ret, corral_error *err);
