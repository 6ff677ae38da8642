/* `docker run … IMAGE ARGS` in a client config → docker:IMAGE (importer.h). */
#include <string.h>

#include "internal.h"

/* docker run options that take a value, and what becomes of them. */
enum how { KEEP_ENV, KEEP_VOLUME, KEEP_MOUNT, DROP_NEUTRAL, DROP_WEAKENS, DROP_NETWORK };

static const struct {
        const char *name; /* long form */
        char short_name;  /* 0: none */
        bool value;       /* takes a value */
        enum how how;
} options[] = {
        {"env", 'e', true, KEEP_ENV},
        {"volume", 'v', true, KEEP_VOLUME},
        {"mount", 0, true, KEEP_MOUNT},
        {"interactive", 'i', false, DROP_NEUTRAL},
        {"tty", 't', false, DROP_NEUTRAL},
        {"rm", 0, false, DROP_NEUTRAL},
        {"init", 0, false, DROP_NEUTRAL},
        {"detach", 'd', false, DROP_NEUTRAL},
        {"name", 0, true, DROP_NEUTRAL},
        {"hostname", 'h', true, DROP_NEUTRAL},
        {"label", 'l', true, DROP_NEUTRAL},
        {"pull", 0, true, DROP_NEUTRAL},
        {"platform", 0, true, DROP_NEUTRAL},
        {"workdir", 'w', true, DROP_NEUTRAL},
        {"memory", 'm', true, DROP_NEUTRAL},
        {"cpus", 0, true, DROP_NEUTRAL},
        {"pids-limit", 0, true, DROP_NEUTRAL},
        {"log-driver", 0, true, DROP_NEUTRAL},
        {"restart", 0, true, DROP_NEUTRAL},
        {"stop-timeout", 0, true, DROP_NEUTRAL},
        {"user", 'u', true, DROP_NEUTRAL},
        {"read-only", 0, false, DROP_NEUTRAL},
        {"env-file", 0, true, DROP_NEUTRAL},
        {"network", 0, true, DROP_NETWORK},
        {"net", 0, true, DROP_NETWORK},
        {"publish", 'p', true, DROP_NETWORK},
        {"add-host", 0, true, DROP_NETWORK},
        {"dns", 0, true, DROP_NETWORK},
        {"privileged", 0, false, DROP_WEAKENS},
        {"cap-add", 0, true, DROP_WEAKENS},
        {"security-opt", 0, true, DROP_WEAKENS},
        {"device", 0, true, DROP_WEAKENS},
        {"pid", 0, true, DROP_WEAKENS},
        {"ipc", 0, true, DROP_WEAKENS},
        {"uts", 0, true, DROP_WEAKENS},
        {"userns", 0, true, DROP_WEAKENS},
        {"cgroupns", 0, true, DROP_WEAKENS},
        {"group-add", 0, true, DROP_WEAKENS},
        {"entrypoint", 0, true, DROP_WEAKENS},
        {"gpus", 0, true, DROP_WEAKENS},
        {"tmpfs", 0, true, DROP_NEUTRAL},
        {"ulimit", 0, true, DROP_NEUTRAL},
        {"shm-size", 0, true, DROP_NEUTRAL},
};

static int find_option(const char *arg, const char **ret_value)
{
        *ret_value = NULL;
        if (arg[0] == '-' && arg[1] == '-') {
                const char *eq = strchr(arg + 2, '=');
                size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
                for (size_t i = 0; i < ARRAY_SIZE(options); i++)
                        if (strlen(options[i].name) == n &&
                            strncmp(options[i].name, arg + 2, n) == 0) {
                                if (eq)
                                        *ret_value = eq + 1;
                                return (int)i;
                        }
                return -1;
        }
        for (size_t i = 0; i < ARRAY_SIZE(options); i++)
                if (options[i].short_name && arg[1] == options[i].short_name) {
                        if (arg[2] == '=')
                                *ret_value = arg + 3;
                        else if (arg[2] && options[i].value)
                                *ret_value = arg + 2;
                        else if (arg[2])
                                return -1; /* bundled short flags: see below */
                        return (int)i;
                }
        return -1;
}

/* "-it", "-ti", "-di": bundles of value-less short flags. */
static bool flag_bundle(const char *arg)
{
        if (arg[0] != '-' || arg[1] == '-' || !arg[1])
                return false;
        for (const char *p = arg + 1; *p; p++)
                if (!strchr("itd", *p))
                        return false;
        return true;
}

