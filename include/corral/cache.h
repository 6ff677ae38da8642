/* The download cache (DESIGN.md, "Paths": /var/cache/corral,
 * $XDG_CACHE_HOME/corral or DIR/cache).  Its entries:
 *
 *   npm/tarballs/KEY.tgz            a verified tarball (KEY: npm_integrity_key())
 *   npm/unpacked/KEY/ + KEY.json    its unpacked tree and the sidecar (unpacked.c)
 *   npm/packuments/vN-HASH.json     trimmed metadata (+ .meta: the validators)
 *   registry/HASH.json              an MCP Registry or Smithery answer (+ .meta:
 *                                   its URL and validators; resolvers/registry/http.c),
 *                                   counted and removed as a packument
 *   mcpb/SHA256.mcpb                an MCPB bundle downloaded from a URL, counted
 *                                   and evicted as a tarball (resolvers/mcpb/cache.c);
 *                                   mcpb/url-HASH.json, which content a URL gave, as
 *                                   a packument
 *   git/HASH.git                    a bare mirror (+ HASH.git.lock, its flock)
 *
 * Anything named *.tmp.* under npm/, and an unpacked tree without a sidecar,
 * is a leftover of an interrupted install.
 *
 * Size: the bytes of the files an entry holds (st_size; for an unpacked tree
 * the sidecar's unpacked byte count).  Hard links from installed servers into
 * the unpacked cache count with the cache, so removing an entry may give
 * back less than its size.
 *
 * Last use ("LRU stamp"): the entry's modification time, which corral sets
 * when an install uses the entry (tarball file, unpacked sidecar, git mirror
 * directory; a packument's when it is fetched or revalidated).  Not the
 * access time: relatime and noatime mounts do not keep it.
 *
 * Every function here expects the caller to hold the store lock
 * (store_lock()): every npm writer of the cache holds it, so leftovers seen
 * under it are dead.  Git mirrors are also used by `corral update` without
 * the store lock; they are removed only while their own flock is free. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corral/error.h"
#include "corral/paths.h"

/* The cap when corral.json says nothing: 2 GiB. */
#define CACHE_DEFAULT_MAX_SIZE (2ull << 30)

typedef struct cache_stats {
        uint64_t bytes; /* total size of the entries (see above) */
        size_t entries; /* tarballs + unpacked + packuments + git mirrors */
        size_t tarballs, unpacked, packuments, git_mirrors;
        size_t leftovers; /* temporaries and half-made trees */
        uint64_t leftover_bytes;
} cache_stats;

/* The cap: $CORRAL_CACHE_MAX_SIZE, else corral.json "cache_max_size", else
 * CACHE_DEFAULT_MAX_SIZE.  Either is a byte count (a JSON number) or a string
 * "N[K|M|G|T]" (powers of 1024, optional "iB"/"B").  0 keeps nothing after an
 * install.  0 with *ret, or -EX_CONFIG naming the bad value. */
int cache_max_size(const corral_paths *p, uint64_t *ret, corral_error *err);

/* Measures the cache at cache_dir (missing: all zero).  Never fails. */
void cache_measure(const char *cache_dir, cache_stats *ret);

/* Removes leftovers, then entries least recently used first until the total
 * is at most max_bytes.  *ret_removed (optional) counts what went.
 * 0, or -EX_CANTCREAT when something could not be removed. */
int cache_evict(const char *cache_dir, uint64_t max_bytes, cache_stats *ret_removed,
                corral_error *err);

/* `corral cache clean`: removes leftovers and packuments, and the npm
 * tarballs and unpacked trees whose KEY is not in keep (NULL-terminated;
 * the integrity keys of installed servers' locks); git mirrors stay.  With
 * all, everything goes.  *ret_removed (optional) as above.  0 or
 * -EX_CANTCREAT. */
int cache_clean(const char *cache_dir, char *const *keep, bool all, cache_stats *ret_removed,
                corral_error *err);

/* Marks an entry (file or directory) used now: its LRU stamp.  Errors are
 * ignored (a read-only cache still serves). */
void cache_touch(const char *path);

/* ---- one install's additions ---------------------------------------------- */

/* What one install added to the cache, so that a failure can take it back:
 * on a full disk (the install failed with EX_CANTCREAT: ENOSPC, EDQUOT or
 * another cannot-create) everything it added goes, since keeping it would
 * keep the disk full; on other failures what it added is complete and
 * verified (partial downloads and extractions are removed where they fail)
 * and stays for the next attempt. */
typedef struct cache_txn cache_txn;

typedef enum {
        CACHE_TARBALL,   /* path: npm/tarballs/KEY.tgz */
        CACHE_UNPACKED,  /* path: npm/unpacked/KEY (its sidecar KEY.json goes with it) */
        CACHE_PACKUMENT, /* path: npm/packuments/vN-HASH.json (and its .meta) */
        CACHE_GIT,       /* path: git/HASH.git */
} cache_kind;

cache_txn *cache_txn_new(void);
/* Records an entry this install created (path copied).  t may be NULL (an
 * install without a record: nothing is noted). */
void cache_txn_add(cache_txn *t, cache_kind kind, const char *path);
/* Ends the install: result (the install's return, >= 0 or a negative
 * sysexits code) -EX_CANTCREAT removes every recorded entry; anything else
 * keeps them.  Frees t (NULL is fine); returns NULL. */
cache_txn *cache_txn_finish(cache_txn *t, int result);
