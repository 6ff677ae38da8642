/* `corral update NAME`: re-resolves a docker server's tag and re-pins its
 * digest.  The manifest is rewritten atomically (manifest_save: temp file +
 * rename) under the store lock, and a running daemon is asked to reload,
 * which restarts the unit because its resolved digest changed. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/git.h"
#include "corral/jsonutil.h"
#include "corral/resolver.h"

static bool strv_equal(char *const *a, char *const *b)
{
        size_t i;

        for (i = 0; a && b && a[i] && b[i]; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return (!a || !a[i]) && (!b || !b[i]);
}

/* The command the install took from the old image, so an image command can
 * follow the image while a command given after `--` stays.  NULL when the old
 * image is no longer in the engine (the command is then kept). */
static char **old_image_command(const docker_ref *ref, const char *digest)
{
        docker *d = NULL;
        cJSON *info = NULL;
        char **argv = NULL;
        _cleanup_free_ char *pinned = docker_ref_pinned(ref, digest);
        const cJSON *cfg, *it;
        const char *keys[] = {"Entrypoint", "Cmd"};

        if (docker_open(&d, NULL) < 0)
                return NULL;
        if (docker_image_inspect(d, pinned, &info, NULL) == 0) {
                cfg = json_get_object(info, "Config");
                argv = xcalloc(1, sizeof(*argv));
                for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
                        cJSON_ArrayForEach(it, json_get_array(cfg, keys[k]))
                        {
                                if (cJSON_IsString(it))
                                        argv = strv_push(argv, it->valuestring);
                        }
        }
        cJSON_Delete(info);
        docker_free(d);
        return argv;
}

/* Git servers: the ref is resolved again and, when it moved, the server is
 * rebuilt at the new commit; the range old..new is shown. */
static int update_git(cli_ctx *ctx, store *s, const char *name)
{
        _cleanup_free_ char *old = NULL, *new_ = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        if (git_update(s, name, isatty(STDERR_FILENO), &old, &new_, &m, &err) < 0)
                return cli_fail_error(ctx, &err);
        bool changed = strcmp(old, new_) != 0;
        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", changed);
                cJSON_AddStringToObject(j, "ref", m->resolved_version ? m->resolved_version : "");
                cJSON_AddStringToObject(j, "old_commit", old);
                cJSON_AddStringToObject(j, "commit", new_);
                cli_print_json(j);
        } else if (changed) {
                printf("updated %s (%s): %.12s..%.12s\n", name,
                       m->resolved_version ? m->resolved_version : "HEAD", old, new_);
        } else {
                printf("%s is up to date (%s at %.12s)\n", name,
                       m->resolved_version ? m->resolved_version : "HEAD", new_);
        }
        fflush(stdout);
        if (changed)
                cli_notify_daemon(ctx);
        return 0;
}

int cli_update(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"yes", no_argument, NULL, 'y'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_store_ store *s = NULL;
        _cleanup_manifest_ manifest *m = NULL;
        _cleanup_(docker_ref_done) docker_ref ref = {0};
        _cleanup_free_ char *digest = NULL, *old_digest = NULL, *path = NULL;
        _cleanup_strv_ char **cmd = NULL, **old_cmd = NULL;
        corral_error err = {0};
        const char *name, *body;
        bool changed;
        int c, code = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'y':
                        ctx->yes = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if ((r = cli_name_operand(ctx, argc, argv, &name)) != 0)
                return r;

        s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (store_load(s, name, &m, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (m->kind && strcmp(m->kind, "git") == 0)
                return update_git(ctx, s, name);
        if (!m->kind || strcmp(m->kind, "docker") != 0)
                return cli_fail(ctx, EX_UNAVAILABLE,
                                "cannot update %s: updating %s sources is not supported yet",
                                name, m->kind ? m->kind : "unknown");
        body = m->spec && strncmp(m->spec, "docker:", 7) == 0 ? m->spec + 7 : m->spec;
        if (docker_ref_parse(&ref, body ? body : "", &err) < 0)
                return cli_fail_error(ctx, &err);
        if (ref.digest)
                return cli_fail(ctx, EX_USAGE,
                                "cannot update %s: its spec pins digest %s (reinstall with "
                                "another spec to change it)",
                                name, ref.digest);

        /* The pull runs without the store lock: it may take minutes. */
        r = resolver_docker_resolve(&ref, isatty(STDERR_FILENO), &digest, &cmd, &err);
        if (r < 0)
                return cli_fail_error(ctx, &err);

        if (store_lock(s, &err) < 0)
                return cli_fail_error(ctx, &err);
        m = manifest_free(m);
        r = store_load(s, name, &m, &err);
        if (r == 0 && m->resolved_digest)
                old_digest = xstrdup(m->resolved_digest);
        changed = r == 0 && (!old_digest || strcmp(old_digest, digest) != 0);
        if (changed) {
                old_cmd = old_digest ? old_image_command(&ref, old_digest) : NULL;
                if (old_cmd && strv_equal(old_cmd, m->command) && cmd[0]) {
                        strv_free(m->command);
                        m->command = strv_copy(cmd);
                }
                free(m->resolved_digest);
                m->resolved_digest = xstrdup(digest);
                path = paths_manifest(&s->paths, name);
                r = manifest_save(m, path, &err);
                if (r == 0) {
                        _cleanup_free_ char *pkg = paths_pkg_dir(&s->paths, name);
                        _cleanup_free_ char *marker = path_join(pkg, "IMAGE");
                        _cleanup_free_ char *pinned = docker_ref_pinned(&ref, digest);
                        _cleanup_free_ char *text = xasprintf("%s\n", pinned);
                        (void)write_file_atomic(marker, text, strlen(text), 0644);
                }
        }
        store_unlock(s);
        if (r < 0)
                return cli_fail_error(ctx, &err);

        if (ctx->json) {
                _cleanup_json_ cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "name", name);
                cJSON_AddBoolToObject(j, "updated", changed);
                if (old_digest)
                        cJSON_AddStringToObject(j, "old_digest", old_digest);
                else
                        cJSON_AddNullToObject(j, "old_digest");
                cJSON_AddStringToObject(j, "digest", digest);
                cli_print_json(j);
        } else if (changed) {
                printf("updated %s: %s -> %s\n", name, old_digest ? old_digest : "(none)", digest);
        } else {
                printf("%s is up to date (%s)\n", name, digest);
        }
        fflush(stdout);
        if (changed)
                cli_notify_daemon(ctx);
        return 0;
}
