/* The policy file (include/corral/sandbox.h): strict parsing, defaults, caps
 * on every size that comes from the file. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

void sbx_warn(const char *fmt, ...)
{
        va_list ap;

        fputs("corral-sandbox: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void sbx_warn_errno(const char *fmt, ...)
{
        int e = errno;
        va_list ap;

        fputs("corral-sandbox: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ": %s\n", strerror(e));
}

static struct timespec timing_base;
static bool timing_on;

void sbx_timing_init(void)
{
        const char *v = getenv("CORRAL_SANDBOX_TIMING");

        timing_on = v && *v && strcmp(v, "0") != 0;
        if (timing_on)
                clock_gettime(CLOCK_MONOTONIC, &timing_base);
}

void sbx_mark(const char *what)
{
        struct timespec now;
        char buf[160];
        long long us;
        int n;

        if (!timing_on)
                return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        us = (now.tv_sec - timing_base.tv_sec) * 1000000LL +
             (now.tv_nsec - timing_base.tv_nsec) / 1000;
        /* One write: the launcher, the init and the server share stderr. */
        n = snprintf(buf, sizeof(buf), "corral-sandbox: timing %ld +%lld %s\n", (long)getpid(), us,
                     what);
        if (n > 0)
                (void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static bool valid_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 48 || strstr(s, "__"))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
                if (!ok)
                        return false;
        }
        return true;
}

/* Absolute, no "..", no "//" surprises; at most PATH_MAX-ish. */
static bool valid_abs_path(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 1024 || s[0] != '/')
                return false;
        for (const char *c = s; *c;) {
                size_t len = strcspn(c, "/");
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return false;
                c += len;
                c += *c == '/';
        }
        return true;
}

static int bad(const char *what)
{
        sbx_warn("invalid policy: %s", what);
        return SBX_EX_DATAERR;
}

static int get_uint(const cJSON *v, const char *key, unsigned max, unsigned *out)
{
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
            v->valuedouble != floor(v->valuedouble)) {
                sbx_warn("invalid policy: %s must be an integer from 0 to %u", key, max);
                return SBX_EX_DATAERR;
        }
        *out = (unsigned)v->valuedouble;
        return 0;
}

static int get_path(const cJSON *v, const char *key, char **out)
{
        if (!cJSON_IsString(v) || !valid_abs_path(v->valuestring)) {
                sbx_warn("invalid policy: %s must be an absolute path without '..'", key);
                return SBX_EX_DATAERR;
        }
        free(*out);
        *out = xstrdup(v->valuestring);
        return 0;
}

static int parse_mounts(sbx_policy *p, const cJSON *arr)
{
        const cJSON *m;

        if (!cJSON_IsArray(arr))
                return bad("mounts must be an array");
        if (cJSON_GetArraySize(arr) > SANDBOX_MAX_MOUNTS)
                return bad("too many mounts");
        cJSON_ArrayForEach(m, arr) {
                sbx_mount *dst = &p->mounts[p->n_mounts];
                const cJSON *f;
                int r;

                if (!cJSON_IsObject(m))
                        return bad("mounts entries must be objects");
                memset(dst, 0, sizeof(*dst));
                p->n_mounts++;
                cJSON_ArrayForEach(f, m) {
                        if (strcmp(f->string, "source") == 0)
                                r = get_path(f, "mounts[].source", &dst->source);
                        else if (strcmp(f->string, "target") == 0)
                                r = get_path(f, "mounts[].target", &dst->target);
                        else if (strcmp(f->string, "writable") == 0) {
                                if (!cJSON_IsBool(f))
                                        return bad("mounts[].writable must be a boolean");
                                dst->writable = cJSON_IsTrue(f);
                                r = 0;
                        } else {
                                sbx_warn("invalid policy: unknown key mounts[].%s", f->string);
                                return SBX_EX_DATAERR;
                        }
                        if (r)
                                return r;
                }
                if (!dst->source)
                        return bad("mounts[].source is required");
                if (!dst->target)
                        dst->target = xstrdup(dst->source);
                if (strcmp(dst->target, "/") == 0)
                        return bad("mounts[].target cannot be /");
        }
        return 0;
}

