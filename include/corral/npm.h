/* The npm resolver (resolvers/npm/): registry configuration, abbreviated
 * packuments fetched in parallel (libcurl multi), node-semver resolution into
 * a hoisted node_modules tree, tarballs verified against their SRI integrity
 * (OpenSSL EVP) and extracted with libarchive under strict entry checks, a
 * content-addressed cache, and the lock recorded in the manifest (issue 3). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corral/error.h"
#include "corral/resolver.h"

/* Caps on what the registry controls. */
#define NPM_MAX_PACKUMENT (64u << 20)      /* one packument, bytes */
#define NPM_MAX_TARBALL (256u << 20)       /* one compressed tarball, bytes */
#define NPM_MAX_PACKAGES 10000             /* packages in one tree */
#define NPM_DEFAULT_MAX_UNPACKED (512ull << 20) /* per package, bytes */
#define NPM_DEFAULT_MAX_ENTRIES 50000      /* per package, tar entries */

/* ---- integrity (resolvers/npm/integrity.c) ----------------------------- */

typedef enum { NPM_HASH_SHA1, NPM_HASH_SHA256, NPM_HASH_SHA384, NPM_HASH_SHA512 } npm_hash_alg;

typedef struct npm_integrity {
        npm_hash_alg alg;
        unsigned char digest[64];
        size_t len; /* digest bytes */
} npm_integrity;

/* The strongest hash of an SRI string ("sha512-BASE64 sha1-BASE64 …"; unknown
 * algorithms are skipped), or, when sri is NULL or empty, the hex sha1 shasum.
 * 0, or -EX_DATAERR when neither gives a usable hash. */
int npm_integrity_parse(npm_integrity *ret, const char *sri, const char *shasum,
                        corral_error *err);
/* Hashes len bytes of data and compares.  0 or -EX_DATAERR ("integrity
 * mismatch: …", naming what, e.g. "foo@1.0.0"). */
int npm_integrity_verify(const npm_integrity *want, const void *data, size_t len, const char *what,
                         corral_error *err);
/* "sha512-<hex>": the content-addressed cache key; owned. */
char *npm_integrity_key(const npm_integrity *in);

/* Incremental form of npm_integrity_verify() for data that is streamed (a
 * tarball written to disk as it downloads): _new() starts a hash of want's
 * algorithm (owned; NULL only when OpenSSL cannot allocate), _update() adds
 * bytes, _finish() compares like npm_integrity_verify() (0, -EX_DATAERR or
 * -EX_SOFTWARE) and _free() releases it (NULL-safe, returns NULL). */
typedef struct npm_hasher npm_hasher;
npm_hasher *npm_hasher_new(const npm_integrity *want);
void npm_hasher_update(npm_hasher *h, const void *data, size_t len);
int npm_hasher_finish(npm_hasher *h, const npm_integrity *want, const char *what,
                      corral_error *err);
npm_hasher *npm_hasher_free(npm_hasher *h);

/* ---- extraction (resolvers/npm/extract.c) ------------------------------ */

typedef enum {
        NPM_ENTRY_FILE,
        NPM_ENTRY_DIR,
        NPM_ENTRY_SYMLINK,
        NPM_ENTRY_HARDLINK,
        NPM_ENTRY_OTHER, /* device, fifo, socket */
} npm_entry_type;

typedef struct npm_limits {
        uint64_t max_unpacked; /* bytes per package */
        uint64_t max_entries;  /* tar entries per package */
        /* The process's umask leaves 0644 and 0755 as given, so extraction
         * need not fchmod() each file it creates (false: it does). */
        bool umask_keeps_modes;
} npm_limits;

/* Checks one tar entry.  path is as stored (its first component, the
 * package folder whatever its name, is stripped); link is the symlink target
 * or hardlink path (NULL otherwise).  Returns 1 with *ret_rel (owned, the
 * normalised path inside the package) and, for links, *ret_link (owned: the
 * symlink target as given, or the normalised hardlink path); 0 when the entry
 * is to be skipped (the top folder itself); -EX_DATAERR when it must be
 * refused (absolute path, "..", link leaving the package, device or fifo). */
int npm_tar_check_entry(const char *path, npm_entry_type type, const char *link, char **ret_rel,
                        char **ret_link, corral_error *err);

