/* Client configs → install plans (include/corral/importer.h): the document's
 * shape, each entry's values, names and secrets. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/spec.h"
#include "corral/strbuf.h"
#include "internal.h"

#define MAX_ARGS 256
#define MAX_ENV 256
#define MAX_NOTES 64

void import_note(import_entry *e, const char *fmt, ...)
{
        va_list ap;
        char buf[512];

        if (strv_length(e->notes) >= MAX_NOTES)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        e->notes = strv_push(e->notes, buf);
}

int import_refuse(import_entry *e, import_action action, const char *fmt, ...)
{
        va_list ap;
        char buf[768];

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (e->action == IMPORT_INSTALL) {
                e->action = action;
                free(e->reason);
                e->reason = xstrdup(buf);
        }
        return 0;
}

/* Whole words of a name (split at '_', '-', case changes are not split):
 * API_KEY, GITHUB_PERSONAL_ACCESS_TOKEN, X-Api-Key, Authorization. */
bool importer_name_is_secret(const char *name)
{
        static const char *const words[] = {"token",  "secret",     "password", "passwd",
                                             "pass",   "key",        "apikey",   "auth",
                                             "authorization", "credential", "credentials",
                                             "cookie", "pat",        "private",  "session",
                                             "bearer", "signature",  NULL};
        _cleanup_free_ char *copy = xstrdup(name);
        char *save = NULL;

        for (char *w = strtok_r(copy, "_-.", &save); w; w = strtok_r(NULL, "_-.", &save)) {
                for (const char *const *k = words; *k; k++)
                        if (strcasecmp(w, *k) == 0)
                                return true;
                /* APIKEY, ACCESSTOKEN, CLIENTSECRET written as one word */
                size_t n = strlen(w);
                if ((n > 5 && strcasecmp(w + n - 5, "token") == 0) ||
                    (n > 6 && strcasecmp(w + n - 6, "secret") == 0))
                        return true;
        }
        return false;
}

char *import_escape(const char *s)
{
        strbuf b = STRBUF_INIT(0);
        for (const char *p = s; *p; p++)
                (void)strbuf_append(&b, *p == '$' ? "$$" : p, *p == '$' ? 2 : 1);
        return strbuf_steal(&b);
}

void import_set_remote(import_entry *e, char *take_url, const char *transport)
{
        free(e->spec);
        e->spec = take_url;
        free(e->kind);
        e->kind = xstrdup("remote");
        e->remote = true;
        free(e->transport);
        e->transport = xstrdup(transport);
}

void import_add_env(import_entry *e, const char *key, const char *value, bool secret)
{
        char ***list = secret ? &e->secret_env : &e->env;
        char **other = secret ? e->env : e->secret_env;
        size_t klen = strlen(key);
        /* Values in the manifest are expanded again at start: a "$" that
         * is already final is written "$$".  Secrets are used as stored. */
        _cleanup_free_ char *esc = secret ? xstrdup(value) : import_escape(value);
        _cleanup_free_ char *kv = xasprintf("%s=%s", key, esc);

        /* The later one wins, as in docker run and a client's env. */
        for (int pass = 0; pass < 2; pass++) {
                char **v = pass == 0 ? *list : other;
                for (size_t i = 0; v && v[i]; i++)
                        if (strncmp(v[i], key, klen) == 0 && v[i][klen] == '=') {
                                free(v[i]);
                                size_t j = i;
                                for (; v[j + 1]; j++)
                                        v[j] = v[j + 1];
                                v[j] = NULL;
                                break;
                        }
        }
        if (strv_length(e->env) + strv_length(e->secret_env) >= MAX_ENV) {
                (void)import_refuse(e, IMPORT_REFUSED, "more than %d env entries", MAX_ENV);
                return;
        }
        *list = strv_push(*list, kv);
}

char *importer_server_name(const char *name)
{
        char out[49];
        size_t n = 0;
        bool dash = false;

        for (const char *p = name; *p && n < sizeof(out) - 1; p++) {
                unsigned char c = (unsigned char)*p;
                if (isalnum(c) && c < 0x80) {
                        if (dash && n > 0)
                                out[n++] = '-';
                        dash = false;
                        if (n < sizeof(out) - 1)
                                out[n++] = (char)tolower(c);
                } else {
                        dash = true;
                }
        }
        while (n > 0 && out[n - 1] == '-')
                n--;
        out[n] = '\0';
        return xstrdup(n ? out : "server");
}

