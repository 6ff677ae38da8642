/* manifest.json version 1, written and compared (DESIGN.md, "manifest.json");
 * parsing and validation are in manifest.c. */
#include <string.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"

/* ---- formatting ------------------------------------------------------- */

static cJSON *str_or_null(const char *s)
{
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *strv_json(char *const *v)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; v && v[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

cJSON *manifest_to_json(const manifest *m)
{
        cJSON *root = cJSON_CreateObject();
        if (!root)
                abort();
        cJSON_AddNumberToObject(root, "manifest_version", MANIFEST_VERSION);
        cJSON_AddItemToObject(root, "name", str_or_null(m->name));

        cJSON *src = cJSON_AddObjectToObject(root, "source");
        cJSON_AddItemToObject(src, "spec", str_or_null(m->spec));
        cJSON_AddItemToObject(src, "kind", str_or_null(m->kind));
        cJSON *res = cJSON_AddObjectToObject(src, "resolved");
        cJSON_AddItemToObject(res, "version", str_or_null(m->resolved_version));
        cJSON_AddItemToObject(res, "url", str_or_null(m->resolved_url));
        cJSON_AddItemToObject(res, "integrity", str_or_null(m->resolved_integrity));
        cJSON_AddItemToObject(res, "commit", str_or_null(m->resolved_commit));
        cJSON_AddItemToObject(res, "digest", str_or_null(m->resolved_digest));
        cJSON *lock = cJSON_AddArrayToObject(src, "lock");
        for (size_t i = 0; i < m->n_lock; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddItemToObject(e, "name", str_or_null(m->lock[i].name));
                cJSON_AddItemToObject(e, "version", str_or_null(m->lock[i].version));
                cJSON_AddItemToObject(e, "integrity", str_or_null(m->lock[i].integrity));
                if (m->lock[i].resolved)
                        cJSON_AddStringToObject(e, "resolved", m->lock[i].resolved);
                if (m->lock[i].path)
                        cJSON_AddStringToObject(e, "path", m->lock[i].path);
                if (m->lock[i].optional)
                        cJSON_AddBoolToObject(e, "optional", true);
                if (m->lock[i].inert)
                        cJSON_AddBoolToObject(e, "inert", true);
                if (m->lock[i].os)
                        cJSON_AddItemToObject(e, "os", strv_json(m->lock[i].os));
                if (m->lock[i].cpu)
                        cJSON_AddItemToObject(e, "cpu", strv_json(m->lock[i].cpu));
                if (m->lock[i].libc)
                        cJSON_AddItemToObject(e, "libc", strv_json(m->lock[i].libc));
                cJSON_AddItemToArray(lock, e);
        }
        if (m->scripts_skipped)
                cJSON_AddItemToObject(src, "scripts_skipped", strv_json(m->scripts_skipped));
        if (m->engines_unmet)
                cJSON_AddItemToObject(src, "engines_unmet", strv_json(m->engines_unmet));
        if (m->registry_url) {
                cJSON *reg = cJSON_AddObjectToObject(src, "registry");
                cJSON_AddItemToObject(reg, "url", str_or_null(m->registry_url));
                cJSON_AddItemToObject(reg, "name", str_or_null(m->registry_name));
                cJSON_AddItemToObject(reg, "version", str_or_null(m->registry_version));
                cJSON_AddItemToObject(reg, "package", str_or_null(m->registry_package));
                cJSON_AddItemToObject(reg, "identifier", str_or_null(m->registry_identifier));
        }

        cJSON *rt = cJSON_AddObjectToObject(root, "runtime");
        cJSON_AddItemToObject(rt, "backend", str_or_null(m->backend));
        cJSON_AddItemToObject(rt, "command", strv_json(m->command));
        cJSON *env = cJSON_AddObjectToObject(rt, "env");
        for (size_t i = 0; i < m->n_env; i++)
                cJSON_AddItemToObject(env, m->env[i].key, str_or_null(m->env[i].value));
        cJSON_AddItemToObject(rt, "cwd", str_or_null(m->cwd));
        if (m->transport)
                cJSON_AddStringToObject(rt, "transport", m->transport);
        if (m->sessions)
                cJSON_AddStringToObject(rt, "sessions", m->sessions);
        if (m->session_idle_s)
                cJSON_AddNumberToObject(rt, "session_idle_s", m->session_idle_s);
        if (m->sessions_max)
                cJSON_AddNumberToObject(rt, "sessions_max", m->sessions_max);
        if (m->n_headers) {
                cJSON *hd = cJSON_AddObjectToObject(rt, "headers");
                for (size_t i = 0; i < m->n_headers; i++)
                        cJSON_AddItemToObject(hd, m->headers[i].key,
                                              str_or_null(m->headers[i].value));
        }

        cJSON *sb = cJSON_AddObjectToObject(root, "sandbox");
        cJSON_AddItemToObject(sb, "profile", str_or_null(m->profile));
        cJSON_AddItemToObject(sb, "network", str_or_null(m->network));
        if (m->code)
                cJSON_AddStringToObject(sb, "code", m->code);
        cJSON_AddItemToObject(sb, "mounts", strv_json(m->mounts));
        if (m->run_uid) {
                cJSON *ra = cJSON_AddObjectToObject(sb, "run_as");
                cJSON_AddNumberToObject(ra, "uid", m->run_uid);
                cJSON_AddNumberToObject(ra, "gid", m->run_gid);
        }
        cJSON_AddNumberToObject(sb, "memory_mb", m->memory_mb);
        cJSON_AddNumberToObject(sb, "pids", m->pids);
        cJSON_AddNumberToObject(sb, "cpus", m->cpus);

        cJSON_AddItemToObject(root, "restart", str_or_null(m->restart));
        cJSON_AddBoolToObject(root, "enabled", m->enabled);
        cJSON_AddItemToObject(root, "owner", str_or_null(m->owner));
        cJSON *acc = cJSON_AddObjectToObject(root, "access");
        cJSON_AddStringToObject(acc, "level", corral_level_name(m->access_level));
        if (m->n_tool_access) {
                cJSON *tools = cJSON_AddObjectToObject(acc, "tools");
                for (size_t i = 0; i < m->n_tool_access; i++)
                        cJSON_AddStringToObject(tools, m->tool_access[i].tool,
                                                corral_level_name(m->tool_access[i].level));
        }
        cJSON_AddItemToObject(root, "installed_at", str_or_null(m->installed_at));
        cJSON_AddItemToObject(root, "corral_version", str_or_null(m->corral_version));
        return root;
}

char *manifest_format(const manifest *m)
{
        _cleanup_json_ cJSON *root = manifest_to_json(m);
        _cleanup_free_ char *text = cJSON_Print(root);
        if (!text)
                abort();
        return xasprintf("%s\n", text);
}

int manifest_save(const manifest *m, const char *path, corral_error *err)
{
        _cleanup_free_ char *text = manifest_format(m);
        int r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", path);
        return 0;
}

/* ---- comparison ------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, char *const *b)
{
        size_t na = strv_length(a), nb = strv_length(b);
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

bool manifest_same_runtime(const manifest *a, const manifest *b)
{
        if (!a || !b)
                return a == b;
        if (!str_eq(a->name, b->name) || !str_eq(a->spec, b->spec) || !str_eq(a->kind, b->kind) ||
            !str_eq(a->resolved_version, b->resolved_version) ||
            !str_eq(a->resolved_url, b->resolved_url) ||
            !str_eq(a->resolved_integrity, b->resolved_integrity) ||
            !str_eq(a->resolved_commit, b->resolved_commit) ||
            !str_eq(a->resolved_digest, b->resolved_digest) || a->n_lock != b->n_lock ||
            !str_eq(a->backend, b->backend) || !strv_eq(a->command, b->command) ||
            a->n_env != b->n_env || !str_eq(a->cwd, b->cwd) || !str_eq(a->profile, b->profile) ||
            !str_eq(a->network, b->network) || !str_eq(a->code, b->code) ||
            !strv_eq(a->mounts, b->mounts) ||
            a->memory_mb != b->memory_mb || a->pids != b->pids || a->cpus != b->cpus ||
            a->run_uid != b->run_uid || a->run_gid != b->run_gid ||
            !str_eq(a->restart, b->restart) || !str_eq(a->owner, b->owner) ||
            !str_eq(a->corral_version, b->corral_version))
                return false;
        for (size_t i = 0; i < a->n_lock; i++)
                if (!str_eq(a->lock[i].name, b->lock[i].name) ||
                    !str_eq(a->lock[i].version, b->lock[i].version) ||
                    !str_eq(a->lock[i].integrity, b->lock[i].integrity))
                        return false;
        for (size_t i = 0; i < a->n_env; i++)
                if (!str_eq(a->env[i].key, b->env[i].key) ||
                    !str_eq(a->env[i].value, b->env[i].value))
                        return false;
        if (!str_eq(a->transport, b->transport) || !str_eq(a->sessions, b->sessions) ||
            a->n_headers != b->n_headers)
                return false;
        for (size_t i = 0; i < a->n_headers; i++)
                if (!str_eq(a->headers[i].key, b->headers[i].key) ||
                    !str_eq(a->headers[i].value, b->headers[i].value))
                        return false;
        return true;
}

static bool tool_access_in(const manifest *m, const manifest_tool_access *t)
{
        for (size_t i = 0; i < m->n_tool_access; i++)
                if (str_eq(m->tool_access[i].tool, t->tool))
                        return m->tool_access[i].level == t->level;
        return false;
}

bool manifest_same_access(const manifest *a, const manifest *b)
{
        if (!a || !b)
                return a == b;
        if (a->access_level != b->access_level || a->n_tool_access != b->n_tool_access)
                return false;
        for (size_t i = 0; i < a->n_tool_access; i++)
                if (!tool_access_in(b, &a->tool_access[i]))
                        return false;
        return true;
}
