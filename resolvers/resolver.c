/* Resolver dispatch: spec → name → staging → manifest → commit. */
#include <ctype.h>
#include <string.h>

#include "corral/cache.h"
#include "corral/fs.h"
#include "corral/config.h"
#include "corral/docker.h"
#include "corral/git.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/registry.h"
#include "corral/resolver.h"

#define MAX_ENV 256
#define MAX_ENV_KEY 256
#define MAX_ENV_VALUE 8192 /* the manifest's string cap */
#define MAX_ARGV 256
#define MAX_ARG 8192

static const char *const sandbox_profiles[] = {"default", "strict", "log", "none"};

static int check_env(char *const *env, corral_error *err)
{
        size_t n = strv_length(env);
        if (n > MAX_ENV)
                return corral_error_set(err, EX_USAGE, "too many --env options (at most %d)",
                                        MAX_ENV);
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(env[i], '=');
                size_t klen = eq ? (size_t)(eq - env[i]) : 0;
                bool ok =
                        eq && klen > 0 && klen <= MAX_ENV_KEY && !isdigit((unsigned char)env[i][0]);
                for (size_t k = 0; ok && k < klen; k++)
                        ok = isalnum((unsigned char)env[i][k]) || env[i][k] == '_';
                if (!ok)
                        return corral_error_set(
                                err, EX_USAGE,
                                "invalid --env '%.64s': expected KEY=VALUE with KEY "
                                "made of letters, digits and '_'",
                                env[i]);
                if (strlen(eq + 1) > MAX_ENV_VALUE)
                        return corral_error_set(err, EX_USAGE, "--env %.*s: value too long",
                                                (int)klen, env[i]);
                for (size_t j = 0; j < i; j++)
                        if (strncmp(env[j], env[i], klen + 1) == 0)
                                return corral_error_set(err, EX_USAGE, "--env %.*s given twice",
                                                        (int)klen, env[i]);
        }
        return 0;
}

static int check_command(char *const *command, corral_error *err)
{
        if (!command)
                return 0;
        size_t n = strv_length(command);
        if (n == 0 || !command[0][0])
                return corral_error_set(err, EX_USAGE, "empty command after --");
        if (n > MAX_ARGV)
                return corral_error_set(err, EX_USAGE, "command has more than %d arguments",
                                        MAX_ARGV);
        for (size_t i = 0; i < n; i++)
                if (strlen(command[i]) > MAX_ARG)
                        return corral_error_set(err, EX_USAGE, "command argument %zu is too long",
                                                i);
        return 0;
}

/* After an install, successful or not: the cache back under its cap, least
 * recently used entries first.  Failures here are warnings: the install's
 * outcome stands. */
static void enforce_cache_cap(store *s)
{
        corral_error e = {0};
        uint64_t cap = 0;
        if (cache_max_size(&s->paths, &cap, &e) < 0 || cache_evict(s->paths.cache, cap, NULL, &e) < 0)
                fprintf(stderr, "corral: install: warning: download cache: %s\n", e.msg);
}

/* The server name: --name, else derived from the spec; for "." and ".." the
 * directory's own name. */
static int derive_name(const install_options *opt, const source_spec *spec, const char *abs_path,
                       char **ret, corral_error *err)
{
        if (opt->name) {
                if (!server_name_valid(opt->name))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid server name '%.64s': use 1 to 48 "
                                                "lower-case letters, digits and '-', starting "
                                                "with a letter or digit",
                                                opt->name);
                *ret = xstrdup(opt->name);
                return 0;
        }
        char *name = spec_default_name(spec);
        if (!name && abs_path) {
                source_spec tmp = {.kind = SPEC_LOCAL, .name = (char *)abs_path};
                name = spec_default_name(&tmp);
        }
        if (!name)
                return corral_error_set(err, EX_USAGE,
                                        "cannot derive a server name from '%s': pass --name NAME",
                                        spec->raw);
        *ret = name;
        return 0;
}

/* derive_name(), but never "corral": the gateway's own tools are corral__*
 * (include/corral/mgmt.h). */
static int choose_name(const install_options *opt, const source_spec *spec, const char *abs_path,
                       char **ret, corral_error *err)
{
        int r = derive_name(opt, spec, abs_path, ret, err);

        if (r == 0 && strcmp(*ret, "corral") == 0) {
                *ret = (free(*ret), NULL);
                return corral_error_set(err, EX_USAGE,
                                        "the server name 'corral' is the gateway's own (its "
                                        "corral__* tools): pass --name NAME");
        }
        return r;
}