char *importer_input_var(const char *id)
{
        strbuf b = STRBUF_INIT(256);
        (void)strbuf_append(&b, "CORRAL_INPUT_", 13);
        for (const char *p = id; *p; p++) {
                char c = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
                if (strbuf_append(&b, &c, 1) < 0)
                        break;
        }
        return strbuf_steal(&b);
}

/* ---- values --------------------------------------------------------- */

typedef struct value_ctx {
        const import_context *ic;
        const cJSON *inputs; /* VS Code "inputs" */
        cJSON *input_cache;  /* id → value asked once */
        import_entry *e;
        cJSON *env_values;   /* the entry's env (envFile, "env") as resolved: name → value */
        cJSON *env_secrets;  /* names of those that are secrets → true */
        bool env_first;      /* ${VAR} reads env_values before the environment */
        bool hit_secret;     /* set when a secret of env_values went into a value */
} value_ctx;

static const char *lookup(value_ctx *v, const char *name)
{
        if (v->env_first) {
                const char *s = json_get_string(v->env_values, name);
                if (s) {
                        v->hit_secret |= cJSON_IsTrue(
                                cJSON_GetObjectItemCaseSensitive(v->env_secrets, name));
                        return s;
                }
        }
        if (v->ic->lookup)
                return v->ic->lookup(v->ic->lookup_ud, name);
        return expand_getenv(NULL, name);
}

/* Adds KEY=VALUE to the entry's env and to v's table of resolved values. */
static void add_env(value_ctx *v, const char *key, const char *value, bool secret)
{
        import_add_env(v->e, key, value, secret);
        cJSON_DeleteItemFromObjectCaseSensitive(v->env_values, key);
        cJSON_AddStringToObject(v->env_values, key, value);
        cJSON_DeleteItemFromObjectCaseSensitive(v->env_secrets, key);
        if (secret)
                cJSON_AddTrueToObject(v->env_secrets, key);
}

static const char *lookup_fn(void *ud, const char *name)
{
        return lookup(ud, name);
}

/* VS Code's own ${…} forms, then ${VAR} expansion.  *ret_secret is set when
 * an input with "password": true went into the value.  NULL after refusing
 * the entry. */
static char *resolve_value(value_ctx *v, const char *s, bool *ret_secret)
{
        strbuf b = STRBUF_INIT(EXPAND_MAX_BYTES);
        const char *p = s;
        corral_error err = {0};
        char *out = NULL;

        while (*p) {
                const char *d = strstr(p, "${");
                if (!d) {
                        (void)strbuf_append(&b, p, strlen(p));
                        break;
                }
                (void)strbuf_append(&b, p, (size_t)(d - p));
                const char *close = strchr(d, '}');
                if (strncmp(d, "${input:", 8) == 0 && close) {
                        _cleanup_free_ char *id = xstrndup(d + 8, (size_t)(close - d - 8));
                        const char *val = json_get_string(v->input_cache, id);
                        const cJSON *decl = NULL, *it;
                        cJSON_ArrayForEach(it, v->inputs)
                        {
                                const char *iid = json_get_string(it, "id");
                                if (iid && strcmp(iid, id) == 0)
                                        decl = it;
                        }
                        bool password = json_get_bool(decl, "password", false);
                        if (!val && v->ic->input) {
                                _cleanup_free_ char *got = v->ic->input(
                                        v->ic->input_ud, id, password,
                                        json_get_string(decl, "description"));
                                if (got) {
                                        cJSON_AddStringToObject(v->input_cache, id, got);
                                        val = json_get_string(v->input_cache, id);
                                }
                        }
                        if (!val) {
                                strbuf_done(&b);
                                _cleanup_free_ char *var = importer_input_var(id);
                                (void)import_refuse(v->e, IMPORT_REFUSED,
                                                    "input '%.64s' has no value (set %s, or "
                                                    "import on a terminal)",
                                                    id, var);
                                return NULL;
                        }
                        if (password)
                                *ret_secret = true;
                        /* Not expanded again: a "$" in a password stays one. */
                        for (const char *q = val; *q; q++)
                                (void)strbuf_append(&b, *q == '$' ? "$$" : q, *q == '$' ? 2 : 1);
                        p = close + 1;
                } else if (strncmp(d, "${env:", 6) == 0 && close) {
                        (void)strbuf_append(&b, "${", 2);
                        p = d + 6;
                } else if (strncmp(d, "${userHome}", 11) == 0) {
                        const char *h = lookup(v, "HOME");
                        (void)strbuf_append(&b, h ? h : "", h ? strlen(h) : 0);
                        p = d + 11;
                } else if (strncmp(d, "${workspaceFolder}", 18) == 0) {
                        const char *w = v->ic->base_dir ? v->ic->base_dir : ".";
                        (void)strbuf_append(&b, w, strlen(w));
                        p = d + 18;
                } else {
                        (void)strbuf_append(&b, "${", 2);
                        p = d + 2;
                }
        }
        _cleanup_free_ char *pre = strbuf_steal(&b);
        if (expand_vars(pre, lookup_fn, v, &out, &err) < 0) {
                (void)import_refuse(v->e, IMPORT_REFUSED, "%s", err.msg);
                return NULL;
        }
        return out;
}

