/* docker:IMAGE[:TAG][@sha256:DIGEST] (DESIGN.md "Source specs"): the image is
 * pulled through the engine and pinned by its repo digest; the code stays in
 * the engine's image store, so pkg/ holds only a marker naming the image. */
#include <string.h>
#include <unistd.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/resolver.h"

#define PULL_TIMEOUT_MS (30u * 60u * 1000u)
#define IMAGE_ARGV_MAX 256

static void docker_closep(docker **d)
{
        docker_free(*d);
}

/* One line per layer event on a TTY, rewritten in place while a layer moves. */
static void show_progress(void *ud, const cJSON *msg)
{
        const char *status = json_get_string(msg, "status");
        const char *id = json_get_string(msg, "id");
        const char *bar = json_get_string(msg, "progress");

        if (!status)
                return;
        if (bar)
                fprintf(stderr, "\r\033[K%s %s %.80s", id ? id : "", status, bar);
        else
                fprintf(stderr, "\r\033[K%s%s%s\n", id ? id : "", id ? ": " : "", status);
}

/* Entrypoint followed by Cmd, as the engine runs them. */
char **resolver_docker_image_command(const cJSON *info)
{
        const cJSON *cfg = json_get_object(info, "Config"), *it;
        char **argv = xcalloc(1, sizeof(*argv));
        const char *keys[] = {"Entrypoint", "Cmd"};

        for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
                cJSON_ArrayForEach(it, json_get_array(cfg, keys[k]))
                {
                        if (cJSON_IsString(it) && strv_length(argv) < IMAGE_ARGV_MAX)
                                argv = strv_push(argv, it->valuestring);
                }
        return argv;
}

int resolver_docker_resolve(const docker_ref *ref, bool progress, char **ret_digest,
                            char ***ret_command, corral_error *err)
{
        _cleanup_(docker_closep) docker *d = NULL;
        _cleanup_json_ cJSON *info = NULL;
        _cleanup_free_ char *name = docker_ref_tagged(ref), *image = NULL;
        const cJSON *it;
        const char *digest = NULL;
        int r;

        r = docker_open(&d, err);
        if (r < 0)
                return r;
        r = docker_image_pull(d, ref, PULL_TIMEOUT_MS, progress ? show_progress : NULL, NULL,
                              err);
        if (progress)
                fprintf(stderr, "\r\033[K");
        if (r < 0)
                return r;
        image = ref->digest ? docker_ref_pinned(ref, ref->digest) : xstrdup(name);
        r = docker_image_inspect(d, image, &info, err);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(it, json_get_array(info, "RepoDigests"))
        {
                if (cJSON_IsString(it) &&
                    docker_ref_matches_repo_digest(ref, it->valuestring, &digest))
                        break;
                digest = NULL;
        }
        if (!digest)
                return corral_error_set(err, EX_DATAERR, "image %s has no repo digest for %s/%s",
                                        name, ref->registry, ref->repository);
        if (ref->digest && strcmp(ref->digest, digest) != 0)
                return corral_error_set(err, EX_DATAERR,
                                        "image %s: the registry gave digest %s, not %s", name,
                                        digest, ref->digest);
        *ret_digest = xstrdup(digest);
        if (ret_command)
                *ret_command = resolver_docker_image_command(info);
        return 0;
}

/* The pinned image's Entrypoint alone (owned, possibly empty), or NULL with
 * err set. */
static char **image_entrypoint(const docker_ref *ref, const char *digest, corral_error *err)
{
        _cleanup_(docker_closep) docker *d = NULL;
        _cleanup_json_ cJSON *info = NULL;
        _cleanup_free_ char *image = docker_ref_pinned(ref, digest);
        const cJSON *it;
        char **argv;

        if (docker_open(&d, err) < 0 || docker_image_inspect(d, image, &info, err) < 0)
                return NULL;
        argv = xcalloc(1, sizeof(*argv));
        cJSON_ArrayForEach(it, json_get_array(json_get_object(info, "Config"), "Entrypoint"))
        {
                if (cJSON_IsString(it) && strv_length(argv) < IMAGE_ARGV_MAX)
                        argv = strv_push(argv, it->valuestring);
        }
        return argv;
}

int resolver_docker_fetch(store *s, const install_options *opt, const source_spec *spec,
                          const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_(docker_ref_done) docker_ref ref = {0};
        _cleanup_free_ char *digest = NULL, *pinned = NULL, *marker = NULL, *text = NULL;
        _cleanup_strv_ char **cmd = NULL;
        const char *body = spec->raw;
        int r;

        if (strncmp(body, "docker:", 7) == 0)
                body += 7;
        r = docker_ref_parse(&ref, body, err);
        if (r < 0)
                return r;
        r = resolver_docker_resolve(&ref, isatty(STDERR_FILENO), &digest, &cmd, err);
        if (r < 0)
                return r;
        if (opt->image_args && !opt->command) {
                /* `docker run IMAGE ARGS`: ARGS replace the Cmd, after the
                 * Entrypoint (the image's command minus its Cmd). */
                _cleanup_strv_ char **ep = image_entrypoint(&ref, digest, err);
                if (!ep)
                        return -(err->code ? err->code : EX_UNAVAILABLE);
                for (size_t i = 0; opt->image_args[i]; i++)
                        ep = strv_push(ep, opt->image_args[i]);
                strv_free(cmd);
                cmd = steal_pointer(&ep);
        }
        if (!opt->command && (!cmd[0] || !cmd[0][0])) {
                _cleanup_free_ char *name = docker_ref_tagged(&ref);
                return corral_error_set(err, EX_DATAERR,
                                        "image %s has no entrypoint or cmd: give the server "
                                        "command after --",
                                        name);
        }
        strv_free(m->command);
        m->command = strv_copy(opt->command ? opt->command : cmd);
        free(m->backend);
        m->backend = xstrdup("docker");
        free(m->resolved_digest);
        m->resolved_digest = xstrdup(digest);
        free(m->resolved_version);
        m->resolved_version = ref.tag ? xstrdup(ref.tag) : NULL;
        free(m->resolved_url);
        m->resolved_url = docker_ref_name(&ref);

        pinned = docker_ref_pinned(&ref, digest);
        r = mkdir_p(pkg_dir, 0755);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot create %s", pkg_dir);
        marker = path_join(pkg_dir, "IMAGE");
        text = xasprintf("%s\n", pinned);
        r = write_file_atomic(marker, text, strlen(text), 0644);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", marker);
        return 0;
}