/* Extracts a .tgz held in memory into dest (created, must not exist as a
 * file), refusing the package on any bad entry or when a cap in lim is
 * exceeded.  Never writes through a symlink.  Dirs 0755, files 0644 or 0755
 * when any exec bit is set.  0 or -EX_DATAERR (what names the package). */
int npm_extract(const void *tgz, size_t len, const char *dest, const npm_limits *lim,
                const char *what, corral_error *err);
/* Same, reading the .tgz from fd (from its current offset; fd stays open and
 * owned by the caller), so a tarball is never held in memory whole. */
int npm_extract_fd(int fd, const char *dest, const npm_limits *lim, const char *what,
                   corral_error *err);

/* What an extraction counted: tar entries read (the top folder included) and
 * bytes of file data written, the two figures the caps in npm_limits bound. */
typedef struct npm_extract_stats {
        uint64_t entries;
        uint64_t bytes;
} npm_extract_stats;

/* npm_extract_fd() that also reports *ret_stats (may be NULL). */
int npm_extract_fd_ex(int fd, const char *dest, const npm_limits *lim,
                      npm_extract_stats *ret_stats, const char *what, corral_error *err);

/* ---- the unpacked cache (resolvers/npm/unpacked.c) ---------------------- */

/* Packages already unpacked, like pnpm's store: CACHE/unpacked/KEY/ (KEY from
 * npm_integrity_key()) holds the files of a verified tarball, 0644 or 0755
 * (declared bins executable; root-owned, as pkg/ is), directories 0755; CACHE/unpacked/KEY.json, the
 * sidecar written last, records the tarball's entry count and unpacked bytes
 * (checked against the caps on every use) and a digest of the tree's names,
 * types, sizes, exec bits and symlink targets.  An entry without a valid
 * sidecar or whose tree no longer matches it is absent. */

/* Materialises the cached package KEY into dest (created when missing):
 * directories made, files hard-linked (copied when link() fails with EXDEV,
 * EMLINK, EPERM or EACCES), symlinks recreated.  cache_dir is the npm cache
 * dir (CACHE above).  1 when installed; 0 when not cached, or when the entry
 * was corrupt (then it is removed); -EX_DATAERR when the package exceeds a
 * cap in lim (the same message as extraction); another negative code when
 * dest cannot be written. */
int npm_unpacked_install(const char *cache_dir, const char *key, const char *dest,
                         const npm_limits *lim, const char *what, corral_error *err);

/* Extracts the verified tarball open at fd (from its current offset) into the
 * cache entry KEY (a temporary dir renamed into place, then the sidecar) and
 * materialises it into dest as npm_unpacked_install() does.  When the cache
 * cannot be written, extracts into dest directly.  0, or extraction's errors
 * (-EX_DATAERR for a bad tarball or a cap; nothing is left in the cache). */
int npm_unpacked_extract(const char *cache_dir, const char *key, int fd, const char *dest,
                         const npm_limits *lim, const char *what, corral_error *err);

/* The two halves of npm_unpacked_install(), for callers that check entries
 * and link packages on different threads (both are thread-safe).
 * npm_unpacked_check(): 1 when the entry KEY is valid, 0 when absent or
 * corrupt (then removed), -EX_DATAERR when it exceeds a cap in lim.
 * npm_unpacked_link(): materialises the package tree at src (an entry or a
 * private copy) into dest; 0 or a negative code. */
int npm_unpacked_check(const char *cache_dir, const char *key, const npm_limits *lim,
                       const char *what, corral_error *err);
int npm_unpacked_link(const char *src, const char *dest, const char *what, corral_error *err);

/* The first half of npm_unpacked_extract(): extracts the verified tarball at
 * fd into the cache entry KEY.  1 when it is there to link from (or, when it
 * could not be renamed into place, in the private copy *ret_private, the
 * caller's to link from and remove); 0 when the cache cannot be written
 * (nothing extracted); extraction's errors as npm_unpacked_extract(). */
int npm_unpacked_store(const char *cache_dir, const char *key, int fd, const npm_limits *lim,
                       char **ret_private, const char *what, corral_error *err);

/* Writes a cache file atomically (a temporary file renamed over path, mode
 * 0644) without fsync: whatever reads it back validates it.  0 or -errno. */
int npm_write_cache_file(const char *path, const void *data, size_t len);

/* ---- the tree (resolvers/npm/tree.c) ------------------------------------ */