/* A string array (args): resolved values, or NULL after refusing. */
static char **resolve_args(value_ctx *v, const cJSON *args, bool *ret_secret)
{
        const cJSON *a;
        char **out = xcalloc(1, sizeof(char *));

        if (args && (!cJSON_IsArray(args) || cJSON_GetArraySize(args) > MAX_ARGS)) {
                strv_free(out);
                (void)import_refuse(v->e, IMPORT_REFUSED,
                                    "\"args\" must be an array of at most %d strings", MAX_ARGS);
                return NULL;
        }
        cJSON_ArrayForEach(a, args)
        {
                if (!cJSON_IsString(a)) {
                        strv_free(out);
                        (void)import_refuse(v->e, IMPORT_REFUSED,
                                            "\"args\" must hold strings only");
                        return NULL;
                }
                char *s = resolve_value(v, a->valuestring, ret_secret);
                if (!s) {
                        strv_free(out);
                        return NULL;
                }
                out = strv_push(out, s);
                free(s);
        }
        return out;
}

/* docker's `-e NAME`: the entry's env, then the caller's environment. */
static const char *entry_env_lookup(void *ud, const char *name, bool *ret_secret)
{
        value_ctx *v = ud;
        for (size_t pass = 0; pass < 2; pass++) {
                char **list = pass ? v->e->secret_env : v->e->env;
                size_t n = strlen(name);
                for (size_t i = 0; list && list[i]; i++)
                        if (strncmp(list[i], name, n) == 0 && list[i][n] == '=') {
                                *ret_secret = *ret_secret || pass == 1;
                                return list[i] + n + 1;
                        }
        }
        return lookup(v, name);
}

bool import_header_is_secret(const char *name)
{
        return strcasecmp(name, "Authorization") == 0 ||
               strcasecmp(name, "Proxy-Authorization") == 0 || importer_name_is_secret(name);
}

static void envfile_add(void *ud, const char *key, const char *value)
{
        add_env(ud, key, value, importer_name_is_secret(key));
}

/* VS Code's "envFile" (relative to the config's project) into the entry's
 * env; false after refusing the entry. */
static bool read_env_file(value_ctx *v, const char *file)
{
        bool secret = false;
        _cleanup_free_ char *name = resolve_value(v, file, &secret);
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *why = NULL;
        size_t len = 0, before = strv_length(v->e->env) + strv_length(v->e->secret_env);
        int r;

        if (!name)
                return false;
        path = name[0] == '/' ? xstrdup(name)
                              : path_join(v->ic->base_dir ? v->ic->base_dir : ".", name);
        r = read_file(path, IMPORT_ENVFILE_MAX_BYTES, &text, &len);
        if (r == -EFBIG)
                return import_refuse(v->e, IMPORT_REFUSED, "envFile %.256s: larger than %u bytes",
                                     path, IMPORT_ENVFILE_MAX_BYTES),
                       false;
        if (r < 0)
                return import_refuse(v->e, IMPORT_REFUSED, "envFile %.256s: cannot read it: %s",
                                     path, strerror(-r)),
                       false;
        size_t bad = import_dotenv(text, len, envfile_add, v, &why);
        if (bad)
                return import_refuse(v->e, IMPORT_REFUSED, "envFile %.256s, line %zu: %s", path,
                                     bad, why),
                       false;
        if (v->e->action != IMPORT_INSTALL)
                return false;
        import_note(v->e, "env from %s (%zu variables; \"env\" wins over it)", path,
                    strv_length(v->e->env) + strv_length(v->e->secret_env) - before);
        return true;
}

