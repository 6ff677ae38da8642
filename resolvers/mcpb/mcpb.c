/* MCP Bundles: fetch (file or URL), verify, extract, read manifest.json,
 * check the host, fill user_config, and write the command the manifest's
 * mcp_config gives (MCPB MANIFEST.md, manifest_version 0.2–0.4). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/mcpb.h"
#include "corral/strbuf.h"


/* v, with every '$' doubled when escape. */
static int append_value(strbuf *b, const char *v, bool escape)
{
        for (; *v; v++)
                if (strbuf_append(b, v, 1) < 0 || (escape && *v == '$' && strbuf_append(b, v, 1) < 0))
                        return -1;
        return 0;
}

int mcpb_substitute(const char *s, const char *dirname, const char *home, const cJSON *values,
                    unsigned flags, char **ret, corral_error *err)
{
        strbuf b = STRBUF_INIT(REGISTRY_VALUE_MAX);
        bool escape = flags & MCPB_SUB_ESCAPE;

        for (const char *p = s; *p;) {
                if (p[0] == '$' && p[1] == '{') {
                        const char *close = strchr(p, '}');
                        _cleanup_free_ char *ref = close ? xstrndup(p + 2, (size_t)(close - p - 2))
                                                         : NULL;
                        const char *v = NULL;
                        bool raw = false;
                        if (!ref) {
                                strbuf_done(&b);
                                return corral_error_set(err, EX_DATAERR,
                                                        "unterminated ${ in '%.200s'", s);
                        }
                        if (strcmp(ref, "__dirname") == 0)
                                v = dirname;
                        else if (strcmp(ref, "HOME") == 0)
                                v = home;
                        else if (strcmp(ref, "pathSeparator") == 0 || strcmp(ref, "/") == 0)
                                v = "/";
                        else if (strncmp(ref, "user_config.", 12) == 0) {
                                const cJSON *j = cJSON_GetObjectItemCaseSensitive(values, ref + 12);
                                v = cJSON_IsString(j) ? j->valuestring : "";
                                raw = flags & MCPB_SUB_REFS;
                        } else {
                                strbuf_done(&b);
                                return corral_error_set(err, EX_DATAERR,
                                                        "unknown ${%.64s} in '%.200s'", ref, s);
                        }
                        if (append_value(&b, v, escape && !raw) < 0)
                                goto too_long;
                        p = close + 1;
                        continue;
                }
                if (append_value(&b, (char[]){*p, '\0'}, escape) < 0)
                        goto too_long;
                p++;
        }
        *ret = strbuf_steal(&b);
        return 0;
too_long:
        strbuf_done(&b);
        return corral_error_set(err, EX_DATAERR, "a substituted value is too long");
}

/* A value that starts with ${__dirname} must stay inside it: no ".."
 * component after it. */
static int check_inside(const char *raw, const char *what, corral_error *err)
{
        const char *d = strstr(raw, "${__dirname}");
        if (!d)
                return 0;
        for (const char *c = d + strlen("${__dirname}"); *c;) {
                size_t n = strcspn(c, "/");
                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's %s '%.200s' leaves ${__dirname}",
                                                what, raw);
                c += n;
                c += *c == '/';
        }
        return 0;
}

/* user_config → values (a JSON object of strings), secrets (env values of
 * sensitive entries), read-only mounts for directory/file entries. */
