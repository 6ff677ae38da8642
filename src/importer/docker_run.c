/* `docker run … IMAGE ARGS` in a client config → docker:IMAGE (importer.h). */
#include <string.h>

#include "corral/docker_run.h"
#include "internal.h"

/* What each `docker run` option (docker_run.h) becomes in the import; an
 * option without a row refuses the entry. */
enum how {
        UNKNOWN = 0,
        KEEP_ENV,
        KEEP_VOLUME,
        KEEP_MOUNT,
        DROP_NEUTRAL,
        DROP_WEAKENS,
        DROP_NETWORK,
};

static const enum how how[DOCKER_RUN_OPT_COUNT_] = {
        [DOCKER_RUN_OPT_ENV] = KEEP_ENV,
        [DOCKER_RUN_OPT_VOLUME] = KEEP_VOLUME,
        [DOCKER_RUN_OPT_MOUNT] = KEEP_MOUNT,
        [DOCKER_RUN_OPT_INTERACTIVE] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_TTY] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_RM] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_INIT] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_DETACH] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_NAME] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_HOSTNAME] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_LABEL] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_PULL] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_PLATFORM] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_WORKDIR] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_MEMORY] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_CPUS] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_PIDS_LIMIT] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_LOG_DRIVER] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_RESTART] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_STOP_TIMEOUT] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_USER] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_READ_ONLY] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_ENV_FILE] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_TMPFS] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_ULIMIT] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_SHM_SIZE] = DROP_NEUTRAL,
        [DOCKER_RUN_OPT_NETWORK] = DROP_NETWORK,
        [DOCKER_RUN_OPT_PUBLISH] = DROP_NETWORK,
        [DOCKER_RUN_OPT_ADD_HOST] = DROP_NETWORK,
        [DOCKER_RUN_OPT_DNS] = DROP_NETWORK,
        [DOCKER_RUN_OPT_PRIVILEGED] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_CAP_ADD] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_SECURITY_OPT] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_DEVICE] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_PID] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_IPC] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_UTS] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_USERNS] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_CGROUPNS] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_GROUP_ADD] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_ENTRYPOINT] = DROP_WEAKENS,
        [DOCKER_RUN_OPT_GPUS] = DROP_WEAKENS,
};

/* -e KEY[=VALUE].  false when it refused e. */
static bool env_option(import_entry *e, const char *v, import_env_fn lookup, void *ud)
{
        docker_run_env env;

        if (docker_run_env_parse(v, &env) < 0) {
                /* docker refuses it too ("invalid environment variable") */
                (void)import_refuse(e, IMPORT_REFUSED, "-e '%.64s': no variable name", v);
                return false;
        }
        _cleanup_free_ char *key = xstrndup(env.key, env.key_len);
        bool secret = importer_name_is_secret(key);

        if (env.value) {
                import_add_env(e, key, env.value, secret);
                return true;
        }
        /* `-e NAME`: the value docker would take from its own environment,
         * which is the entry's "env" (then the caller's). */
        const char *val = lookup(ud, key, &secret);
        if (!val) {
                import_note(e, "-e %s: no value in the entry's env or the environment; left out",
                            key);
                return true;
        }
        import_add_env(e, key, val, secret || importer_name_is_secret(key));
        return true;
}

/* -v SRC:DST[:OPTS] and --mount type=bind,source=…,target=…[,readonly]:
 * read-write unless ro, as docker's default; options beyond ro/rw (z,
 * rslave, bind-propagation, …) are the engine's and not carried over. */
static void volume_option(import_entry *e, const char *v, bool mount_syntax)
{
        docker_run_mount mnt;

        docker_run_mount_parse(v, mount_syntax, &mnt);
        const char *src = mnt.source, *dst = mnt.target;
        if (mount_syntax && (!mnt.bind || !src || !dst))
                import_note(e, "--mount %.200s: only type=bind mounts are carried over; "
                               "left out", v);
        else if (!src)
                import_note(e, "-v %.200s: an anonymous volume; left out", v);
        else if (src[0] != '/')
                import_note(e, "volume %s: a named volume, not a host path; left out", src);
        else if (dst[0] != '/')
                import_note(e, "volume %s: target '%s' is not absolute; left out", src, dst);
        else if (strchr(src, ':') || strchr(dst, ':'))
                import_note(e, "volume %s: a ':' in a path cannot be carried over; left out",
                            src);
        else {
                char *m = xasprintf("%s:%s:%s", src, dst,
                                    mnt.mode == DOCKER_RUN_MODE_RO ? "ro" : "rw");
                e->mounts = strv_push(e->mounts, m);
                free(m);
        }
        docker_run_mount_done(&mnt);
}

void import_docker_run(import_entry *e, char *const *args, import_env_fn lookup, void *ud)
{
        size_t i = 0;

        if (!args || !args[0] || strcmp(args[0], "run") != 0) {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "only 'docker run …' entries can be imported, not 'docker "
                                    "%.32s'",
                                    args && args[0] ? args[0] : "");
                return;
        }
        for (i = 1; args[i] && args[i][0] == '-';) {
                const char *a = args[i], *v = NULL;
                docker_run_arg arg;
                docker_run_next(args, &i, &arg);
                if (arg.kind == DOCKER_RUN_END)
                        break;
                if (arg.kind == DOCKER_RUN_FLAGS) { /* "-it", "-ti", "-di" */
                        bool neutral = true;
                        for (const char *c = arg.flags; *c; c++)
                                neutral = neutral && how[docker_run_short(*c)] == DROP_NEUTRAL;
                        if (neutral) {
                                import_note(e, "%s: dropped (corral attaches stdio and removes "
                                               "the container itself)", a);
                                continue;
                        }
                }
                if (arg.kind == DOCKER_RUN_MISSING_VALUE) {
                        (void)import_refuse(e, IMPORT_REFUSED, "%s needs a value", a);
                        return;
                }
                if (arg.kind != DOCKER_RUN_OPTION || how[arg.opt] == UNKNOWN) {
                        (void)import_refuse(e, IMPORT_REFUSED,
                                            "unknown docker run option '%.64s': not carried over "
                                            "blindly", a);
                        return;
                }
                v = arg.value;
                switch (how[arg.opt]) {
                case KEEP_ENV:
                        if (!env_option(e, v, lookup, ud))
                                return;
                        break;
                case KEEP_VOLUME:
                case KEEP_MOUNT:
                        volume_option(e, v, arg.opt == DOCKER_RUN_OPT_MOUNT);
                        break;
                case DROP_NEUTRAL:
                        import_note(e, "--%s: dropped (corral sets this itself)", arg.name);
                        break;
                case DROP_NETWORK:
                        if (v && strcmp(v, "none") == 0)
                                break; /* corral's own default */
                        import_note(e, "--%s%s%s: dropped: it would weaken confinement "
                                       "(containers run with no network)",
                                    arg.name, v ? " " : "", v ? v : "");
                        break;
                case DROP_WEAKENS:
                        import_note(e, "--%s%s%s: dropped: it would weaken confinement",
                                    arg.name, v ? " " : "", v ? v : "");
                        break;
                case UNKNOWN:
                        break;
                }
        }
        if (!args[i]) {
                (void)import_refuse(e, IMPORT_REFUSED, "docker run names no image");
                return;
        }
        free(e->spec);
        e->spec = xasprintf("docker:%s", args[i]);
        free(e->kind);
        e->kind = xstrdup("docker");
        for (i++; args[i]; i++)
                push_escaped(&e->image_args, args[i]);
}
