/* MCP Bundles downloaded from URLs, kept in the download cache like npm
 * tarballs (include/corral/cache.h): CACHE/mcpb/SHA256.mcpb by content,
 * and CACHE/mcpb/url-HASH.json ({"url", "sha256"}, HASH the SHA-256 of the
 * URL) saying which content a URL gave last. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/store.h"

#define URL_MAP_MAX 8192

int mcpb_file_sha256(int fd, char **ret, corral_error *err)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char buf[1 << 16], dig[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        ssize_t n;

        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return corral_error_set(err, EX_SOFTWARE, "cannot start a SHA-256 hash");
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                EVP_MD_CTX_free(md);
                return corral_error_errno(err, EX_IOERR, errno, "rewinding the bundle");
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                (void)EVP_DigestUpdate(md, buf, (size_t)n);
        (void)EVP_DigestFinal_ex(md, dig, &dlen);
        EVP_MD_CTX_free(md);
        if (n < 0)
                return corral_error_errno(err, EX_IOERR, errno, "reading the bundle");
        char *hex = xmalloc(2 * dlen + 1);
        for (unsigned i = 0; i < dlen; i++)
                snprintf(hex + 2 * i, 3, "%02x", dig[i]);
        *ret = hex;
        return 0;
}

static bool is_hex64(const char *s)
{
        if (!s || strlen(s) != 64)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
                      (*c >= 'A' && *c <= 'F')))
                        return false;
        return true;
}

/* dir/SHA.mcpb opened when its content still hashes to sha (a damaged
 * entry is removed); -1 otherwise. */
static int open_cached(const char *dir, const char *sha)
{
        _cleanup_free_ char *lower = xstrdup(sha);
        for (char *c = lower; *c; c++)
                *c = (char)(*c | 0x20);
        _cleanup_free_ char *name = xasprintf("%s.mcpb", lower);
        _cleanup_free_ char *p = path_join(dir, name);
        _cleanup_free_ char *have = NULL;
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        if (mcpb_file_sha256(fd, &have, NULL) < 0 || strcmp(have, lower) != 0 ||
            lseek(fd, 0, SEEK_SET) < 0) {
                close(fd);
                (void)unlink(p);
                return -1;
        }
        cache_touch(p);
        return fd;
}

static char *url_map_path(const char *dir, const char *url)
{
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1] = {0};
        (void)EVP_Digest(url, strlen(url), dig, &dlen, EVP_sha256(), NULL);
        for (unsigned i = 0; i < dlen && i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", dig[i]);
        _cleanup_free_ char *name = xasprintf("url-%s.json", hex);
        return path_join(dir, name);
}

/* The content SHA-256 the URL gave last (owned), or NULL. */
static char *url_map_get(const char *dir, const char *url)
{
        _cleanup_free_ char *p = url_map_path(dir, url), *data = NULL;
        size_t len = 0;
        if (read_file(p, URL_MAP_MAX, &data, &len) < 0)
                return NULL;
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(data, len);
        const char *u = json_get_string(j, "url");
        const char *sha = json_get_string(j, "sha256");
        if (!u || strcmp(u, url) != 0 || !is_hex64(sha))
                return NULL;
        return xstrdup(sha);
}

int mcpb_fetch_url(store *s, const char *url, const char *sha256, bool offline, int *ret_fd,
                   char **ret_sha256, corral_error *err)
{
        _cleanup_free_ char *dir = path_join(s->paths.cache, "mcpb");
        _cleanup_free_ char *tmp = NULL, *have = NULL, *final = NULL, *name = NULL;
        _cleanup_free_ char *last = NULL, *mp = NULL, *text = NULL;
        _cleanup_json_ cJSON *map = NULL;
        int fd, r;

        if (sha256 && !is_hex64(sha256))
                return corral_error_set(err, EX_DATAERR,
                                        "%s: the fileSha256 '%.80s' is not a SHA-256 in hex", url,
                                        sha256);
        /* By content: a registry's fileSha256 names it. */
        if (sha256 && (fd = open_cached(dir, sha256)) >= 0) {
                *ret_fd = fd;
                *ret_sha256 = xstrdup(sha256);
                for (char *c = *ret_sha256; *c; c++)
                        *c = (char)(*c | 0x20);
                return 0;
        }
        if (offline) {
                /* By URL: what it gave last time. */
                last = sha256 ? NULL : url_map_get(dir, url);
                if (last && (fd = open_cached(dir, last)) >= 0) {
                        *ret_fd = fd;
                        *ret_sha256 = steal_pointer(&last);
                        return 0;
                }
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "--offline: the bundle %s is not in the cache", url);
        }
        if ((r = mkdir_p(dir, 0755)) < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", dir);
        tmp = xasprintf("%s/download.tmp.%ld.mcpb", dir, (long)getpid());
        (void)unlink(tmp);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", tmp);
        r = registry_http_download(url, fd, MCPB_MAX_BUNDLE, &have, err);
        if (r == 0 && sha256 && strcasecmp(sha256, have) != 0)
                r = corral_error_set(err, EX_DATAERR,
                                     "%s: sha256 mismatch: the registry says %.64s, the bundle "
                                     "is %s",
                                     url, sha256, have);
        if (r < 0) {
                close(fd);
                (void)unlink(tmp);
                return r;
        }
        name = xasprintf("%s.mcpb", have);
        final = path_join(dir, name);
        if (rename(tmp, final) < 0) {
                r = corral_error_errno(err, EX_CANTCREAT, errno, "cannot keep %s", final);
                close(fd);
                (void)unlink(tmp);
                return r;
        }
        cache_txn_add(s->cache_txn, CACHE_TARBALL, final);
        map = cJSON_CreateObject();
        cJSON_AddStringToObject(map, "url", url);
        cJSON_AddStringToObject(map, "sha256", have);
        text = json_print(map);
        mp = url_map_path(dir, url);
        (void)write_file_atomic(mp, text, strlen(text), 0644); /* only --offline needs it */
        if (lseek(fd, 0, SEEK_SET) < 0) {
                close(fd);
                return corral_error_errno(err, EX_IOERR, errno, "rewinding the bundle");
        }
        *ret_fd = fd;
        *ret_sha256 = steal_pointer(&have);
        return 0;
}