static void manifest_freep(manifest **m)
{
        manifest_free(*m);
}

/* Local directories: the tree must exist and must not hold the store itself. */
static int local_prepare(store *s, const source_spec *spec, char **ret_abs, corral_error *err)
{
        _cleanup_free_ char *abs = path_absolute(spec->name);
        if (!abs && errno == ENOENT)
                return corral_error_set(err, EX_NOINPUT, "no such directory '%s'", spec->name);
        if (!abs)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_NOINPUT, errno,
                                          "cannot install '%s'", spec->name);
        /* Copying a tree that holds the store would copy the copy. */
        _cleanup_free_ char *staging_abs = path_absolute(s->paths.staging);
        size_t alen = strlen(abs);
        if (staging_abs && strncmp(staging_abs, abs, alen) == 0 &&
            (staging_abs[alen] == '/' || staging_abs[alen] == '\0' || alen == 1))
                return corral_error_set(
                        err, EX_USAGE, "refusing to install %s: it contains the corral store", abs);
        *ret_abs = steal_pointer(&abs);
        return 0;
}

static int local_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err)
{
        return resolver_local_fetch(spec, opt->command, pkg_dir, m, err);
}

/* Secret env values into <staging>/secrets.json {"env": {KEY: VALUE}}, mode
 * 0600, beside whatever the resolver put there (a remote's "headers"). */
static int write_secret_env(const char *staging, char *const *kvs, corral_error *err)
{
        _cleanup_free_ char *sp = path_join(staging, "secrets.json"), *data = NULL, *text = NULL;
        _cleanup_json_ cJSON *doc = NULL;
        size_t len = 0;
        cJSON *env;
        int r;

        if (read_file(sp, 1u << 20, &data, &len) == 0)
                doc = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(doc)) {
                cJSON_Delete(doc);
                doc = cJSON_CreateObject();
        }
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "env");
        env = cJSON_AddObjectToObject(doc, "env");
        for (size_t i = 0; kvs[i]; i++) {
                const char *eq = strchr(kvs[i], '=');
                _cleanup_free_ char *key = xstrndup(kvs[i], (size_t)(eq - kvs[i]));
                cJSON_AddStringToObject(env, key, eq + 1);
        }
        text = json_print(doc);
        r = write_file_atomic(sp, text, strlen(text), 0600);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", sp);
        return 0;
}

/* One entry per source kind that has a resolver; the others are refused with
 * EX_UNAVAILABLE naming the kind. */
static const struct {
        spec_kind kind;
        resolver_fetch_fn fetch;
} resolvers[] = {
        {SPEC_LOCAL, local_fetch},
        {SPEC_NPM, resolver_npm_fetch},
        {SPEC_DOCKER, resolver_docker_fetch},
        {SPEC_GIT, resolver_git_fetch},
        {SPEC_REMOTE, resolver_remote_fetch},
        {SPEC_SMITHERY_HOSTED, resolver_smithery_hosted_fetch},
        {SPEC_REGISTRY, resolver_registry_fetch},
        {SPEC_SMITHERY, resolver_smithery_fetch},
        {SPEC_MCPB, resolver_mcpb_fetch},
};

static resolver_fetch_fn resolver_for(spec_kind kind)
{
        for (size_t i = 0; i < ARRAY_SIZE(resolvers); i++)
                if (resolvers[i].kind == kind)
                        return resolvers[i].fetch;
        return NULL;
}

/* corral update: fresh's source, command and cwd with the settings of the
 * installed manifest old (include/corral/resolver.h, update_from).  Done
 * through the JSON shape so that every setting, present or future, is kept
 * unless it is named here as coming from the fetch. */