typedef enum {
        NPM_DEP_PROD,
        NPM_DEP_OPTIONAL,
        NPM_DEP_PEER,
        NPM_DEP_PEER_OPTIONAL, /* peerDependenciesMeta optional */
} npm_dep_kind;

typedef struct npm_dep {
        const char *name;
        const char *range;
        npm_dep_kind kind;
} npm_dep;

/* One resolved version of a package (borrowed from its packument by the
 * resolver, built by hand in tests). */
typedef struct npm_version {
        const char *name;
        const char *version;
        npm_dep *deps;
        size_t n_deps;
        bool platform_ok; /* os/cpu/libc match the host */
        void *data;       /* the resolver's own (the packument version object) */
        bool engine_unmet; /* engines.node refuses this host's node */
} npm_version;

/* Picks the version of name for range (a range or a dist-tag): 1 with *ret,
 * 0 when no version matches (then err says why), or a negative code for a
 * hard failure. */
typedef int (*npm_pick_fn)(void *userdata, const char *name, const char *range,
                           const npm_version **ret, corral_error *err);

typedef struct npm_node npm_node;

/* A dependency of a node, resolved (to) by node_modules lookup from its
 * dependent, as node's require() would find it. */
typedef struct npm_edge {
        const char *name;
        const char *range;
        npm_dep_kind kind;
        npm_node *from;
        npm_node *to;         /* NULL: missing */
        bool peer_conflicted; /* a peer left unmet on purpose (npm warns) */
} npm_edge;

struct npm_node {
        const char *name;
        const npm_version *v;
        npm_node *parent;
        npm_node **children; /* sorted by name */
        size_t n_children;
        char *path; /* "node_modules/a/node_modules/b"; "" for the root */
        unsigned depth;
        npm_edge *edges; /* its dependencies, in npm's order */
        size_t n_edges;
        npm_edge **in; /* edges that resolve to it */
        size_t n_in;
        /* optional: every path from the root to it passes an optional edge;
         * inert: not installed on this host (an optional package, or one
         * only it needs, whose os/cpu/libc or engines do not fit), but
         * listed in the lock for other hosts */
        bool optional, inert;
        /* the builder's own */
        bool seen, is_vr;
        npm_node *vr;       /* its cached virtual root */
        npm_node *next_all; /* every node allocated, for npm_tree_free() */
        unsigned mark;
};

/* Builds the ideal tree `npm install --omit=dev` (arborist, npm >= 7)
 * builds for a root whose dependencies are root->deps, with arborist's
 * placement rules (tree.c, place.c): nodes are visited shallowest first, in
 * path order; each missing or invalid dependency is resolved with its peer
 * set in a virtual root and placed at the highest level where it and its
 * peers (as a group) fit, replacing a current copy when every dependent
 * accepts the new one (which is how a peer pulls an older version up),
 * nesting it otherwise; duplicates that became unnecessary are pruned.
 * Optional packages that do not fit this host are kept in the tree, marked
 * inert.  At most max_nodes placements.  *ret owned (npm_tree_free()).  0,
 * the pick function's code, or -EX_DATAERR (too many packages, an
 * unresolvable conflict of the root's own dependencies). */
int npm_tree_build(npm_node **ret, const npm_version *root, npm_pick_fn pick, void *userdata,
                   size_t max_nodes, corral_error *err);
npm_node *npm_tree_free(npm_node *root);
/* Calls fn for every package node (not the root) in path order, inert ones
 * included; stops on < 0. */
int npm_tree_walk(const npm_node *root, int (*fn)(const npm_node *n, void *ud), void *ud);

/* ---- registry configuration (resolvers/npm/config.c) ------------------- */

typedef struct npm_auth {
        char *prefix; /* "//host/path/" */
        char *token;
} npm_auth;

typedef struct npm_config {
        char *registry; /* with a trailing '/' */
        char **scopes;  /* "@scope", parallel to scope_registries */
        char **scope_registries;
        npm_auth *auth;
        size_t n_auth;
        /* Seconds a cached packument is used without asking the registry
         * (npm's cache does the same with its 5-minute window); 0 always
         * revalidates (npm's --prefer-online).  $CORRAL_NPM_METADATA_MAX_AGE,
         * else corral.json's "npm_metadata_max_age", else
         * NPM_DEFAULT_METADATA_MAX_AGE. */
        long metadata_max_age;
} npm_config;