/* npx mcp-remote's arguments, each resolved with the entry's env first
 * (that is where the proxy takes them from), → import_mcp_remote(). */
static void map_mcp_remote(value_ctx *v, import_entry *e, const cJSON *args_json)
{
        const cJSON *a;
        size_t n, i = 0;
        char **args;
        bool *secret;

        if (!cJSON_IsArray(args_json) || cJSON_GetArraySize(args_json) > MAX_ARGS) {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "\"args\" must be an array of at most %d strings", MAX_ARGS);
                return;
        }
        n = (size_t)cJSON_GetArraySize(args_json);
        args = xcalloc(n + 1, sizeof(char *));
        secret = xcalloc(n + 1, sizeof(bool));
        v->env_first = true;
        cJSON_ArrayForEach(a, args_json)
        {
                bool pw = false;
                if (!cJSON_IsString(a)) {
                        (void)import_refuse(e, IMPORT_REFUSED, "\"args\" must hold strings only");
                        goto out;
                }
                v->hit_secret = false;
                if (!(args[i] = resolve_value(v, a->valuestring, &pw)))
                        goto out;
                secret[i++] = pw || v->hit_secret;
        }
        import_mcp_remote(e, args, secret, n);
out:
        v->env_first = false;
        for (i = 0; i < n; i++)
                free(args[i]);
        free(args);
        free(secret);
}

