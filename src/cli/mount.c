/* Per-server mounts (issue 18): `install --mount HOST[:TARGET][:ro|rw]`,
 * `corral mount NAME add|remove|list`, and the install-time checks of host
 * paths.  A read-write mount is an idmapped bind (include/corral/sandbox.h,
 * sandbox/idmap.c): the server writes files owned by the directory's owner
 * and the directory itself is never chowned. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/jsonutil.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "corral/paths.h"
#include "corral/sandbox.h"
#include "corral/store.h"

#define MOUNT_MAX 64 /* per server, as the launcher's SANDBOX_MAX_MOUNTS */

int cli_mount_normalize(const char *spec, char **ret, corral_error *err)
{
        _cleanup_free_ char *s = xstrdup(spec);
        char *parts[4] = {NULL, NULL, NULL, NULL};
        char real[PATH_MAX];
        size_t n = 0;
        bool rw = false;

        for (char *tok = s, *save = NULL; (tok = strtok_r(tok, ":", &save)); tok = NULL) {
                if (n == 3)
                        return corral_error_set(err, EX_USAGE,
                                                "--mount %.200s: want HOST[:TARGET][:ro|rw]", spec);
                parts[n++] = tok;
        }
        if (n > 1 && (strcmp(parts[n - 1], "ro") == 0 || strcmp(parts[n - 1], "rw") == 0)) {
                rw = strcmp(parts[n - 1], "rw") == 0;
                parts[--n] = NULL;
        }
        if (n == 0 || n > 2 || (parts[1] && (parts[1][0] != '/' || strstr(parts[1], "/../") ||
                                             strcmp(parts[1], "/") == 0)))
                return corral_error_set(err, EX_USAGE,
                                        "--mount %.200s: want HOST[:TARGET][:ro|rw] (TARGET "
                                        "absolute, not /)",
                                        spec);
        if (!realpath(parts[0], real))
                return corral_error_errno(err, errno == ENOENT ? EX_NOINPUT : EX_OSERR, errno,
                                          "--mount %.200s", parts[0]);
        if (strcmp(real, "/") == 0)
                return corral_error_set(err, EX_USAGE, "--mount: refusing to give a server /");
        if (parts[1] && strcmp(parts[1], real) != 0)
                *ret = xasprintf("%s:%s:%s", real, parts[1], rw ? "rw" : "ro");
        else
                *ret = xasprintf("%s:%s", real, rw ? "rw" : "ro");
        return 0;
}

bool cli_mount_is_rw(const char *mount)
{
        size_t n = strlen(mount);
        return n > 3 && strcmp(mount + n - 3, ":rw") == 0;
}

/* The host path of a "HOST[:TARGET][:ro|rw]" entry (owned). */
static char *mount_host(const char *mount)
{
        return xstrndup(mount, strcspn(mount, ":"));
}

int cli_mount_owner(char *const *mounts, unsigned *ret_uid, unsigned *ret_gid, corral_error *err)
{
        struct stat st;
        const char *first = NULL;

        if (geteuid() != 0)
                return corral_error_set(err, EX_USAGE,
                                        "--run-as-owner: servers installed by a regular user run as "
                                        "that user already");
        for (size_t i = 0; mounts && mounts[i]; i++) {
                _cleanup_free_ char *host = mount_host(mounts[i]);
                if (!cli_mount_is_rw(mounts[i]))
                        continue;
                if (stat(host, &st) < 0)
                        return corral_error_errno(err, EX_NOINPUT, errno, "--mount %s", host);
                if (st.st_uid == 0 || st.st_gid == 0)
                        return corral_error_set(err, EX_USAGE,
                                                "--run-as-owner: %s belongs to root, and corral "
                                                "never runs a server as root",
                                                host);
                if (first && (st.st_uid != *ret_uid || st.st_gid != *ret_gid))
                        return corral_error_set(err, EX_USAGE,
                                                "--run-as-owner: %s and %s have different owners",
                                                first, host);
                if (!first)
                        first = mounts[i];
                *ret_uid = st.st_uid;
                *ret_gid = st.st_gid;
        }
        if (!first)
                return corral_error_set(err, EX_USAGE,
                                        "--run-as-owner needs a read-write --mount (its owner is "
                                        "who the server runs as)");
        return 0;
}

int cli_mount_check_idmap(const char *mount, unsigned run_uid, corral_error *err)
{
        _cleanup_free_ char *host = mount_host(mount);
        const char *what = NULL;
        struct stat st;
        int fd = -1, r;

        if (!cli_mount_is_rw(mount) || geteuid() != 0)
                return 0; /* a user's servers run as the user: no mapping */
        if (stat(host, &st) < 0)
                return corral_error_errno(err, EX_NOINPUT, errno, "--mount %s", host);
        if (run_uid && st.st_uid == run_uid)
                return 0; /* the server runs as the owner: a plain bind */
        r = sandbox_idmap_tree(host, st.st_uid, st.st_gid, SANDBOX_UID_BASE, SANDBOX_UID_BASE,
                               &fd, &what);
        if (r < 0)
                return corral_error_errno(
                        err, EX_UNAVAILABLE, -r,
                        "%s cannot be given to a server read-write without chowning it (%s); "
                        "mount it read-only (%s:ro), or install with --run-as-owner to run the "
                        "server as its owner (uid %u)",
                        host, what, host, (unsigned)st.st_uid);
        close(fd);
        return 0;
}

