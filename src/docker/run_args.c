/* `docker run` option syntax (docker_run.h): the table, the lookup, and the
 * -e/-v/--mount values.  Policy lives with the callers. */
#include <errno.h>
#include <string.h>

#include "corral/docker_run.h"
#include "corral/macro.h"

static const struct {
        const char *name; /* long form, without "--" */
        char short_name;  /* 0: none */
        bool value;       /* takes a value */
        docker_run_option opt;
} options[] = {
        {"env", 'e', true, DOCKER_RUN_OPT_ENV},
        {"volume", 'v', true, DOCKER_RUN_OPT_VOLUME},
        {"mount", 0, true, DOCKER_RUN_OPT_MOUNT},
        {"network", 0, true, DOCKER_RUN_OPT_NETWORK},
        {"net", 0, true, DOCKER_RUN_OPT_NETWORK},
        {"memory", 'm', true, DOCKER_RUN_OPT_MEMORY},
        {"cpus", 0, true, DOCKER_RUN_OPT_CPUS},
        {"pids-limit", 0, true, DOCKER_RUN_OPT_PIDS_LIMIT},
        {"interactive", 'i', false, DOCKER_RUN_OPT_INTERACTIVE},
        {"tty", 't', false, DOCKER_RUN_OPT_TTY},
        {"rm", 0, false, DOCKER_RUN_OPT_RM},
        {"detach", 'd', false, DOCKER_RUN_OPT_DETACH},
        {"name", 0, true, DOCKER_RUN_OPT_NAME},
        {"hostname", 'h', true, DOCKER_RUN_OPT_HOSTNAME},
        {"label", 'l', true, DOCKER_RUN_OPT_LABEL},
        {"pull", 0, true, DOCKER_RUN_OPT_PULL},
        {"publish", 'p', true, DOCKER_RUN_OPT_PUBLISH},
        {"publish-all", 'P', false, DOCKER_RUN_OPT_PUBLISH_ALL},
        {"expose", 0, true, DOCKER_RUN_OPT_EXPOSE},
        {"stop-timeout", 0, true, DOCKER_RUN_OPT_STOP_TIMEOUT},
        {"log-driver", 0, true, DOCKER_RUN_OPT_LOG_DRIVER},
        {"init", 0, false, DOCKER_RUN_OPT_INIT},
        {"read-only", 0, false, DOCKER_RUN_OPT_READ_ONLY},
        {"privileged", 0, false, DOCKER_RUN_OPT_PRIVILEGED},
        {"cap-add", 0, true, DOCKER_RUN_OPT_CAP_ADD},
        {"security-opt", 0, true, DOCKER_RUN_OPT_SECURITY_OPT},
        {"device", 0, true, DOCKER_RUN_OPT_DEVICE},
        {"pid", 0, true, DOCKER_RUN_OPT_PID},
        {"ipc", 0, true, DOCKER_RUN_OPT_IPC},
        {"uts", 0, true, DOCKER_RUN_OPT_UTS},
        {"userns", 0, true, DOCKER_RUN_OPT_USERNS},
        {"cgroupns", 0, true, DOCKER_RUN_OPT_CGROUPNS},
        {"group-add", 0, true, DOCKER_RUN_OPT_GROUP_ADD},
        {"entrypoint", 0, true, DOCKER_RUN_OPT_ENTRYPOINT},
        {"gpus", 0, true, DOCKER_RUN_OPT_GPUS},
        {"user", 'u', true, DOCKER_RUN_OPT_USER},
        {"workdir", 'w', true, DOCKER_RUN_OPT_WORKDIR},
        {"env-file", 0, true, DOCKER_RUN_OPT_ENV_FILE},
        {"add-host", 0, true, DOCKER_RUN_OPT_ADD_HOST},
        {"dns", 0, true, DOCKER_RUN_OPT_DNS},
        {"platform", 0, true, DOCKER_RUN_OPT_PLATFORM},
        {"tmpfs", 0, true, DOCKER_RUN_OPT_TMPFS},
        {"ulimit", 0, true, DOCKER_RUN_OPT_ULIMIT},
        {"shm-size", 0, true, DOCKER_RUN_OPT_SHM_SIZE},
        {"restart", 0, true, DOCKER_RUN_OPT_RESTART},
};

static int find_long(const char *name, size_t n)
{
        for (size_t k = 0; k < ARRAY_SIZE(options); k++)
                if (strlen(options[k].name) == n && strncmp(options[k].name, name, n) == 0)
                        return (int)k;
        return -1;
}

static int find_short(char c)
{
        for (size_t k = 0; c && k < ARRAY_SIZE(options); k++)
                if (options[k].short_name == c)
                        return (int)k;
        return -1;
}