#define NPM_DEFAULT_METADATA_MAX_AGE 300L
#define NPM_MAX_METADATA_MAX_AGE (365L * 86400)

/* Precedence: cli_registry (--registry, which also overrides scoped
 * registries), corral.json's "registry" (config_path), $npm_config_registry,
 * ~/.npmrc's registry=, then https://registry.npmjs.org/.  @scope:registry=
 * and //host/:_authToken= lines come from ~/.npmrc ($NPM_CONFIG_USERCONFIG
 * when set).  metadata_max_age as documented on the field (a value that is
 * not a whole number of seconds in 0..NPM_MAX_METADATA_MAX_AGE is
 * -EX_CONFIG).  0 or -EX_CONFIG. */
int npm_config_load(npm_config *ret, const char *cli_registry, const char *config_path,
                    corral_error *err);
void npm_config_done(npm_config *c);
/* The registry for a package name (borrowed). */
const char *npm_config_registry_for(const npm_config *c, const char *name);
/* The token for url when a //host/path/ prefix matches it; NULL otherwise. */
const char *npm_config_token_for(const npm_config *c, const char *url);

/* ---- the resolver (resolvers/npm/npm.c) -------------------------------- */

/* What the registry offers for package name (`corral outdated`, `corral
 * update`): *ret_wanted the version an install of range (NULL: "*") would
 * pick now, *ret_latest the "latest" dist-tag's (both owned).  Reads the
 * packument alone, through the same cache and registry settings (registry:
 * a --registry URL or NULL) as an install.  0, or -EX_NOINPUT (no such
 * package, nothing satisfies range), -EX_UNAVAILABLE (registry unreachable). */
int npm_available(store *s, const char *name, const char *range, const char *registry,
                  char **ret_wanted, char **ret_latest, corral_error *err);

/* resolver_fetch_fn for SPEC_NPM: installs the package as a dependency of
 * pkg_dir (pkg_dir/node_modules/…, like `npm install PKG --omit=dev
 * --ignore-scripts` in an empty dir) and sets m->command to `node
 * node_modules/PKG/BIN` plus opt->command (extra arguments after --).  With
 * opt->frozen, installs exactly the lock of the installed server of the same
 * name.  Errors: -EX_NOINPUT (unknown package or version), -EX_UNAVAILABLE
 * (registry unreachable, not cached with --offline), -EX_DATAERR (integrity,
 * bad tarball), -EX_USAGE (--allow-scripts, no bin). */
int resolver_npm_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err);

/* Installs deps (a package.json's dependencies, as the root of the tree)
 * into dir/node_modules like resolver_npm_fetch() does for one package:
 * same resolution, caches, verification, extraction and bin links; optional
 * ones that cannot be resolved are skipped.  m->lock is replaced by the
 * installed tree (paths relative to dir) and m->scripts_skipped set; with
 * opt->allow_scripts the scripts run in the sandbox (npm_scripts_run()).
 * Used by the git resolver to install a checked-out tree's dependencies
 * before its build.  Errors as resolver_npm_fetch(). */
int npm_install_dependencies(store *s, const install_options *opt, const char *dir,
                             const npm_dep *deps, size_t n_deps, manifest *m, corral_error *err);

/* ---- lifecycle scripts (resolvers/npm/scripts.c) ------------------------ */

/* --allow-scripts: runs the preinstall, install and postinstall scripts (or
 * `node-gyp rebuild` for a binding.gyp without an install script) of every
 * package in m's lock that has them, deepest first, each inside
 * corral-sandbox with the build policy (include/corral/build.h; npm's
 * bundled node-gyp on PATH, npm_config_nodedir=/usr so headers are never
 * downloaded), after un-sharing pkg_dir's files from the unpacked cache.
 * *ret_ran (owned, NULL-terminated, may be NULL) lists the packages whose
 * scripts ran ("name@version").  0, or build_run()'s errors naming the
 * script and package. */
int npm_scripts_run(store *s, const install_options *opt, const char *pkg_dir, const manifest *m,
                    char ***ret_ran, corral_error *err);
/* Replaces every hard-linked file under dir by a private copy.  0 or
 * -EX_CANTCREAT. */
int npm_unshare_tree(const char *dir, corral_error *err);
