/* manifest.json version 1 (DESIGN.md, "manifest.json"). */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "corral/spec.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

#define MAX_STRING 8192 /* any single string field */
#define MAX_ARGV 256    /* runtime.command entries */
#define MAX_ENV 256     /* runtime.env entries */
#define MAX_MOUNTS 256  /* sandbox.mounts entries */
#define MAX_LOCK 100000 /* source.lock entries */
#define MAX_MEMORY_MB (1u << 24)
#define MAX_PIDS (1u << 22)
#define MAX_CPUS 4096.0

static const char *const kinds[] = {"npm", "smithery", "smithery-hosted", "registry",
                                    "git", "docker",   "local",           "remote",
                                    "mcpb"};
static const char *const backends[] = {"native", "docker", "remote"};
static const char *const profiles[] = {"default", "strict", "log", "none"};
static const char *const networks[] = {"none", "host"};
static const char *const codes[] = {"overlay", "readonly"};
static const char *const restarts[] = {"on-failure", "always", "no"};

static bool one_of(const char *s, const char *const *set, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, set[i]) == 0)
                        return true;
        return false;
}

static char *now_rfc3339(void)
{
        time_t t = time(NULL);
        struct tm tm;
        char buf[32];
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return xstrdup("1970-01-01T00:00:00Z");
        return xstrdup(buf);
}

manifest *manifest_new(const char *name)
{
        manifest *m = xcalloc(1, sizeof(*m));
        m->name = xstrdup(name ? name : "");
        m->spec = xstrdup("");
        m->kind = xstrdup("local");
        m->lock = NULL;
        m->backend = xstrdup("native");
        m->command = xcalloc(1, sizeof(char *));
        m->cwd = xstrdup("pkg");
        m->profile = xstrdup("default");
        m->network = xstrdup("none");
        m->mounts = xcalloc(1, sizeof(char *));
        m->memory_mb = 512;
        m->pids = 256;
        m->cpus = 1.0;
        m->restart = xstrdup("on-failure");
        m->enabled = true;
        m->access_level = CORRAL_LEVEL_DEFAULT;
        m->installed_at = now_rfc3339();
        m->corral_version = xstrdup(CORRAL_VERSION);
        return m;
}

manifest *manifest_free(manifest *m)
{
        if (!m)
                return NULL;
        free(m->name);
        free(m->spec);
        free(m->kind);
        free(m->resolved_version);
        free(m->resolved_url);
        free(m->resolved_integrity);
        free(m->resolved_commit);
        free(m->resolved_digest);
        for (size_t i = 0; i < m->n_lock; i++) {
                free(m->lock[i].name);
                free(m->lock[i].version);
                free(m->lock[i].integrity);
                free(m->lock[i].resolved);
                free(m->lock[i].path);
                strv_free(m->lock[i].os);
                strv_free(m->lock[i].cpu);
                strv_free(m->lock[i].libc);
        }
        free(m->lock);
        strv_free(m->scripts_skipped);
        strv_free(m->engines_unmet);
        free(m->registry_url);
        free(m->registry_name);
        free(m->registry_version);
        free(m->registry_package);
        free(m->registry_identifier);
        free(m->backend);
        strv_free(m->command);
        for (size_t i = 0; i < m->n_env; i++) {
                free(m->env[i].key);
                free(m->env[i].value);
        }
        free(m->env);
        for (size_t i = 0; i < m->n_headers; i++) {
                free(m->headers[i].key);
                free(m->headers[i].value);
        }
        free(m->headers);
        free(m->transport);
        free(m->sessions);
        free(m->cwd);
        free(m->profile);
        free(m->network);
        free(m->code);
        strv_free(m->mounts);
        free(m->restart);
        free(m->owner);
        for (size_t i = 0; i < m->n_tool_access; i++)
                free(m->tool_access[i].tool);
        free(m->tool_access);
        free(m->installed_at);
        free(m->corral_version);
        free(m);
        return NULL;
}

static void manifest_freep(manifest **m)
{
        manifest_free(*m);
}

/* ---- parsing ---------------------------------------------------------- */

static int bad(corral_error *err, const char *field, const char *why)
{
        return corral_error_set(err, EX_DATAERR, "invalid manifest: %s: %s", field, why);
}

/* A string member.  required: absent is an error; nullable: JSON null gives
 * NULL.  Otherwise absence leaves *out as it is (the default). */
