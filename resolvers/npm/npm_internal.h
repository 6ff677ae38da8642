/* Internal to resolvers/npm/: the libcurl multi wrapper (fetch.c). */
#pragma once

#include <pthread.h>
#include <strings.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "corral/npm.h"
#include "corral/strbuf.h"
#include "corral/store.h"
#include <cjson/cJSON.h>
#include <time.h>

typedef struct npm_http npm_http;
typedef struct npm_http_req npm_http_req;

/* Called once per finished transfer (success or not); q is freed after.
 * A negative return stops npm_http_step() with that code. */
typedef int (*npm_http_done_fn)(void *userdata, npm_http_req *q, corral_error *err);

struct npm_http_req {
        npm_http *http;
        CURL *h;
        struct curl_slist *headers;
        char *url;
        strbuf body;
        bool too_big;
        char etag[256];
        char last_modified[128];
        /* When set, the body goes here instead of into body (tarballs are
         * streamed to a file); a negative return fails the transfer.  size
         * counts against the cap given to npm_http_get(). */
        int (*sink)(void *item, const char *data, size_t n);
        size_t got;
        long status;
        CURLcode result;
        npm_http_done_fn done;
        void *item;
        unsigned attempts;   /* retries so far (NPM_HTTP_RETRIES at most) */
        int64_t retry_at_ms; /* waiting to be sent again at this CLOCK_MONOTONIC ms; 0 = not */
};

struct npm_http {
        CURLM *multi;
        const npm_config *cfg;
        npm_http_req **reqs;
        size_t n_reqs;
        size_t active;
        void *userdata;
        void (*on_bytes)(void *userdata, size_t n);
};

int npm_http_init(npm_http *h, const npm_config *cfg, corral_error *err);
void npm_http_done(npm_http *h);
/* Starts a GET; accept, etag (If-None-Match) and last_modified
 * (If-Modified-Since) may be NULL; bodies over max bytes fail.  With sink, the
 * body is handed to sink(item, …) as it arrives instead of being collected.
 * The Authorization header goes only to the token's host. */
int npm_http_get(npm_http *h, const char *url, const char *accept, const char *etag,
                 const char *last_modified, size_t max,
                 int (*sink)(void *item, const char *data, size_t n), npm_http_done_fn done,
                 void *item, corral_error *err);
/* Runs transfers and calls done callbacks; when none finished, waits up to
 * timeout_ms for activity (or a curl_multi_wakeup()). */
int npm_http_step(npm_http *h, int timeout_ms, corral_error *err);
/* The error for a failed transfer: 404 → EX_NOINPUT, truncation or too big
 * → EX_DATAERR, anything else → EX_UNAVAILABLE. */
int npm_http_error(const npm_http_req *q, const char *what, corral_error *err);

/* CORRAL_NPM_TRACE=1 in the environment: npm_trace() writes a line with
 * the seconds since the first call to stderr (printf format). */
bool npm_trace_on(void);
__attribute__((format(printf, 1, 2))) void npm_trace(const char *fmt, ...);

/* ---- worker threads (pool.c) --------------------------------------------- */

typedef struct npm_job npm_job;
struct npm_job {
        /* On a worker thread: touches only what the job owns. */
        void (*run)(npm_job *j);
        /* Back on the main thread (npm_pool_reap()); frees the job.  ud is the
         * resolver's ctx, which may be closing (then it only frees). */
        void (*complete)(void *ud, npm_job *j);
        /* Runs before every job not urgent that is still queued: the
         * resolution's critical path (packuments to parse, cache probes that
         * gate a download) must not wait behind the extraction of tarballs. */
        bool urgent;
        npm_job *next;
};

typedef struct npm_pool {
        bool inited;
        pthread_t *threads;
        size_t n_threads;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        npm_job *urgent, *urgent_tail; /* to run first */
        npm_job *queue, *queue_tail;   /* to run */
        npm_job *done, *done_tail;   /* run, to complete */
        size_t pending;              /* submitted, not completed (main thread) */
        bool stop;
        CURLM *wake; /* curl_multi_wakeup() after each job */
} npm_pool;

int npm_pool_init(npm_pool *p, CURLM *wake, corral_error *err);
void npm_pool_submit(npm_pool *p, npm_job *j);
/* Completes the finished jobs; how many. */
size_t npm_pool_reap(npm_pool *p, void *ud);
/* Stops the threads: running jobs finish, queued ones are dropped, and all
 * complete (complete() must then only free: the caller is closing). */