int cli_check_path_args(const char *spec, char *const *command, corral_error *err)
{
        struct stat st;

        /* Inside an image, paths are the image's, not the host's. */
        if (!command || strncmp(spec, "docker:", 7) == 0)
                return 0;
        for (size_t i = 0; command[i]; i++) {
                const char *a = command[i];
                if (a[0] != '/' || stat(a, &st) == 0)
                        continue;
                return corral_error_errno(err, EX_NOINPUT, errno,
                                          "the server's argument %.200s does not exist on this "
                                          "host",
                                          a);
        }
        return 0;
}

/* Adds (add) or removes (!add) one mount of server name, under the store
 * lock.  remove matches the host path, the target or the whole entry. */
static int edit_mounts(store *s, const char *name, const char *entry, bool add, corral_error *err)
{
        manifest *m = NULL;
        int r = store_lock(s, err);

        if (r < 0)
                return r;
        r = store_load(s, name, &m, err);
        if (r >= 0)
                r = store_may_change(s, m, err);
        if (r >= 0) {
                _cleanup_free_ char *path = paths_manifest(&s->paths, name);
                _cleanup_free_ char *host = mount_host(entry);
                char **keep = xcalloc(1, sizeof(char *));
                bool found = false;

                for (size_t i = 0; m->mounts && m->mounts[i]; i++) {
                        _cleanup_free_ char *h = mount_host(m->mounts[i]);
                        const char *t = m->mounts[i] + strlen(h);
                        size_t tl = t[0] == ':' ? strcspn(t + 1, ":") : 0;
                        bool same = strcmp(h, host) == 0 || strcmp(m->mounts[i], entry) == 0 ||
                                    (tl && t[1] == '/' && strlen(entry) == tl &&
                                     strncmp(t + 1, entry, tl) == 0);
                        found |= same;
                        if (!same)
                                keep = strv_push(keep, m->mounts[i]);
                }
                if (add) {
                        if (strv_length(keep) >= MOUNT_MAX)
                                r = corral_error_set(err, EX_USAGE,
                                                     "%s has %d mounts already", name, MOUNT_MAX);
                        else
                                keep = strv_push(keep, entry); /* replaces the same host path */
                } else if (!found) {
                        r = corral_error_set(err, EX_NOINPUT, "%s has no mount %s", name, entry);
                }
                if (r >= 0) {
                        strv_free(m->mounts);
                        m->mounts = keep;
                        keep = NULL;
                        r = manifest_save(m, path, err);
                }
                strv_free(keep);
        }
        manifest_free(m);
        store_unlock(s);
        return r < 0 ? r : 0;
}

int cli_mount(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        corral_error err = {0};
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'q':
                        ctx->quiet = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (argc - optind < 2)
                return cli_usage_error(ctx, "expected NAME add|remove|list");
        const char *name = argv[optind], *action = argv[optind + 1];
        bool list = strcmp(action, "list") == 0;
        if (!list && strcmp(action, "add") != 0 && strcmp(action, "remove") != 0)
                return cli_usage_error(ctx, "expected NAME add|remove|list");
        if (argc - optind != (list ? 2 : 3))
                return cli_usage_error(ctx, list ? "list takes no more arguments"
                                                 : "expected one HOST[:TARGET][:ro|rw]");
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (list) {
                _cleanup_manifest_ manifest *m = NULL;
                if (store_load(s, name, &m, &err) < 0)
                        return cli_fail_error(ctx, &err);
                if (ctx->json) {
                        _cleanup_json_ cJSON *arr = cJSON_CreateArray();
                        for (size_t i = 0; m->mounts && m->mounts[i]; i++)
                                cJSON_AddItemToArray(arr, cJSON_CreateString(m->mounts[i]));
                        cli_print_json(arr);
                } else {
                        for (size_t i = 0; m->mounts && m->mounts[i]; i++)
                                printf("%s\n", m->mounts[i]);
                }
                return 0;
        }
        _cleanup_free_ char *entry = NULL;
        if (strcmp(action, "add") == 0) {
                _cleanup_manifest_ manifest *m = NULL;
                if (store_load(s, name, &m, &err) < 0 ||
                    cli_mount_normalize(argv[optind + 2], &entry, &err) < 0 ||
                    cli_mount_check_idmap(entry, m->run_uid, &err) < 0)
                        return cli_fail_error(ctx, &err);
        } else {
                char real[PATH_MAX];
                const char *e = argv[optind + 2];
                /* The host path as install recorded it (resolved). */
                entry = xstrdup(e[0] != '/' && realpath(e, real) ? real : e);
        }
        if (edit_mounts(s, name, entry, strcmp(action, "add") == 0, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (!ctx->quiet)
                printf("%s %s: %s\n", strcmp(action, "add") == 0 ? "mounted" : "unmounted", name,
                       entry);
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}