static int get_str(const cJSON *obj, const char *key, const char *field, bool required,
                   bool nullable, char **out, corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v) {
                if (required)
                        return bad(err, field, "missing");
                return 0;
        }
        if (cJSON_IsNull(v) && nullable) {
                free(*out);
                *out = NULL;
                return 0;
        }
        if (!cJSON_IsString(v))
                return bad(err, field, nullable ? "must be a string or null" : "must be a string");
        if (strlen(v->valuestring) > MAX_STRING)
                return bad(err, field, "too long");
        free(*out);
        *out = xstrdup(v->valuestring);
        return 0;
}

static int get_enum(const cJSON *obj, const char *key, const char *field, const char *const *set,
                    size_t n, char **out, corral_error *err)
{
        int r = get_str(obj, key, field, false, false, out, err);
        if (r < 0)
                return r;
        if (*out && !one_of(*out, set, n)) {
                char why[256];
                size_t len = (size_t)snprintf(why, sizeof(why), "'%.64s' is not one of", *out);
                for (size_t i = 0; i < n && len < sizeof(why); i++)
                        len += (size_t)snprintf(why + len, sizeof(why) - len, "%s %s", i ? "," : "",
                                                set[i]);
                return bad(err, field, why);
        }
        return 0;
}

/* A positive integer member no larger than max (a limit of 0 would keep the
 * server from starting at all). */
static int get_uint(const cJSON *obj, const char *key, const char *field, unsigned max,
                    unsigned *out, corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v)
                return 0;
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > max ||
            v->valuedouble != floor(v->valuedouble)) {
                char why[64];
                snprintf(why, sizeof(why), "must be a whole number from 1 to %u", max);
                return bad(err, field, why);
        }
        *out = (unsigned)v->valuedouble;
        return 0;
}

static const cJSON *get_obj(const cJSON *obj, const char *key, const char *field, bool required,
                            int *r, corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        *r = 0;
        if (!v) {
                if (required)
                        *r = bad(err, field, "missing");
                return NULL;
        }
        if (!cJSON_IsObject(v)) {
                *r = bad(err, field, "must be an object");
                return NULL;
        }
        return v;
}

/* An array of strings, as a NULL-terminated vector. */
static int get_strv(const cJSON *obj, const char *key, const char *field, size_t max, char ***out,
                    corral_error *err)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v)
                return 0;
        if (!cJSON_IsArray(v))
                return bad(err, field, "must be an array of strings");
        size_t n = (size_t)cJSON_GetArraySize(v);
        if (n > max)
                return bad(err, field, "too many entries");
        _cleanup_strv_ char **vec = xcalloc(n + 1, sizeof(char *));
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
                if (!cJSON_IsString(e))
                        return bad(err, field, "must be an array of strings");
                if (strlen(e->valuestring) > MAX_STRING)
                        return bad(err, field, "entry too long");
                vec[i++] = xstrdup(e->valuestring);
        }
        strv_free(*out);
        *out = steal_pointer(&vec);
        return 0;
}