static void map_entry(value_ctx *v, import_entry *e, const cJSON *j)
{
        static const char *const known[] = {"command", "args",     "env",  "cwd",
                                            "type",    "url",      "headers", "disabled",
                                            "transport", "envFile", "description", NULL};
        const cJSON *it;
        const char *type = json_get_string(j, "type");
        const char *url = json_get_string(j, "url");
        const char *command = json_get_string(j, "command");

        if (!cJSON_IsObject(j)) {
                (void)import_refuse(e, IMPORT_REFUSED, "the entry is not a JSON object");
                return;
        }
        cJSON_ArrayForEach(it, j)
        {
                bool ok = false;
                for (const char *const *k = known; *k && !ok; k++)
                        ok = strcmp(it->string, *k) == 0;
                if (!ok)
                        import_note(e, "key \"%.64s\" ignored", it->string);
        }
        e->disabled = json_get_bool(j, "disabled", false);
        const cJSON *envfile = cJSON_GetObjectItemCaseSensitive(j, "envFile");
        if (envfile && !cJSON_IsString(envfile)) {
                (void)import_refuse(e, IMPORT_REFUSED, "\"envFile\" must be a path");
                return;
        }
        if (envfile && !read_env_file(v, envfile->valuestring))
                return;

        /* env first: docker's -e NAME reads it. */
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(j, "env");
        if (env && !cJSON_IsObject(env)) {
                (void)import_refuse(e, IMPORT_REFUSED, "\"env\" must be an object of strings");
                return;
        }
        cJSON_ArrayForEach(it, env)
        {
                bool secret = false, key_ok = it->string[0] && !isdigit((unsigned char)it->string[0]);
                for (const char *k = it->string; *k && key_ok; k++)
                        key_ok = isalnum((unsigned char)*k) || *k == '_';
                if (!key_ok || !cJSON_IsString(it)) {
                        (void)import_refuse(e, IMPORT_REFUSED,
                                            "env \"%.64s\": names are letters, digits and '_', "
                                            "values strings",
                                            it->string);
                        return;
                }
                _cleanup_free_ char *val = resolve_value(v, it->valuestring, &secret);
                if (!val)
                        return;
                add_env(v, it->string, val, secret || importer_name_is_secret(it->string));
        }

        if (url || (type && (strcmp(type, "http") == 0 || strcmp(type, "sse") == 0 ||
                             strcmp(type, "streamable-http") == 0 ||
                             strcmp(type, "streamableHttp") == 0))) {
                bool secret = false;
                if (!url) {
                        (void)import_refuse(e, IMPORT_REFUSED, "type %s needs a \"url\"", type);
                        return;
                }
                _cleanup_free_ char *u = resolve_value(v, url, &secret);
                if (!u)
                        return;
                import_set_remote(e, steal_pointer(&u),
                                  type && strcmp(type, "sse") == 0 ? "sse" : "http");
                if (command)
                        import_note(e, "\"command\" ignored: the entry has a url");
                if (e->env || e->secret_env) {
                        import_note(e, "\"env\" ignored: a remote server runs no process here");
                        strv_free(e->env);
                        strv_free(e->secret_env);
                        e->env = e->secret_env = NULL;
                }
                const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "headers");
                if (h && !cJSON_IsObject(h)) {
                        (void)import_refuse(e, IMPORT_REFUSED, "\"headers\" must be an object");
                        return;
                }
                cJSON_ArrayForEach(it, h)
                {
                        bool hs = false;
                        if (!cJSON_IsString(it)) {
                                (void)import_refuse(e, IMPORT_REFUSED,
                                                    "header %.64s: the value must be a string",
                                                    it->string);
                                return;
                        }
                        _cleanup_free_ char *val = resolve_value(v, it->valuestring, &hs);
                        if (!val)
                                return;
                        _cleanup_free_ char *line = xasprintf("%s: %s", it->string, val);
                        if (hs || import_header_is_secret(it->string))
                                e->secret_headers = strv_push(e->secret_headers, line);
                        else
                                e->headers = strv_push(e->headers, line);
                }
                return;
        }
        if (type && strcmp(type, "stdio") != 0) {
                (void)import_refuse(e, IMPORT_REFUSED, "unknown server type \"%.32s\"", type);
                return;
        }
        if (!command) {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "the entry has neither a \"command\" nor a \"url\"");
                return;
        }
        if (import_runs_mcp_remote(command, cJSON_GetObjectItemCaseSensitive(j, "args"))) {
                map_mcp_remote(v, e, cJSON_GetObjectItemCaseSensitive(j, "args"));
                return;
        }
        bool secret_args = false;
        _cleanup_free_ char *cmd = resolve_value(v, command, &secret_args);
        _cleanup_strv_ char **args =
                cmd ? resolve_args(v, cJSON_GetObjectItemCaseSensitive(j, "args"), &secret_args)
                    : NULL;
        if (!cmd || !args)
                return;
        if (secret_args) {
                /* Arguments reach argv, which is not where secrets belong. */
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "a password input is used in the command line; pass it "
                                    "in \"env\" instead");
                return;
        }
        _cleanup_free_ char *cwd = NULL;
        const char *base = v->ic->base_dir;
        if (json_get_string(j, "cwd")) {
                bool s2 = false;
                cwd = resolve_value(v, json_get_string(j, "cwd"), &s2);
                if (!cwd)
                        return;
                base = cwd;
        }
        import_command(e, cmd, args, base, entry_env_lookup, v);
}

/* ---- documents ------------------------------------------------------ */

void import_plan_done(import_plan *p)
{
        for (size_t i = 0; p && i < p->n; i++) {
                import_entry *e = &p->entries[i];
                free(e->key);
                free(e->name);
                free(e->reason);
                strv_free(e->notes);
                free(e->spec);
                free(e->kind);
                free(e->transport);
                strv_free(e->command);
                strv_free(e->image_args);
                strv_free(e->env);
                strv_free(e->secret_env);
                strv_free(e->headers);
                strv_free(e->secret_headers);
                strv_free(e->mounts);
        }
        if (p) {
                free(p->entries);
                p->entries = NULL;
                p->n = 0;
        }
}