void npm_pool_done(npm_pool *p, void *ud);

/* ---- the resolver's state, shared by npm.c, packument.c and pick.c ------ */

#define HASH_BUCKETS 4096

typedef enum { DOC_NEW, DOC_FETCHING, DOC_LOADED, DOC_FAILED } doc_state;

typedef struct pkgdoc {
        char *name;
        doc_state state;
        cJSON *doc;
        const cJSON *versions; /* doc.versions */
        npm_version **built;   /* lazily built, parallel to versions' members */
        size_t n_versions;
        /* The closure (packument.c): ranges whose picked version had its
         * dependencies followed (expanded), only its peers (soft: reached
         * through a missing optional peer only), those waiting for the
         * document, and those reached without an optional peer edge. */
        char **ranges;
        char **soft;
        char **pending;
        char **hard;
        int code;       /* failure */
        corral_error err;
        char *cache_base; /* cache path without extension */
        char *url;
        /* Only the version the latest tag names (NAME/latest, the registry's
         * manifest endpoint): enough for a range that npm-pick-manifest
         * answers with latest (npm_pick_latest()), fetched for packages
         * reached only through a missing optional peer; anything else
         * fetches the whole document (npm_doc_whole()).  want_whole: asked
         * while the part was still on its way. */
        bool partial, want_whole;
        /* a part given up for the whole document: the tree may hold its
         * versions */
        cJSON *old_doc;
        npm_version **old_built;
        size_t old_n;
        struct pkgdoc *next_in_bucket;
} pkgdoc;

typedef struct ctx {
        store *s;
        const install_options *opt;
        npm_config cfg;
        npm_http http;
        char *cache_dir;
        pkgdoc *buckets[HASH_BUCKETS];
        pkgdoc **docs;
        size_t n_docs;
        char *pkg_dir;
        npm_limits limits;
        /* progress */
        size_t n_resolved, n_tarballs, n_extracted, n_fetched;
        unsigned long long bytes;
        struct timespec last_progress;
        bool progress_line;
        char host_os[16], host_cpu[80];
        /* `node --version` of this host without the "v" (NULL when there is
         * no node): version choice prefers versions whose engines.node
         * accepts it, as npm-pick-manifest does. */
        char *node_version;
        /* name@version of the packages chosen although their engines.node
         * refuses this node (nothing fitting existed), for the warning. */
        char **engine_mismatch;
        /* `node --version` running: its pid and stdout (-1 when collected) */
        pid_t node_pid;
        int node_fd;
        /* worker threads; jobs parsing packuments still running */
        npm_pool pool;
        size_t doc_jobs;
        /* a failure inside a completion that ends the install */
        int hard_code;
        corral_error hard_err;
        bool closing;
        /* tarballs by integrity key (download.c) */
        struct npm_entry **entries;
        struct npm_entry **entry_buckets;
        size_t n_entries;
        struct tarball *cur_ts; /* the tree's tarballs while they are linked */
        struct npm_entry *net_queue, *net_queue_tail;
        size_t net_active;
        /* Modes in pkg/: the umask leaves mkdir's 0755 as it is (read from
         * /proc/self/status), and no package was extracted straight into
         * pkg/ (download.c); then pkg/ holds only 0644/0755 files and 0755
         * directories and the store skips its pass (store.h). */
        bool umask_keeps_0755;
        bool direct_extracted;
} ctx;

/* A package of the tree to install (npm.c collects them from the tree or
 * the lock; download.c installs them). */
typedef enum { T_WAITING, T_LINKING, T_LINKED, T_FAILED } tarball_stage;
typedef struct tarball {
        char *path; /* under pkg/ */
        char *name;
        char *version;
        char *url;
        char *integrity; /* the SRI string as published (or "sha1-…" from shasum) */
        npm_integrity want;
        /* for the lock: an optional package, its platform lists, and
         * whether this host leaves it out */
        bool optional, inert;
        char **os, **cpu, **libc;
        /* while installing */
        struct npm_entry *entry;
        tarball_stage stage;
        ssize_t parent; /* the tarball whose folder holds this one, or -1 */
        int code;       /* T_FAILED */
        corral_error err;
} tarball;

/* download.c: gets, verifies, extracts (into the unpacked cache) and links
 * every tarball not inert into pkg/PATH.  0 or the first failure. */
int npm_install_tarballs(ctx *c, tarball *ts, size_t n, corral_error *err);