docker_run_option docker_run_short(char c)
{
        int k = find_short(c);
        return k < 0 ? DOCKER_RUN_OPT_NONE : options[k].opt;
}

/* Whether every letter of s is a value-less short option. */
static bool flag_bundle(const char *s)
{
        for (; *s; s++) {
                int k = find_short(*s);
                if (k < 0 || options[k].value)
                        return false;
        }
        return true;
}

void docker_run_next(char *const *argv, size_t *i, docker_run_arg *ret)
{
        const char *a = argv[(*i)++];
        int k = -1;

        *ret = (docker_run_arg){.kind = DOCKER_RUN_UNKNOWN};
        if (a[0] != '-') {
                ret->kind = DOCKER_RUN_POSITIONAL;
                return;
        }
        if (a[1] == '-') {
                const char *eq = strchr(a + 2, '=');
                if (!a[2]) {
                        ret->kind = DOCKER_RUN_END;
                        return;
                }
                k = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
                if (k >= 0 && eq)
                        ret->value = eq + 1;
        } else if (a[1] && a[2] != '=' && flag_bundle(a + 1)) {
                /* "-i" too: a bundle of one. */
                ret->kind = DOCKER_RUN_FLAGS;
                ret->flags = a + 1;
                return;
        } else if ((k = find_short(a[1])) >= 0) {
                if (a[2] == '=')
                        ret->value = a + 3;
                else if (a[2] && options[k].value)
                        ret->value = a + 2;
                else if (a[2])
                        k = -1; /* "-ix", "-ite": not read as a bundle */
        }
        if (k < 0)
                return;
        ret->opt = options[k].opt;
        ret->name = options[k].name;
        ret->kind = DOCKER_RUN_OPTION;
        if (options[k].value && !ret->value) {
                if (!argv[*i])
                        ret->kind = DOCKER_RUN_MISSING_VALUE;
                else
                        ret->value = argv[(*i)++];
        }
}

int docker_run_env_parse(const char *v, docker_run_env *ret)
{
        const char *eq = strchr(v, '=');
        size_t n = eq ? (size_t)(eq - v) : strlen(v);

        if (n == 0)
                return -EINVAL;
        *ret = (docker_run_env){.key = v, .key_len = n, .value = eq ? eq + 1 : NULL};
        return 0;
}

/* "=false" says no; no value or any other says yes. */
static bool yes(const char *eq)
{
        return !eq || strcmp(eq + 1, "false") != 0;
}

static void set(char **field, const char *value)
{
        free(*field);
        *field = xstrdup(value);
}

void docker_run_mount_parse(const char *v, bool mount_syntax, docker_run_mount *ret)
{
        _cleanup_free_ char *copy = xstrdup(v);
        char *opts = NULL;

        *ret = (docker_run_mount){.bind = !mount_syntax};
        if (mount_syntax) {
                opts = copy;
        } else {
                char *c1 = strchr(copy, ':');
                if (!c1) {
                        ret->target = xstrdup(copy);
                        return;
                }
                *c1 = '\0';
                ret->source = xstrdup(copy);
                char *c2 = strchr(c1 + 1, ':');
                if (c2) {
                        *c2 = '\0';
                        opts = c2 + 1;
                }
                ret->target = xstrdup(c1 + 1);
        }
        for (char *save = NULL, *f = opts ? strtok_r(opts, ",", &save) : NULL; f;
             f = strtok_r(NULL, ",", &save)) {
                char *eq = mount_syntax ? strchr(f, '=') : NULL;
                if (eq)
                        *eq = '\0';
                if (strcmp(f, "ro") == 0 || strcmp(f, "readonly") == 0)
                        ret->mode = yes(eq) ? DOCKER_RUN_MODE_RO : DOCKER_RUN_MODE_RW;
                else if (strcmp(f, "rw") == 0)
                        ret->mode = yes(eq) ? DOCKER_RUN_MODE_RW : DOCKER_RUN_MODE_RO;
                else if (!mount_syntax)
                        ret->other = true; /* z, Z, rslave, nocopy, … */
                else if (strcmp(f, "type") == 0)
                        ret->bind = eq && strcmp(eq + 1, "bind") == 0;
                else if (strcmp(f, "source") == 0 || strcmp(f, "src") == 0)
                        set(&ret->source, eq ? eq + 1 : "");
                else if (strcmp(f, "target") == 0 || strcmp(f, "dst") == 0 ||
                         strcmp(f, "destination") == 0)
                        set(&ret->target, eq ? eq + 1 : "");
                else
                        ret->other = true; /* bind-propagation, consistency, volume-opt, … */
        }
}

void docker_run_mount_done(docker_run_mount *m)
{
        free(m->source);
        free(m->target);
        m->source = m->target = NULL;
}