/* Names: mapped to server names, clashes numbered. */
static void assign_names(import_plan *p)
{
        for (size_t i = 0; i < p->n; i++) {
                import_entry *e = &p->entries[i];
                _cleanup_free_ char *base = importer_server_name(e->key);
                char *name = xstrdup(base);
                for (unsigned k = 2;; k++) {
                        bool taken = false;
                        /* Entries that will not be installed reserve no name. */
                        for (size_t j = 0; j < i && !taken; j++)
                                taken = p->entries[j].action == IMPORT_INSTALL &&
                                        strcmp(p->entries[j].name, name) == 0;
                        if (!taken)
                                break;
                        free(name);
                        char suffix[16];
                        snprintf(suffix, sizeof(suffix), "-%u", k);
                        name = xasprintf("%.*s%s", (int)(48 - strlen(suffix)), base, suffix);
                }
                if (strcmp(name, e->key) != 0)
                        import_note(e, "named '%s' (server names are lower-case letters, digits "
                                       "and '-'%s)",
                                    name, strcmp(name, base) != 0 ? "; the name was taken" : "");
                e->name = name;
        }
}

enum { SCOPE_USER, SCOPE_PROJECT, SCOPE_LOCAL };

/* Claude Code's ~/.claude.json (doc) with the project's .mcp.json: the user
 * scope (top-level "mcpServers"), then the project scope (.mcp.json), then
 * the project's local scope ("projects"[project]); a later scope's server
 * replaces an earlier one of the same name (and moves last).  *ret_scopes maps each
 * name to {"scope": SCOPE_*, "replaces": "user"|"project"}.  A name twice in
 * one scope stays twice, for the caller's duplicate check. */
static int merge_claude_code(const cJSON *doc, const import_context *ic, cJSON **ret_merged,
                             cJSON **ret_scopes, corral_error *err)
{
        static const char *const scope_name[] = {"user", "project", "local"};
        _cleanup_json_ cJSON *project_doc = NULL;
        const cJSON *proj = ic->project ? json_get_object(json_get_object(doc, "projects"),
                                                          ic->project)
                                        : NULL;
        const cJSON *scope_servers[3], *s;
        cJSON *merged, *scopes;

        if (ic->project_json) {
                if (ic->project_json_len > IMPORT_MAX_BYTES)
                        return corral_error_set(err, EX_DATAERR, ".mcp.json: larger than %u bytes",
                                                IMPORT_MAX_BYTES);
                project_doc = cJSON_ParseWithLength(ic->project_json, ic->project_json_len);
                if (!cJSON_IsObject(project_doc))
                        return corral_error_set(err, EX_DATAERR,
                                                ".mcp.json: not a JSON object");
        }
        scope_servers[SCOPE_USER] = cJSON_GetObjectItemCaseSensitive(doc, "mcpServers");
        scope_servers[SCOPE_PROJECT] = cJSON_GetObjectItemCaseSensitive(project_doc, "mcpServers");
        scope_servers[SCOPE_LOCAL] = cJSON_GetObjectItemCaseSensitive(proj, "mcpServers");
        for (int k = SCOPE_USER; k <= SCOPE_LOCAL; k++)
                if (scope_servers[k] && !cJSON_IsObject(scope_servers[k]))
                        return corral_error_set(err, EX_DATAERR,
                                                "%s\"mcpServers\" must be an object",
                                                k == SCOPE_PROJECT ? ".mcp.json: " : "");

        merged = *ret_merged = cJSON_CreateObject();
        scopes = *ret_scopes = cJSON_CreateObject();
        for (int k = SCOPE_USER; k <= SCOPE_LOCAL; k++)
                cJSON_ArrayForEach(s, scope_servers[k])
                {
                        cJSON *had = cJSON_GetObjectItemCaseSensitive(scopes, s->string);
                        int had_scope = had ? (int)json_get_number(had, "scope", 0) : -1;
                        cJSON *info = cJSON_CreateObject();
                        cJSON_AddNumberToObject(info, "scope", k);
                        if (had && had_scope < k) {
                                cJSON_AddStringToObject(info, "replaces", scope_name[had_scope]);
                                while (cJSON_GetObjectItemCaseSensitive(merged, s->string))
                                        cJSON_DeleteItemFromObjectCaseSensitive(merged, s->string);
                                cJSON_ReplaceItemInObjectCaseSensitive(scopes, s->string, info);
                        } else if (had) {
                                cJSON_Delete(info);
                        } else {
                                cJSON_AddItemToObject(scopes, s->string, info);
                        }
                        cJSON_AddItemToObject(merged, s->string, cJSON_Duplicate(s, true));
                }
        return 0;
}