static int user_config(registry_inputs *in, const cJSON *uc, const char *dirname,
                       const char *home, cJSON *values, char ***mounts, corral_error *err)
{
        const cJSON *e;
        int n = 0, r;

        cJSON_ArrayForEach(e, uc)
        {
                const char *type = json_get_string(e, "type");
                _cleanup_json_ cJSON *input = cJSON_CreateObject();
                _cleanup_free_ char *v = NULL;
                const cJSON *def = cJSON_GetObjectItemCaseSensitive(e, "default");

                if (++n > MCPB_MAX_USER_CONFIG)
                        return corral_error_set(err, EX_DATAERR,
                                                "more than %d user_config entries",
                                                MCPB_MAX_USER_CONFIG);
                if (!cJSON_IsObject(e) || !type)
                        return corral_error_set(err, EX_DATAERR, "user_config.%.64s is malformed",
                                                e->string ? e->string : "");
                const char *desc = json_get_string(e, "description");
                if (!desc)
                        desc = json_get_string(e, "title");
                if (desc)
                        cJSON_AddStringToObject(input, "description", desc);
                cJSON_AddBoolToObject(input, "isRequired", json_get_bool(e, "required", false));
                cJSON_AddBoolToObject(input, "isSecret", json_get_bool(e, "sensitive", false));
                if (strcmp(type, "number") == 0 || strcmp(type, "boolean") == 0)
                        cJSON_AddStringToObject(input, "format", type);
                if (cJSON_IsArray(def)) {
                        /* multiple: a list given as one comma-separated value */
                        strbuf b = STRBUF_INIT(REGISTRY_VALUE_MAX);
                        const cJSON *d;
                        cJSON_ArrayForEach(d, def) if (cJSON_IsString(d))(void)
                                strbuf_appendf(&b, "%s%s", b.len ? "," : "", d->valuestring);
                        if (b.len) {
                                _cleanup_free_ char *d2 = NULL;
                                if ((r = mcpb_substitute(b.buf, dirname, home, NULL, 0, &d2, err)) < 0) {
                                        strbuf_done(&b);
                                        return r;
                                }
                                cJSON_AddStringToObject(input, "default", d2);
                        }
                        strbuf_done(&b);
                } else if (cJSON_IsString(def)) {
                        _cleanup_free_ char *d2 = NULL;
                        if ((r = mcpb_substitute(def->valuestring, dirname, home, NULL, 0, &d2, err)) < 0)
                                return r;
                        cJSON_AddStringToObject(input, "default", d2);
                } else if (def && !cJSON_IsNull(def)) {
                        cJSON_AddItemToObject(input, "default", cJSON_Duplicate(def, true));
                }
                r = registry_input_value(in, e->string, input, &v, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (strcmp(type, "directory") == 0 || strcmp(type, "file") == 0) {
                        /* Each path (comma-separated when multiple) must exist; the
                         * server sees it read-only. */
                        strbuf b = STRBUF_INIT(REGISTRY_VALUE_MAX);
                        for (char *tok = v, *next; tok && *tok; tok = next) {
                                next = json_get_bool(e, "multiple", false) ? strchr(tok, ',')
                                                                           : NULL;
                                if (next)
                                        *next++ = '\0';
                                _cleanup_free_ char *real = realpath(tok, NULL);
                                struct stat st;
                                if (!real || stat(real, &st) < 0 ||
                                    (strcmp(type, "directory") == 0) != S_ISDIR(st.st_mode)) {
                                        strbuf_done(&b);
                                        return corral_error_set(err, EX_NOINPUT,
                                                                "user_config %s: no such %s "
                                                                "'%.200s'",
                                                                e->string, type, tok);
                                }
                                _cleanup_free_ char *mnt = xasprintf("%s:ro", real);
                                *mounts = strv_push(*mounts, mnt);
                                (void)strbuf_appendf(&b, "%s%s", b.len ? "," : "", real);
                        }
                        free(v);
                        v = strbuf_steal(&b);
                }
                cJSON_AddStringToObject(values, e->string, v);
        }
        return 0;
}

static bool sensitive(const cJSON *uc, const char *raw)
{
        const cJSON *e;
        cJSON_ArrayForEach(e, uc)
        {
                _cleanup_free_ char *ref = xasprintf("${user_config.%s}", e->string);
                if (json_get_bool(e, "sensitive", false) && strstr(raw, ref))
                        return true;
        }
        return false;
}

/* extra: arguments appended after the bundle's own (a registry mcpb
 * package's packageArguments, already written for the start-time expansion
 * by registry_args_append()), or NULL. */
static int setup(store *s, const cJSON *man, registry_inputs *in, char *const *extra,
                 const char *pkg_dir, manifest *m, corral_error *err)
{
        const cJSON *server = json_get_object(man, "server");
        const char *type = json_get_string(server, "type");
        const cJSON *cfg = json_get_object(server, "mcp_config");
        const cJSON *uc = json_get_object(man, "user_config");
        const cJSON *linux_cfg = json_get_object(json_get_object(cfg, "platform_overrides"),
                                                 "linux");
        _cleanup_json_ cJSON *values = cJSON_CreateObject();
        _cleanup_json_ cJSON *secrets = cJSON_CreateObject();
        _cleanup_json_ cJSON *refs = cJSON_CreateObject();
        _cleanup_json_ cJSON *secret_args = cJSON_CreateObject();
        _cleanup_strv_ char **mounts = NULL, **command = NULL;
        _cleanup_free_ char *dirname = paths_pkg_dir(&s->paths, m->name);
        _cleanup_free_ char *home = paths_data_dir(&s->paths, m->name);
        const char *cmd;
        const cJSON *args, *env, *a;
        int r;

        if (!type || !cfg)
                return corral_error_set(err, EX_DATAERR,
                                        "the bundle's manifest.json has no server.type or "
                                        "server.mcp_config");
        if ((r = mcpb_check_compat(man, type, err)) < 0)
                return r;
        cmd = json_get_string(linux_cfg, "command");
        if (!cmd)
                cmd = json_get_string(cfg, "command");
        args = json_get_array(linux_cfg, "args");
        if (!args)
                args = json_get_array(cfg, "args");
        env = json_get_object(linux_cfg, "env");
        if (!env)
                env = json_get_object(cfg, "env");
        if (!cmd || !*cmd)
                return corral_error_set(err, EX_DATAERR, "the bundle's mcp_config has no command");
        if ((r = user_config(in, uc, dirname, home, values, &mounts, err)) < 0 ||
            (r = registry_inputs_finish(in, err)) < 0)
                return r;
        /* values with each sensitive one as ${CORRAL_ARG_KEY}, for arguments. */
        {
                const cJSON *e;
                cJSON_ArrayForEach(e, values)
                {
                        const cJSON *def = json_get_object(uc, e->string);
                        if (!json_get_bool(def, "sensitive", false)) {
                                cJSON_AddStringToObject(refs, e->string, e->valuestring);
                                continue;
                        }
                        _cleanup_free_ char *base = xasprintf("CORRAL_ARG_%.64s", e->string);
                        for (char *c = base + 11; *c; c++)
                                *c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c)
                                                                : '_';
                        /* Not the name of a secret packageArgument. */
                        _cleanup_free_ char *name = xstrdup(base);
                        for (unsigned k = 2;
                             cJSON_GetObjectItemCaseSensitive(in->secret_args, name); k++) {
                                free(name);
                                name = xasprintf("%s_B%u", base, k);
                        }
                        _cleanup_free_ char *ref = xasprintf("${%s}", name);
                        cJSON_AddStringToObject(refs, e->string, ref);
                        cJSON_AddStringToObject(secret_args, name, e->valuestring);
                }
        }

        /* The command: node for node bundles, a file inside the bundle for
         * binary ones; nothing else on the host. */
        if ((r = check_inside(cmd, "command", err)) < 0)
                return r;
        /* A python bundle runs with the host's python3 ("python" names
         * it too; Debian has no "python"). */
        if (strcmp(type, "python") == 0) {
                if (strcmp(cmd, "python") != 0 && strcmp(cmd, "python3") != 0)
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle is a python server but its command "
                                                "is '%.200s', not python or python3",
                                                cmd);
                cmd = "python3";
        }
        if (strcmp(type, "node") == 0 && strcmp(cmd, "node") != 0)
                return corral_error_set(err, EX_DATAERR,
                                        "the bundle is a node server but its command is "
                                        "'%.200s', not node",
                                        cmd);
        if (strcmp(type, "binary") == 0 && strncmp(cmd, "${__dirname}/", 13) != 0)
                return corral_error_set(err, EX_DATAERR,
                                        "the bundle's binary command '%.200s' is not inside "
                                        "${__dirname}",
                                        cmd);
        {
                char *c = NULL;
                /* runtime.command[0] is not ${VAR}-expanded at start: as it is. */
                if ((r = mcpb_substitute(cmd, dirname, home, values, 0, &c, err)) < 0)
                        return r;
                command = strv_push(command, c);
                free(c);
        }
        size_t nargs = 0;
        cJSON_ArrayForEach(a, args)
        {
                _cleanup_free_ char *v = NULL;
                if (!cJSON_IsString(a) || ++nargs > 256)
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's mcp_config.args is malformed");
                if ((r = check_inside(a->valuestring, "argument", err)) < 0)
                        return r;
                /* A sensitive value is a ${CORRAL_ARG_KEY} reference to
                 * secrets.json, filled in when the server starts. */
                bool sens = sensitive(uc, a->valuestring);
                if ((r = mcpb_substitute(a->valuestring, dirname, home, sens ? refs : values,
                                         MCPB_SUB_ESCAPE | (sens ? MCPB_SUB_REFS : 0), &v, err)) <
                    0)
                        return r;
                /* A multiple value given alone is several arguments. */
                if (strncmp(a->valuestring, "${user_config.", 14) == 0 &&
                    a->valuestring[strlen(a->valuestring) - 1] == '}' && strchr(v, ',') &&
                    !strchr(a->valuestring + 1, '$')) {
                        for (char *tok = v, *next; tok; tok = next) {
                                next = strchr(tok, ',');
                                if (next)
                                        *next++ = '\0';
                                command = strv_push(command, tok);
                        }
                        continue;
                }
                if (v[0])
                        command = strv_push(command, v);
        }
        /* The registry's packageArguments, after the bundle's own: "a list of
         * arguments to be passed to the package's binary" (server.json). */
        for (size_t i = 0; extra && extra[i]; i++) {
                if (++nargs > 512)
                        return corral_error_set(err, EX_DATAERR, "too many arguments");
                command = strv_push(command, extra[i]);
        }
        if (strcmp(type, "python") == 0) {
                /* python [OPTIONS] SCRIPT|-m MODULE: the script is the bundle's. */
                size_t i = 1;
                while (command[i] && command[i][0] == '-' && strcmp(command[i], "-m") != 0 &&
                       strcmp(command[i], "-c") != 0)
                        i++;
                const char *entry = command[i];
                if (entry && entry[0] != '-' &&
                    (strncmp(entry, dirname, strlen(dirname)) != 0 ||
                     entry[strlen(dirname)] != '/'))
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's python entry '%.200s' is not "
                                                "inside ${__dirname}",
                                                entry);
        }
        if (strcmp(type, "node") == 0 && command[1]) {
                const char *entry = command[1];
                if (strncmp(entry, dirname, strlen(dirname)) != 0 ||
                    entry[strlen(dirname)] != '/')
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's node entry '%.200s' is not inside "
                                                "${__dirname}",
                                                json_get_string(cfg, "command") ? entry : "");
        }
        if (strcmp(type, "binary") == 0) {
                _cleanup_free_ char *bin = path_join(pkg_dir, command[0] + strlen(dirname) + 1);
                struct stat st;
                if (lstat(bin, &st) < 0 || !S_ISREG(st.st_mode))
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's binary %.200s is not in the bundle",
                                                command[0]);
                (void)chmod(bin, 0755);
        }

        const cJSON *e;
        cJSON_ArrayForEach(e, env)
        {
                _cleanup_free_ char *v = NULL;
                bool ok = e->string && *e->string && cJSON_IsString(e);
                for (const char *c = e->string; ok && *c; c++)
                        ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
                             (c > e->string && *c >= '0' && *c <= '9');
                if (!ok || m->n_env >= 256)
                        return corral_error_set(err, EX_DATAERR,
                                                "the bundle's mcp_config.env is malformed");
                /* secrets.json values are used as they are; env values
                 * in the manifest are ${VAR}-expanded at start. */
                bool sens = sensitive(uc, e->valuestring);
                if ((r = mcpb_substitute(e->valuestring, dirname, home, values,
                                         sens ? 0 : MCPB_SUB_ESCAPE, &v, err)) < 0)
                        return r;
                size_t i;
                for (i = 0; i < m->n_env; i++)
                        if (strcmp(m->env[i].key, e->string) == 0)
                                break;
                if (i < m->n_env)
                        continue; /* --env or the registry's variable wins */
                m->env = xrealloc(m->env, (m->n_env + 1) * sizeof(*m->env));
                m->env[m->n_env].key = xstrdup(e->string);
                m->env[m->n_env].value = NULL;
                if (sens)
                        cJSON_AddStringToObject(secrets, e->string, v);
                else
                        m->env[m->n_env].value = steal_pointer(&v);
                m->n_env++;
        }
        /* The bundled dependencies of a python server (MCPB: server/lib),
         * when its mcp_config does not set PYTHONPATH itself. */
        if (strcmp(type, "python") == 0 && !cJSON_GetObjectItemCaseSensitive(env, "PYTHONPATH")) {
                _cleanup_free_ char *lib = path_join(pkg_dir, "server/lib");
                struct stat st;
                bool have = false;
                for (size_t i = 0; i < m->n_env; i++)
                        have = have || strcmp(m->env[i].key, "PYTHONPATH") == 0;
                if (!have && stat(lib, &st) == 0 && S_ISDIR(st.st_mode)) {
                        m->env = xrealloc(m->env, (m->n_env + 1) * sizeof(*m->env));
                        m->env[m->n_env].key = xstrdup("PYTHONPATH");
                        m->env[m->n_env].value = xasprintf("%s/server/lib", dirname);
                        m->n_env++;
                }
        }
        /* The sensitive values an argument refers to. */
        cJSON *sa;
        cJSON_ArrayForEach(sa, secret_args)
        {
                _cleanup_free_ char *ref = xasprintf("${%s}", sa->string);
                bool used = false;
                for (size_t i = 1; command[i] && !used; i++)
                        used = strstr(command[i], ref) != NULL;
                if (used)
                        cJSON_AddStringToObject(secrets, sa->string, sa->valuestring);
        }
        if (cJSON_GetArraySize(secrets) > 0 &&
            (r = registry_write_secret_env(pkg_dir, steal_pointer(&secrets), err)) < 0)
                return r;
        for (size_t i = 0; mounts && mounts[i]; i++)
                m->mounts = strv_push(m->mounts, mounts[i]);
        strv_free(m->command);
        m->command = steal_pointer(&command);
        return 0;
}