static bool env_key_valid(const char *k)
{
        if (!k[0] || strlen(k) > 256 || isdigit((unsigned char)k[0]))
                return false;
        for (const char *p = k; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_')
                        return false;
        return true;
}

/* A relative path that stays inside the server directory. */
static bool rel_path_valid(const char *s)
{
        if (!s[0] || s[0] == '/')
                return false;
        for (const char *c = s; *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return false;
                c += n;
                if (*c == '/')
                        c++;
        }
        return true;
}

static int parse_source(manifest *m, const cJSON *root, corral_error *err)
{
        int r;
        const cJSON *src = get_obj(root, "source", "source", true, &r, err);
        if (r < 0)
                return r;
        if ((r = get_str(src, "spec", "source.spec", true, false, &m->spec, err)) < 0)
                return r;
        if (!m->spec[0])
                return bad(err, "source.spec", "must not be empty");
        if ((r = get_str(src, "kind", "source.kind", true, false, &m->kind, err)) < 0)
                return r;
        if ((r = get_enum(src, "kind", "source.kind", kinds, ARRAY_SIZE(kinds), &m->kind, err)) < 0)
                return r;

        const cJSON *res = get_obj(src, "resolved", "source.resolved", false, &r, err);
        if (r < 0)
                return r;
        if (res) {
                struct {
                        const char *key, *field;
                        char **out;
                } fields[] = {
                        {"version", "source.resolved.version", &m->resolved_version},
                        {"url", "source.resolved.url", &m->resolved_url},
                        {"integrity", "source.resolved.integrity", &m->resolved_integrity},
                        {"commit", "source.resolved.commit", &m->resolved_commit},
                        {"digest", "source.resolved.digest", &m->resolved_digest},
                };
                for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                        if ((r = get_str(res, fields[i].key, fields[i].field, false, true,
                                         fields[i].out, err)) < 0)
                                return r;
        }

        const cJSON *lock = cJSON_GetObjectItemCaseSensitive(src, "lock");
        if (lock && !cJSON_IsArray(lock))
                return bad(err, "source.lock", "must be an array");
        size_t n = lock ? (size_t)cJSON_GetArraySize(lock) : 0;
        if (n > MAX_LOCK)
                return bad(err, "source.lock", "too many entries");
        m->lock = n ? xcalloc(n, sizeof(*m->lock)) : NULL;
        const cJSON *e;
        cJSON_ArrayForEach(e, lock)
        {
                manifest_lock_entry *l = &m->lock[m->n_lock++];
                if (!cJSON_IsObject(e))
                        return bad(err, "source.lock", "entries must be objects");
                if ((r = get_str(e, "name", "source.lock[].name", true, false, &l->name, err)) <
                            0 ||
                    (r = get_str(e, "version", "source.lock[].version", true, false, &l->version,
                                 err)) < 0 ||
                    (r = get_str(e, "integrity", "source.lock[].integrity", false, true,
                                 &l->integrity, err)) < 0 ||
                    (r = get_str(e, "resolved", "source.lock[].resolved", false, true,
                                 &l->resolved, err)) < 0 ||
                    (r = get_str(e, "path", "source.lock[].path", false, true, &l->path, err)) < 0 ||
                    (r = get_strv(e, "os", "source.lock[].os", 64, &l->os, err)) < 0 ||
                    (r = get_strv(e, "cpu", "source.lock[].cpu", 64, &l->cpu, err)) < 0 ||
                    (r = get_strv(e, "libc", "source.lock[].libc", 64, &l->libc, err)) < 0)
                        return r;
                l->optional = json_get_bool(e, "optional", false);
                l->inert = json_get_bool(e, "inert", false);
        }
        const cJSON *reg = get_obj(src, "registry", "source.registry", false, &r, err);
        if (r < 0)
                return r;
        if (reg) {
                struct {
                        const char *key, *field;
                        char **out;
                } rf[] = {
                        {"url", "source.registry.url", &m->registry_url},
                        {"name", "source.registry.name", &m->registry_name},
                        {"version", "source.registry.version", &m->registry_version},
                        {"package", "source.registry.package", &m->registry_package},
                        {"identifier", "source.registry.identifier", &m->registry_identifier},
                };
                for (size_t i = 0; i < ARRAY_SIZE(rf); i++)
                        if ((r = get_str(reg, rf[i].key, rf[i].field, false, true, rf[i].out,
                                         err)) < 0)
                                return r;
        }
        r = get_strv(src, "scripts_skipped", "source.scripts_skipped", MAX_LOCK,
                     &m->scripts_skipped, err);
        if (r < 0)
                return r;
        return get_strv(src, "engines_unmet", "source.engines_unmet", MAX_LOCK, &m->engines_unmet,
                        err);
}

/* runtime.transport and runtime.headers of the remote backend. */
static int parse_remote(manifest *m, const cJSON *rt, corral_error *err)
{
        static const char *const transports[] = {"http", "sse"};
        static const char *const sessions[] = {"shared", "per_user", "per_user_or_shared"};
        int r;

        if (strcmp(m->backend, "remote") != 0)
                return 0;
        if (strncmp(m->command[0], "https://", 8) != 0 && strncmp(m->command[0], "http://", 7) != 0)
                return bad(err, "runtime.command", "must be [URL] for the remote backend");
        if ((r = get_enum(rt, "transport", "runtime.transport", transports,
                          ARRAY_SIZE(transports), &m->transport, err)) < 0)
                return r;
        if (!m->transport)
                m->transport = xstrdup("http");
        if ((r = get_enum(rt, "sessions", "runtime.sessions", sessions, ARRAY_SIZE(sessions),
                          &m->sessions, err)) < 0)
                return r;
        if ((r = get_uint(rt, "session_idle_s", "runtime.session_idle_s",
                          MANIFEST_SESSION_IDLE_MAX, &m->session_idle_s, err)) < 0)
                return r;
        if (m->session_idle_s && m->session_idle_s < MANIFEST_SESSION_IDLE_MIN)
                return bad(err, "runtime.session_idle_s", "must be a whole number from 2 to 86400");
        if ((r = get_uint(rt, "sessions_max", "runtime.sessions_max", MANIFEST_SESSIONS_MAX,
                          &m->sessions_max, err)) < 0)
                return r;
        const cJSON *h = get_obj(rt, "headers", "runtime.headers", false, &r, err);
        if (r < 0)
                return r;
        size_t n = h ? (size_t)cJSON_GetArraySize(h) : 0;
        if (n > MAX_ENV)
                return bad(err, "runtime.headers", "too many entries");
        m->headers = n ? xcalloc(n, sizeof(*m->headers)) : NULL;
        const cJSON *e;
        cJSON_ArrayForEach(e, h)
        {
                if (!e->string[0] || strpbrk(e->string, ": \t\r\n") || strlen(e->string) > 256)
                        return bad(err, "runtime.headers", "invalid header name");
                if (!cJSON_IsString(e) && !cJSON_IsNull(e))
                        return bad(err, "runtime.headers", "values must be strings or null");
                if (cJSON_IsString(e) &&
                    (strlen(e->valuestring) > MAX_STRING || strpbrk(e->valuestring, "\r\n")))
                        return bad(err, "runtime.headers", "invalid value");
                m->headers[m->n_headers].key = xstrdup(e->string);
                m->headers[m->n_headers].value =
                        cJSON_IsString(e) ? xstrdup(e->valuestring) : NULL;
                m->n_headers++;
        }
        return 0;
}

static int parse_runtime(manifest *m, const cJSON *root, corral_error *err)
{
        int r;
        const cJSON *rt = get_obj(root, "runtime", "runtime", true, &r, err);
        if (r < 0)
                return r;
        if ((r = get_enum(rt, "backend", "runtime.backend", backends, ARRAY_SIZE(backends),
                          &m->backend, err)) < 0)
                return r;
        if (!cJSON_GetObjectItemCaseSensitive(rt, "command"))
                return bad(err, "runtime.command", "missing");
        if ((r = get_strv(rt, "command", "runtime.command", MAX_ARGV, &m->command, err)) < 0)
                return r;
        if (!m->command[0])
                return bad(err, "runtime.command", "must not be empty");
        if (!m->command[0][0])
                return bad(err, "runtime.command", "the program must not be an empty string");

        const cJSON *env = get_obj(rt, "env", "runtime.env", false, &r, err);
        if (r < 0)
                return r;
        size_t n = env ? (size_t)cJSON_GetArraySize(env) : 0;
        if (n > MAX_ENV)
                return bad(err, "runtime.env", "too many entries");
        m->env = n ? xcalloc(n, sizeof(*m->env)) : NULL;
        const cJSON *e;
        cJSON_ArrayForEach(e, env)
        {
                if (!env_key_valid(e->string))
                        return bad(err, "runtime.env", "keys must be [A-Za-z_][A-Za-z0-9_]*");
                for (size_t i = 0; i < m->n_env; i++)
                        if (strcmp(m->env[i].key, e->string) == 0)
                                return bad(err, "runtime.env", "duplicate key");
                if (!cJSON_IsString(e) && !cJSON_IsNull(e))
                        return bad(err, "runtime.env", "values must be strings (null: secret)");
                if (cJSON_IsString(e) && strlen(e->valuestring) > MAX_STRING)
                        return bad(err, "runtime.env", "value too long");
                m->env[m->n_env].key = xstrdup(e->string);
                m->env[m->n_env].value = cJSON_IsString(e) ? xstrdup(e->valuestring) : NULL;
                m->n_env++;
        }

        if ((r = get_str(rt, "cwd", "runtime.cwd", false, false, &m->cwd, err)) < 0)
                return r;
        if ((r = parse_remote(m, rt, err)) < 0)
                return r;
        if (!rel_path_valid(m->cwd))
                return bad(err, "runtime.cwd",
                           "must be a relative path inside the server directory");
        return 0;
}

static int parse_sandbox(manifest *m, const cJSON *root, corral_error *err)
{
        int r;
        const cJSON *sb = get_obj(root, "sandbox", "sandbox", false, &r, err);
        if (r < 0 || !sb)
                return r;
        if ((r = get_enum(sb, "profile", "sandbox.profile", profiles, ARRAY_SIZE(profiles),
                          &m->profile, err)) < 0 ||
            (r = get_enum(sb, "network", "sandbox.network", networks, ARRAY_SIZE(networks),
                          &m->network, err)) < 0 ||
            (r = get_enum(sb, "code", "sandbox.code", codes, ARRAY_SIZE(codes), &m->code, err)) <
                    0 ||
            (r = get_strv(sb, "mounts", "sandbox.mounts", MAX_MOUNTS, &m->mounts, err)) < 0 ||
            (r = get_uint(sb, "memory_mb", "sandbox.memory_mb", MAX_MEMORY_MB, &m->memory_mb,
                          err)) < 0 ||
            (r = get_uint(sb, "pids", "sandbox.pids", MAX_PIDS, &m->pids, err)) < 0)
                return r;
        const cJSON *run_as = get_obj(sb, "run_as", "sandbox.run_as", false, &r, err);
        if (r < 0)
                return r;
        if (run_as && ((r = get_uint(run_as, "uid", "sandbox.run_as.uid", INT32_MAX, &m->run_uid,
                                     err)) < 0 ||
                       (r = get_uint(run_as, "gid", "sandbox.run_as.gid", INT32_MAX, &m->run_gid,
                                     err)) < 0))
                return r;
        if (run_as && (!m->run_uid || !m->run_gid))
                return bad(err, "sandbox.run_as", "needs both uid and gid, neither 0");
        const cJSON *cpus = cJSON_GetObjectItemCaseSensitive(sb, "cpus");
        if (cpus) {
                if (!cJSON_IsNumber(cpus) || !(cpus->valuedouble > 0) ||
                    cpus->valuedouble > MAX_CPUS)
                        return bad(err, "sandbox.cpus", "must be a number above 0, at most 4096");
                m->cpus = cpus->valuedouble;
        }
        return 0;
}

#define ACCESS_TOOLS_MAX 4096

static int parse_level(const cJSON *v, const char *field, corral_level *out, corral_error *err)
{
        if (!cJSON_IsString(v) || corral_level_parse(v->valuestring, out) < 0)
                return bad(err, field, "must be \"public\", \"trusted\" or \"anchor\"");
        return 0;
}

/* "access": {"level": L, "tools": {TOOL: L}}; absent: trusted for all. */
static int parse_access(manifest *m, const cJSON *root, corral_error *err)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "access"), *tools, *t;
        int r;

        if (!a)
                return 0;
        if (!cJSON_IsObject(a))
                return bad(err, "access", "must be an object");
        if (cJSON_HasObjectItem(a, "level") &&
            (r = parse_level(cJSON_GetObjectItemCaseSensitive(a, "level"), "access.level",
                             &m->access_level, err)) < 0)
                return r;
        tools = cJSON_GetObjectItemCaseSensitive(a, "tools");
        if (!tools)
                return 0;
        if (!cJSON_IsObject(tools) || cJSON_GetArraySize(tools) > ACCESS_TOOLS_MAX)
                return bad(err, "access.tools", "must be an object of at most 4096 tools");
        cJSON_ArrayForEach(t, tools)
        {
                corral_level l;
                if ((r = parse_level(t, "access.tools", &l, err)) < 0)
                        return r;
                (void)manifest_set_access(m, t->string, l);
        }
        return 0;
}