int importer_parse(const char *text, size_t len, const import_context *ic, import_plan *ret,
                   corral_error *err)
{
        _cleanup_json_ cJSON *doc = NULL;
        _cleanup_json_ cJSON *cache = cJSON_CreateObject();
        _cleanup_json_ cJSON *merged = NULL, *scopes = NULL;
        const cJSON *servers = NULL, *inputs = NULL, *s;
        import_plan p = {0};

        if (len > IMPORT_MAX_BYTES)
                return corral_error_set(err, EX_DATAERR, "larger than %u bytes", IMPORT_MAX_BYTES);
        doc = cJSON_ParseWithLength(text, len);
        if (!doc)
                return corral_error_set(err, EX_DATAERR, "not valid JSON");
        if (!cJSON_IsObject(doc))
                return corral_error_set(err, EX_DATAERR, "not a JSON object");
        if (json_get_object(doc, "projects") || ic->project_json) {
                if (merge_claude_code(doc, ic, &merged, &scopes, err) < 0)
                        return -err->code;
                servers = merged;
                p.format = "claude.json";
        } else if ((servers = cJSON_GetObjectItemCaseSensitive(doc, "mcpServers"))) {
                p.format = "mcpServers";
        } else if ((servers = cJSON_GetObjectItemCaseSensitive(doc, "servers"))) {
                p.format = "vscode";
                inputs = cJSON_GetObjectItemCaseSensitive(doc, "inputs");
        } else if ((servers = json_get_object(json_get_object(doc, "mcp"), "servers"))) {
                p.format = "vscode";
                inputs = json_get_array(json_get_object(doc, "mcp"), "inputs");
        }
        if (!cJSON_IsObject(servers))
                return corral_error_set(err, EX_DATAERR,
                                        "not a client config: expected an object with "
                                        "\"mcpServers\" (Claude Desktop, Cursor, .mcp.json) or "
                                        "\"servers\" (VS Code mcp.json)");
        if (inputs && !cJSON_IsArray(inputs))
                return corral_error_set(err, EX_DATAERR, "\"inputs\" must be an array");
        size_t n = (size_t)cJSON_GetArraySize(servers);
        if (n > IMPORT_MAX_SERVERS)
                return corral_error_set(err, EX_DATAERR, "more than %d servers",
                                        IMPORT_MAX_SERVERS);
        p.entries = xcalloc(n ? n : 1, sizeof(*p.entries));
        cJSON_ArrayForEach(s, servers)
        {
                import_entry *e = &p.entries[p.n++];
                _cleanup_json_ cJSON *env_values = cJSON_CreateObject();
                _cleanup_json_ cJSON *env_secrets = cJSON_CreateObject();
                value_ctx v = {.ic = ic, .inputs = inputs, .input_cache = cache, .e = e,
                               .env_values = env_values, .env_secrets = env_secrets};
                e->key = xstrdup(s->string);
                e->action = IMPORT_INSTALL;
                const cJSON *scope = cJSON_GetObjectItemCaseSensitive(scopes, s->string);
                const char *replaced = json_get_string(scope, "replaces");
                switch ((int)json_get_number(scope, "scope", SCOPE_USER)) {
                case SCOPE_PROJECT:
                        import_note(e, "from the project's .mcp.json (Claude Code's project "
                                       "scope)%s%s%s",
                                    replaced ? "; it replaces the " : "", replaced ? replaced : "",
                                    replaced ? "-scope entry of the same name" : "");
                        break;
                case SCOPE_LOCAL:
                        import_note(e, "from the project %.200s (Claude Code's local scope)%s%s%s",
                                    ic->project, replaced ? "; it replaces the " : "",
                                    replaced ? replaced : "",
                                    replaced ? "-scope entry of the same name" : "");
                        break;
                }
                /* JSON.parse keeps the last of duplicate keys; so do we. */
                bool dup = false;
                for (const cJSON *later = s->next; later && !dup; later = later->next)
                        dup = strcmp(later->string, s->string) == 0;
                if (dup) {
                        (void)import_refuse(e, IMPORT_REFUSED,
                                            "\"%.64s\" appears again later in the file; the "
                                            "last one is imported",
                                            s->string);
                        continue;
                }
                map_entry(&v, e, s);
        }
        assign_names(&p);
        *ret = p;
        return 0;
}