static int carry_settings(const manifest *old, manifest **fresh, corral_error *err)
{
        _cleanup_json_ cJSON *j = manifest_to_json(old);
        _cleanup_json_ cJSON *nj = manifest_to_json(*fresh);
        cJSON *rt = cJSON_GetObjectItemCaseSensitive(j, "runtime");
        cJSON *nrt = cJSON_GetObjectItemCaseSensitive(nj, "runtime");
        static const char *const top[] = {"source", "installed_at", "corral_version"};
        static const char *const runtime[] = {"command", "cwd", "backend"};

        for (size_t i = 0; i < ARRAY_SIZE(top); i++)
                cJSON_ReplaceItemInObjectCaseSensitive(
                        j, top[i], cJSON_DetachItemFromObjectCaseSensitive(nj, top[i]));
        for (size_t i = 0; i < ARRAY_SIZE(runtime); i++)
                cJSON_ReplaceItemInObjectCaseSensitive(
                        rt, runtime[i], cJSON_DetachItemFromObjectCaseSensitive(nrt, runtime[i]));
        /* A variable the new version adds (a registry's, a bundle's
         * mcp_config) joins the installed ones, which stay as they are. */
        cJSON *env = cJSON_GetObjectItemCaseSensitive(rt, "env");
        const cJSON *nenv = cJSON_GetObjectItemCaseSensitive(nrt, "env"), *e;
        if (!env && cJSON_IsObject(nenv))
                env = cJSON_AddObjectToObject(rt, "env");
        if (cJSON_IsObject(env) && cJSON_IsObject(nenv))
                cJSON_ArrayForEach(e, nenv)
                {
                        if (!cJSON_GetObjectItemCaseSensitive(env, e->string))
                                cJSON_AddItemToObject(env, e->string, cJSON_Duplicate(e, true));
                }
        _cleanup_free_ char *text = cJSON_PrintUnformatted(j);
        manifest *m = NULL;
        int r = manifest_parse(&m, text, strlen(text), err);
        if (r < 0)
                return r;
        manifest_free(*fresh);
        *fresh = m;
        return 0;
}

/* The replaced server's secrets.json (0600) goes into the staging dir,
 * under what the fetch wrote there: a value given to this update (a secret
 * input the new version adds) wins over the old one of the same key. */
static int carry_secrets(store *s, const char *name, const char *staging, corral_error *err)
{
        _cleanup_free_ char *dir = paths_server_dir(&s->paths, name);
        _cleanup_free_ char *from = path_join(dir, "secrets.json");
        _cleanup_free_ char *to = path_join(staging, "secrets.json");
        _cleanup_free_ char *data = NULL, *fresh = NULL, *text = NULL;
        _cleanup_json_ cJSON *old = NULL, *doc = NULL;
        size_t len = 0, flen = 0;
        int r = read_file(from, MANIFEST_MAX_BYTES, &data, &len);
        if (r == -ENOENT)
                return 0;
        if (r >= 0 && read_file(to, MANIFEST_MAX_BYTES, &fresh, &flen) >= 0 &&
            cJSON_IsObject(old = cJSON_ParseWithLength(data, len)) &&
            cJSON_IsObject(doc = cJSON_ParseWithLength(fresh, flen))) {
                cJSON *o;
                cJSON_ArrayForEach(o, old)
                {
                        cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, o->string);
                        if (!f) {
                                cJSON_AddItemToObject(doc, o->string, cJSON_Duplicate(o, true));
                        } else if (cJSON_IsObject(f) && cJSON_IsObject(o)) {
                                const cJSON *k;
                                cJSON_ArrayForEach(k, o)
                                {
                                        if (!cJSON_GetObjectItemCaseSensitive(f, k->string))
                                                cJSON_AddItemToObject(f, k->string,
                                                                      cJSON_Duplicate(k, true));
                                }
                        }
                }
                text = json_print(doc);
                r = write_file_atomic(to, text, strlen(text), 0600);
        } else if (r >= 0) {
                r = write_file_atomic(to, data, len, 0600);
        }
        if (r < 0)
                return corral_error_errno(err, EX_IOERR, -r, "cannot carry %s over", from);
        return 0;
}