/* npm.c: this host's node version without the "v" (NULL without node),
 * waiting for `node --version` the first time. */
const char *npm_node_version(ctx *c);

/* download.c: runs transfers and completes finished jobs, waiting up to
 * timeout_ms when nothing happened; 0 or a hard error. */
int npm_wait(ctx *c, int timeout_ms, corral_error *err);
/* Starts getting the tarball of v (picked while resolving) into the unpacked
 * cache, ahead of the tree; failures wait for the tarball to be needed. */
void npm_prefetch(ctx *c, const npm_version *v);
void npm_entries_free(ctx *c);

/* npm.c: the progress line (or JSON event) for phase, at most every 100 ms
 * unless force. */
void npm_progress(ctx *c, const char *phase, bool force);

/* packument.c: fetches the packuments of name@range's dependency closure in
 * parallel (cached, revalidated with ETag); failures are kept per document
 * and surface when the tree is built.  Past an optional peer edge only peers
 * are followed (what arborist's #loadPeerSet reads); the tree build asks for
 * anything else it places (npm_pick()).  0 or a hard error. */
int npm_resolve_closure(ctx *c, const char *name, const char *range, corral_error *err);
/* Makes d, a part (NAME/latest), the whole document and waits for it
 * (and for what the closure then needs).  0 or a hard error; the
 * document's own failure is d's. */
int npm_doc_whole(ctx *c, pkgdoc *d, corral_error *err);
/* A packument holding only the version manifest json (the registry's
 * NAME/latest answer, RFC 8259 JSON) as name's latest, trimmed like
 * npm_packument_parse(); NULL when it is not a manifest of name.  Owned. */
cJSON *npm_packument_from_manifest(const char *json, size_t len, const char *name);
/* Loads name's packument alone (none of its dependencies): 0 with *ret
 * (state DOC_LOADED), or the document's error. */
int npm_doc_load(ctx *c, const char *name, pkgdoc **ret, corral_error *err);
/* Parses a packument (RFC 8259 JSON, npm's abbreviated or full document)
 * and trims it to what resolution reads; NULL when it is not an object with
 * a "versions" object.  Owned.  (tests/fuzz/fuzz_packument.c) */
cJSON *npm_packument_parse(const char *json, size_t len);
/* npm_packument_parse() by building the whole document's tree first (the
 * slow way, for tests/fuzz/fuzz_packument.c to compare with). */
cJSON *npm_packument_parse_whole(const char *json, size_t len);
/* packument_trim.c: the members of a document, of a version and of its dist
 * that resolution reads (NULL-terminated). */
extern const char *const npm_packument_doc_keys[];
extern const char *const npm_packument_version_keys[];
extern const char *const npm_packument_dist_keys[];
/* Copies the JSON text json into out with only those members (the syntax of
 * what is dropped checked, not built); -1 when the scanner does not accept
 * the text (out then holds a part, to free).  Output is never longer than
 * the input. */
int npm_packument_trim_text(const char *json, size_t len, strbuf *out);
/* Makes the trimmed document j (taken) d's, loaded. */
void npm_doc_set(ctx *c, pkgdoc *d, cJSON *j);
/* Frees d and what it holds (NULL is fine). */
void npm_doc_free(pkgdoc *d);
/* The document of name, or NULL when it was never requested. */
pkgdoc *npm_doc_find(ctx *c, const char *name);
void npm_docs_free(ctx *c);

/* pick.c: the host's os/cpu in npm's names. */
void npm_host_platform(ctx *c);
/* Do os/cpu/libc lists (NULL: any; "!x" negations) admit this host? */
bool npm_platform_fits_strv(const ctx *c, char **os, char **cpu, char **libc);
/* Version choice of npm-pick-manifest (see pick.c): 1 with *ret, 0 with err
 * when nothing matches, or a negative code. */
int npm_pick_in(ctx *c, pkgdoc *d, const char *range, const npm_version **ret,
                corral_error *err);
/* Does range pick the version of the latest tag by npm-pick-manifest's
 * first rule (it matches, suits this node, is not deprecated; or range is
 * the tag "latest")?  Then a part (pkgdoc.partial) answers as the whole
 * document would.  d must be loaded. */
bool npm_pick_latest(ctx *c, const pkgdoc *d, const char *range);
/* npm_pick_fn over the ctx's documents; a document the closure did not
 * fetch (or only in part) is fetched when asked for. */
int npm_pick(void *ud, const char *name, const char *range, const npm_version **ret,
             corral_error *err);