static int parse_env(sbx_policy *p, const cJSON *obj)
{
        const cJSON *e;

        if (!cJSON_IsObject(obj))
                return bad("env must be an object");
        if (cJSON_GetArraySize(obj) > SANDBOX_MAX_ENV)
                return bad("too many env entries");
        cJSON_ArrayForEach(e, obj) {
                if (!cJSON_IsString(e) || !e->string[0] || strchr(e->string, '='))
                        return bad("env entries must be NAME: \"string\"");
                _cleanup_free_ char *kv = xasprintf("%s=%s", e->string, e->valuestring);
                p->env = strv_push(p->env, kv);
        }
        return 0;
}

const char *sbx_policy_path(const sbx_policy *p)
{
        for (size_t i = 0; p->env && p->env[i]; i++)
                if (strncmp(p->env[i], "PATH=", 5) == 0)
                        return p->env[i] + 5;
        return SANDBOX_DEFAULT_PATH;
}

int sbx_policy_parse(sbx_policy *p, const char *json, size_t len)
{
        cJSON *root = cJSON_ParseWithLength(json, len);
        const cJSON *f;
        int r = 0, code = -1;

        memset(p, 0, sizeof(*p));
        p->profile = xstrdup("default");
        p->memory_mb = SANDBOX_DEFAULT_MEMORY_MB;
        p->pids = SANDBOX_DEFAULT_PIDS;
        p->cpus = SANDBOX_DEFAULT_CPUS;
        p->tmp_mb = SANDBOX_DEFAULT_TMP_MB;
        p->nofile = SANDBOX_DEFAULT_NOFILE;
        p->fsize_mb = SANDBOX_DEFAULT_FSIZE_MB;
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return bad("not a JSON object");
        }
        cJSON_ArrayForEach(f, root) {
                const char *k = f->string;
                unsigned u = 0;

                /* A key given twice is ambiguous (and a second "mounts" would
                 * add past SANDBOX_MAX_MOUNTS): refused, as is every doubt in
                 * a policy. */
                for (const cJSON *g = root->child; g != f; g = g->next)
                        if (strcmp(g->string, k) == 0)
                                r = bad("a key appears twice");
                if (r)
                        break;

                if (strcmp(k, "name") == 0) {
                        if (!cJSON_IsString(f) || !valid_name(f->valuestring))
                                r = bad("name must match [a-z0-9][a-z0-9-]{0,47}");
                        else {
                                free(p->name); /* a repeated key: the last wins */
                                p->name = xstrdup(f->valuestring);
                        }
                } else if (strcmp(k, "profile") == 0) {
                        const char *s = cJSON_GetStringValue(f);
                        if (!s || (strcmp(s, "default") && strcmp(s, "strict") && strcmp(s, "log")))
                                r = bad("profile must be default, strict or log");
                        else {
                                free(p->profile);
                                p->profile = xstrdup(s);
                        }
                } else if (strcmp(k, "network") == 0) {
                        const char *s = cJSON_GetStringValue(f);
                        if (!s || (strcmp(s, "none") && strcmp(s, "host")))
                                r = bad("network must be none or host");
                        else
                                p->net_host = strcmp(s, "host") == 0;
                } else if (strcmp(k, "code") == 0) {
                        const char *s = cJSON_GetStringValue(f);
                        if (!s || (strcmp(s, "overlay") && strcmp(s, "readonly")))
                                r = bad("code must be overlay or readonly");
                        else
                                code = s[0] == 'o' ? 1 : 0;
                } else if (strcmp(k, "uid") == 0) {
                        r = get_uint(f, k, 0x7fffffff, &u);
                        p->uid = u;
                        p->have_ids = true;
                } else if (strcmp(k, "gid") == 0) {
                        r = get_uint(f, k, 0x7fffffff, &u);
                        p->gid = u;
                } else if (strcmp(k, "pkg") == 0) {
                        r = get_path(f, k, &p->pkg);
                } else if (strcmp(k, "data") == 0) {
                        r = get_path(f, k, &p->data);
                } else if (strcmp(k, "cwd") == 0) {
                        r = get_path(f, k, &p->cwd);
                } else if (strcmp(k, "mounts") == 0) {
                        r = parse_mounts(p, f);
                } else if (strcmp(k, "memory_mb") == 0) {
                        r = get_uint(f, k, 1u << 22, &p->memory_mb);
                } else if (strcmp(k, "pids") == 0) {
                        r = get_uint(f, k, 1u << 22, &p->pids);
                } else if (strcmp(k, "tmp_mb") == 0) {
                        r = get_uint(f, k, 1u << 20, &p->tmp_mb);
                } else if (strcmp(k, "nofile") == 0) {
                        r = get_uint(f, k, 1u << 20, &p->nofile);
                } else if (strcmp(k, "fsize_mb") == 0) {
                        r = get_uint(f, k, 1u << 24, &p->fsize_mb);
                } else if (strcmp(k, "cpus") == 0) {
                        if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 1024)
                                r = bad("cpus must be a number from 0 to 1024");
                        else
                                p->cpus = f->valuedouble;
                } else if (strcmp(k, "env") == 0) {
                        r = parse_env(p, f);
                } else {
                        sbx_warn("invalid policy: unknown key '%s'", k);
                        r = SBX_EX_DATAERR;
                }
                if (r)
                        break;
        }
        cJSON_Delete(root);
        if (r)
                return r;
        if (!p->name)
                return bad("name is required");
        /* An overlay needs somewhere to keep its upper layer. */
        if (code < 0)
                code = strcmp(p->profile, "strict") != 0 && p->data;
        if (code == 1 && p->pkg && !p->data)
                return bad("code overlay needs data (its upper layer lives in data/overlay/)");
        p->code_overlay = code == 1 && p->pkg;
        if (p->have_ids && p->gid == 0)
                p->gid = p->uid;
        if (p->nofile < 16)
                p->nofile = 16;
        if (!p->cwd)
                p->cwd = xstrdup(p->data ? p->data : "/");
        {
                bool have_path = false;
                for (size_t i = 0; p->env && p->env[i]; i++)
                        have_path |= strncmp(p->env[i], "PATH=", 5) == 0;
                if (!have_path)
                        p->env = strv_push(p->env, "PATH=" SANDBOX_DEFAULT_PATH);
        }
        return 0;
}

int sbx_policy_load(sbx_policy *p, const char *path)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        ssize_t n;

        fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                memset(p, 0, sizeof(*p));
                sbx_warn_errno("cannot read policy %s", path);
                return SBX_EX_NOINPUT;
        }
        buf = xmalloc(SANDBOX_POLICY_MAX_BYTES + 1);
        while ((n = read(fd, buf + len, SANDBOX_POLICY_MAX_BYTES + 1 - len)) > 0)
                len += (size_t)n;
        if (n < 0 || len > SANDBOX_POLICY_MAX_BYTES) {
                memset(p, 0, sizeof(*p));
                sbx_warn("cannot read policy %s: %s", path,
                         n < 0 ? strerror(errno) : "larger than 1 MiB");
                return SBX_EX_DATAERR;
        }
        return sbx_policy_parse(p, buf, len);
}

void sbx_policy_done(sbx_policy *p)
{
        free(p->name);
        free(p->profile);
        free(p->pkg);
        free(p->data);
        free(p->cwd);
        for (size_t i = 0; i < p->n_mounts; i++) {
                free(p->mounts[i].source);
                free(p->mounts[i].target);
        }
        strv_free(p->env);
        memset(p, 0, sizeof(*p));
}