static void env_option(import_entry *e, const char *v, import_env_fn lookup, void *ud)
{
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *key = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
        bool secret = importer_name_is_secret(key);

        if (eq) {
                import_add_env(e, key, eq + 1, secret);
                return;
        }
        /* `-e NAME`: the value docker would take from its own environment,
         * which is the entry's "env" (then the caller's). */
        const char *val = lookup(ud, key, &secret);
        if (!val) {
                import_note(e, "-e %s: no value in the entry's env or the environment; left out",
                            key);
                return;
        }
        import_add_env(e, key, val, secret || importer_name_is_secret(key));
}

/* -v SRC:DST[:OPTS] and --mount type=bind,source=…,target=…[,readonly]. */
static void volume_option(import_entry *e, const char *v, bool mount_syntax)
{
        _cleanup_free_ char *src = NULL, *dst = NULL;
        bool ro = false;

        if (mount_syntax) {
                _cleanup_free_ char *copy = xstrdup(v);
                char *save = NULL;
                bool bind = false;
                for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                        char *eq = strchr(f, '=');
                        const char *val = eq ? eq + 1 : "";
                        if (eq)
                                *eq = '\0';
                        if (strcmp(f, "type") == 0)
                                bind = strcmp(val, "bind") == 0;
                        else if (strcmp(f, "source") == 0 || strcmp(f, "src") == 0)
                                src = xstrdup(val);
                        else if (strcmp(f, "target") == 0 || strcmp(f, "dst") == 0 ||
                                 strcmp(f, "destination") == 0)
                                dst = xstrdup(val);
                        else if (strcmp(f, "readonly") == 0 || strcmp(f, "ro") == 0)
                                ro = !eq || strcmp(val, "false") != 0;
                }
                if (!bind || !src || !dst) {
                        import_note(e, "--mount %.200s: only type=bind mounts are carried over; "
                                       "left out", v);
                        return;
                }
        } else {
                const char *c1 = strchr(v, ':');
                if (!c1) {
                        import_note(e, "-v %.200s: an anonymous volume; left out", v);
                        return;
                }
                src = xstrndup(v, (size_t)(c1 - v));
                const char *c2 = strchr(c1 + 1, ':');
                dst = c2 ? xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : xstrdup(c1 + 1);
                /* OPTS: comma-separated, e.g. "ro,z" or "rw,rslave" */
                for (const char *o = c2 ? c2 + 1 : NULL; o && *o;) {
                        size_t n = strcspn(o, ",");
                        if (n == 2 && strncmp(o, "ro", 2) == 0)
                                ro = true;
                        else if (n == 2 && strncmp(o, "rw", 2) == 0)
                                ro = false;
                        o += n + (o[n] == ',');
                }
        }
        if (src[0] != '/') {
                import_note(e, "volume %s: a named volume, not a host path; left out", src);
                return;
        }
        if (dst[0] != '/') {
                import_note(e, "volume %s: target '%s' is not absolute; left out", src, dst);
                return;
        }
        if (strchr(src, ':') || strchr(dst, ':')) {
                import_note(e, "volume %s: a ':' in a path cannot be carried over; left out",
                            src);
                return;
        }
        char *m = xasprintf("%s:%s:%s", src, dst, ro ? "ro" : "rw");
        e->mounts = strv_push(e->mounts, m);
        free(m);
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
        for (i = 1; args[i] && args[i][0] == '-'; i++) {
                const char *a = args[i], *v = NULL;
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (flag_bundle(a)) {
                        import_note(e, "%s: dropped (corral attaches stdio and removes the "
                                       "container itself)", a);
                        continue;
                }
                int k = find_option(a, &v);
                if (k < 0) {
                        (void)import_refuse(e, IMPORT_REFUSED,
                                            "unknown docker run option '%.64s': not carried over "
                                            "blindly", a);
                        return;
                }
                if (options[k].value && !v) {
                        if (!args[i + 1]) {
                                (void)import_refuse(e, IMPORT_REFUSED, "%s needs a value", a);
                                return;
                        }
                        v = args[++i];
                }
                switch (options[k].how) {
                case KEEP_ENV:
                        env_option(e, v, lookup, ud);
                        break;
                case KEEP_VOLUME:
                case KEEP_MOUNT:
                        volume_option(e, v, options[k].how == KEEP_MOUNT);
                        break;
                case DROP_NEUTRAL:
                        import_note(e, "--%s: dropped (corral sets this itself)",
                                    options[k].name);
                        break;
                case DROP_NETWORK:
                        if (v && strcmp(v, "none") == 0)
                                break; /* corral's own default */
                        import_note(e, "--%s%s%s: dropped: it would weaken confinement "
                                       "(containers run with no network)",
                                    options[k].name, v ? " " : "", v ? v : "");
                        break;
                case DROP_WEAKENS:
                        import_note(e, "--%s%s%s: dropped: it would weaken confinement",
                                    options[k].name, v ? " " : "", v ? v : "");
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