corral_level manifest_tool_level(const manifest *m, const char *tool)
{
        for (size_t i = 0; tool && i < m->n_tool_access; i++)
                if (strcmp(m->tool_access[i].tool, tool) == 0)
                        return m->tool_access[i].level;
        return m->access_level;
}

int manifest_set_access(manifest *m, const char *tool, corral_level level)
{
        if (!tool) {
                m->access_level = level;
                return 0;
        }
        for (size_t i = 0; i < m->n_tool_access; i++)
                if (strcmp(m->tool_access[i].tool, tool) == 0) {
                        m->tool_access[i].level = level;
                        return 0;
                }
        m->tool_access = xrealloc(m->tool_access, (m->n_tool_access + 1) * sizeof(*m->tool_access));
        m->tool_access[m->n_tool_access++] = (manifest_tool_access){xstrdup(tool), level};
        return 0;
}

static int parse_root(manifest *m, const cJSON *root, corral_error *err)
{
        int r;
        if (!cJSON_IsObject(root))
                return corral_error_set(err, EX_DATAERR, "invalid manifest: not a JSON object");

        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "manifest_version");
        if (!ver)
                return bad(err, "manifest_version", "missing");
        if (!cJSON_IsNumber(ver))
                return bad(err, "manifest_version", "must be a number");
        if (ver->valuedouble != MANIFEST_VERSION)
                return corral_error_set(err, EX_DATAERR,
                                        "invalid manifest: manifest_version: unsupported version "
                                        "%g (this corral reads version %d)",
                                        ver->valuedouble, MANIFEST_VERSION);

        if ((r = get_str(root, "name", "name", true, false, &m->name, err)) < 0)
                return r;
        if (!server_name_valid(m->name))
                return corral_error_set(err, EX_DATAERR,
                                        "invalid manifest: name: '%.64s' is not a valid server "
                                        "name ([a-z0-9][a-z0-9-]{0,47})",
                                        m->name);
        if ((r = parse_source(m, root, err)) < 0 || (r = parse_runtime(m, root, err)) < 0 ||
            (r = parse_sandbox(m, root, err)) < 0)
                return r;
        if ((r = get_enum(root, "restart", "restart", restarts, ARRAY_SIZE(restarts), &m->restart,
                          err)) < 0)
                return r;
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(root, "enabled");
        if (en) {
                if (!cJSON_IsBool(en))
                        return bad(err, "enabled", "must be true or false");
                m->enabled = cJSON_IsTrue(en);
        }
        if ((r = parse_access(m, root, err)) < 0)
                return r;
        if ((r = get_str(root, "owner", "owner", false, true, &m->owner, err)) < 0 ||
            (r = get_str(root, "installed_at", "installed_at", true, false, &m->installed_at,
                         err)) < 0 ||
            (r = get_str(root, "corral_version", "corral_version", true, false, &m->corral_version,
                         err)) < 0)
                return r;
        return 0;
}