int resolver_install(store *s, const install_options *opt, manifest **ret, corral_error *err)
{
        _cleanup_(spec_done) source_spec spec = {0};
        int r = spec_parse(&spec, opt->spec, opt->remote, err);
        if (r < 0)
                return r;
        resolver_fetch_fn fetch = resolver_for(spec.kind);
        if (!fetch)
                return corral_error_set(err, EX_UNAVAILABLE, "%s sources are not supported yet",
                                        spec_kind_name(spec.kind));
        if (opt->sandbox) {
                bool ok = false;
                for (size_t i = 0; i < ARRAY_SIZE(sandbox_profiles); i++)
                        ok = ok || strcmp(opt->sandbox, sandbox_profiles[i]) == 0;
                if (!ok)
                        return corral_error_set(err, EX_USAGE,
                                                "unknown sandbox profile '%.64s' (default, "
                                                "strict, log, none)",
                                                opt->sandbox);
        }
        if ((r = check_env(opt->env, err)) < 0 || (r = check_env(opt->secret_env, err)) < 0 ||
            (r = check_command(opt->command, err)) < 0)
                return r;
        for (size_t i = 0; opt->secret_env && opt->secret_env[i]; i++) {
                size_t klen = (size_t)(strchr(opt->secret_env[i], '=') - opt->secret_env[i]);
                for (size_t j = 0; opt->env && opt->env[j]; j++)
                        if (strncmp(opt->env[j], opt->secret_env[i], klen + 1) == 0)
                                return corral_error_set(err, EX_USAGE,
                                                        "env %.*s given both as a secret and "
                                                        "not",
                                                        (int)klen, opt->secret_env[i]);
        }

        _cleanup_free_ char *abs = NULL;
        if (spec.kind == SPEC_LOCAL && (r = local_prepare(s, &spec, &abs, err)) < 0)
                return r;

        _cleanup_free_ char *name = NULL;
        r = choose_name(opt, &spec, abs, &name, err);
        if (r < 0)
                return r;

        r = store_lock(s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *existing = paths_server_dir(&s->paths, name);
        _cleanup_free_ char *staging = NULL;
        _cleanup_free_ char *pkg = NULL;
        _cleanup_(manifest_freep) manifest *m = NULL;
        if (!opt->force && path_exists(existing)) {
                r = corral_error_set(err, EX_CANTCREAT,
                                     "server '%s' is already installed (use --force to replace it)",
                                     name);
                goto out;
        }
        r = store_stage(s, name, &staging, err);
        if (r < 0)
                goto out;

        m = manifest_new(name);
        /* The site's policy defaults (corral.json), then --sandbox. */
        {
                _cleanup_json_ cJSON *config = NULL;
                if ((r = config_load(&s->paths, &config, err)) < 0 ||
                    (r = config_apply_sandbox(config, m, err)) < 0)
                        goto out;
                /* The site's image policy (corral.json "docker"). */
                if (spec.kind == SPEC_DOCKER &&
                    (r = docker_policy_check(config, spec.raw, spec.digest, err)) < 0)
                        goto out;
        }
        free(m->spec);
        m->spec = xstrdup(spec.raw);
        free(m->kind);
        m->kind = xstrdup(spec_kind_name(spec.kind));
        if (abs)
                m->resolved_url = xstrdup(abs);
        if (opt->sandbox) {
                free(m->profile);
                m->profile = xstrdup(opt->sandbox);
        }
        for (size_t i = 0; opt->mounts && opt->mounts[i]; i++)
                m->mounts = strv_push(m->mounts, opt->mounts[i]);
        m->run_uid = opt->run_uid;
        m->run_gid = opt->run_gid;
        size_t n_env = strv_length(opt->env), n_secret = strv_length(opt->secret_env);
        m->env = n_env + n_secret ? xcalloc(n_env + n_secret, sizeof(*m->env)) : NULL;
        for (size_t i = 0; i < n_env + n_secret; i++) {
                const char *kv = i < n_env ? opt->env[i] : opt->secret_env[i - n_env];
                const char *eq = strchr(kv, '=');
                m->env[i].key = xstrndup(kv, (size_t)(eq - kv));
                /* A secret's value lives in secrets.json only. */
                m->env[i].value = i < n_env ? xstrdup(eq + 1) : NULL;
                m->n_env++;
        }

        pkg = path_join(staging, "pkg");
        s->cache_txn = cache_txn_new();
        r = fetch(s, opt, &spec, pkg, m, err);
        if (r < 0)
                goto out;
        if (opt->update_from && ((r = carry_settings(opt->update_from, &m, err)) < 0 ||
                                 (r = carry_secrets(s, name, staging, err)) < 0))
                goto out;
        if (n_secret && (r = write_secret_env(staging, opt->secret_env, err)) < 0)
                goto out;
        if (opt->confirm && (r = opt->confirm(m, opt->confirm_userdata, err)) < 0)
                goto out;
        if (opt->dry_run) {
                if (ret)
                        *ret = steal_pointer(&m);
                r = 0;
                goto out; /* staging is removed */
        }
        r = store_commit(s, staging, m, opt->force, err);
        if (r < 0)
                goto out;
        free(staging);
        staging = NULL;
        if (ret)
                *ret = steal_pointer(&m);
        r = 0;
out:
        if (staging)
                store_abort(s, staging);
        if (s->cache_txn) {
                s->cache_txn = cache_txn_finish(s->cache_txn, r);
                enforce_cache_cap(s);
        }
        store_unlock(s);
        return r;
}