int mcpb_install(store *s, const install_options *opt, const char *path, const char *url,
                 const char *sha256, registry_inputs *in, const char *pkg_dir, manifest *m,
                 corral_error *err)
{
        _cleanup_free_ char *staging = xstrdup(pkg_dir), *have = NULL;
        _cleanup_free_ char *mp = NULL, *data = NULL, *abs = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_json_ cJSON *man = NULL;
        mcpb_limits lim = {MCPB_MAX_UNPACKED, MCPB_MAX_ENTRY, MCPB_MAX_ENTRIES};
        const char *what = url ? url : path;
        struct stat st;
        size_t len = 0;
        int r;

        *strrchr(staging, '/') = '\0';
        if (url) {
                /* From the cache (by fileSha256, or --offline by URL), else
                 * downloaded into it. */
                if ((r = mcpb_fetch_url(s, url, sha256, opt->offline, &fd, &have, err)) < 0)
                        return r;
        } else {
                abs = path_absolute(path);
                fd = abs ? open(abs, O_RDONLY | O_CLOEXEC) : -1;
                if (fd < 0)
                        return corral_error_errno(err, errno == ENOENT ? EX_NOINPUT : EX_NOPERM,
                                                  errno, "cannot open bundle %s", path);
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return corral_error_set(err, EX_NOINPUT, "%s is not a file", path);
                if ((uint64_t)st.st_size > MCPB_MAX_BUNDLE)
                        return corral_error_set(err, EX_DATAERR,
                                                "%s is larger than %llu bytes (MCPB_MAX_BUNDLE)",
                                                path, (unsigned long long)MCPB_MAX_BUNDLE);
                if ((r = mcpb_file_sha256(fd, &have, err)) < 0)
                        return r;
        }
        if (sha256 && strcasecmp(sha256, have) != 0)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: sha256 mismatch: the registry says %.64s, the bundle "
                                        "is %s",
                                        what, sha256, have);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return corral_error_errno(err, EX_IOERR, errno, "rewinding the bundle");
        if ((r = mcpb_extract(fd, pkg_dir, &lim, what, err)) < 0)
                return r;
        mp = path_join(pkg_dir, "manifest.json");
        if ((r = read_file(mp, MCPB_MAX_MANIFEST, &data, &len)) < 0)
                return corral_error_set(err, EX_DATAERR,
                                        "%s: no readable manifest.json (at most %u bytes) at its "
                                        "top",
                                        what, MCPB_MAX_MANIFEST);
        man = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(man))
                return corral_error_set(err, EX_DATAERR, "%s: manifest.json is not a JSON object",
                                        what);
        const char *mv = json_get_string(man, "manifest_version");
        if (!mv)
                mv = json_get_string(man, "dxt_version");
        if (!mv || (strcmp(mv, "0.1") != 0 && strcmp(mv, "0.2") != 0 && strcmp(mv, "0.3") != 0 &&
                    strcmp(mv, "0.4") != 0))
                return corral_error_set(err, EX_DATAERR,
                                        "%s: manifest_version '%.16s' is not one corral reads "
                                        "(0.1 to 0.4)",
                                        what, mv ? mv : "");
        if ((r = setup(s, man, in, opt->command, pkg_dir, m, err)) < 0)
                return r;
        free(m->resolved_url);
        m->resolved_url = xstrdup(url ? url : abs);
        free(m->resolved_version);
        m->resolved_version =
                json_get_string(man, "version") ? xstrdup(json_get_string(man, "version")) : NULL;
        free(m->resolved_digest);
        m->resolved_digest = xasprintf("sha256:%s", have);
        return 0;
}

int resolver_mcpb_fetch(store *s, const install_options *opt, const source_spec *spec,
                        const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_(registry_inputs_done) registry_inputs in = {0};
        int r;

        if (opt->command)
                return corral_error_set(err, EX_USAGE,
                                        "a bundle's command is its manifest's: nothing goes "
                                        "after --");
        if ((r = registry_inputs_init(&in, opt, err)) < 0)
                return r;
        r = mcpb_install(s, opt, spec->url ? NULL : spec->name, spec->url, NULL, &in, pkg_dir, m,
                         err);
        /* The values given, for `corral update` to give again. */
        return r < 0 ? r : registry_write_inputs(pkg_dir, &in, err);
}