int manifest_parse(manifest **ret, const char *json, size_t len, corral_error *err)
{
        if (len > MANIFEST_MAX_BYTES)
                return corral_error_set(err, EX_DATAERR, "invalid manifest: larger than %u bytes",
                                        MANIFEST_MAX_BYTES);
        _cleanup_json_ cJSON *root = cJSON_ParseWithLength(json, len);
        if (!root)
                return corral_error_set(err, EX_DATAERR, "invalid manifest: not valid JSON");

        _cleanup_(manifest_freep) manifest *m = manifest_new("");
        int r = parse_root(m, root, err);
        if (r < 0)
                return r;
        *ret = steal_pointer(&m);
        return 0;
}

int manifest_load(manifest **ret, const char *path, corral_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file(path, MANIFEST_MAX_BYTES, &data, &len);
        if (r == -ENOENT)
                return corral_error_set(err, EX_NOINPUT, "%s does not exist", path);
        if (r == -EFBIG)
                return corral_error_set(err, EX_DATAERR,
                                        "invalid manifest: %s is larger than %u bytes", path,
                                        MANIFEST_MAX_BYTES);
        if (r < 0)
                return corral_error_errno(err, r == -EACCES ? EX_NOPERM : EX_IOERR, -r,
                                          "cannot read %s", path);
        return manifest_parse(ret, data, len, err);
}

const char *manifest_code(const manifest *m)
{
        if (m->code)
                return m->code;
        return m->profile && strcmp(m->profile, "strict") == 0 ? "readonly" : "overlay";
}

char *manifest_secret_env(const char *server_dir, const char *key)
{
        _cleanup_free_ char *sp = path_join(server_dir, "secrets.json");
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        size_t len = 0;
        const char *v;

        if (read_file(sp, MANIFEST_MAX_BYTES, &data, &len) < 0)
                return NULL;
        doc = cJSON_ParseWithLength(data, len);
        v = json_get_string(json_get_object(doc, "env"), key);
        return v ? xstrdup(v) : NULL;
}
