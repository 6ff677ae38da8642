/* The hardened container configuration of a docker-backend server (Engine API
 * v1.41, POST /containers/create: ContainerConfig and HostConfig). */
#include <string.h>
#include <sys/resource.h>

#include "corral/docker.h"
#include "corral/jsonutil.h"
#include "corral/sandbox.h"
#include "corral/strbuf.h"

#define NOBODY_USER "65534:65534"

/* An empty read-only tmpfs replaces the engine's sysfs mount at /sys. */
#define SYS_OPTIONS "ro,nosuid,nodev,noexec,size=4k"
/* The native sandbox's sizes (corral/sandbox.h): /tmp is bounded, not
 * the engine's default (up to the memory limit), and so is /dev/shm. */
#define TMP_OPTIONS_FMT "rw,noexec,nosuid,size=%um"
#define SHM_BYTES ((double)SANDBOX_SHM_MB * 1024 * 1024)
/* The kernel's OOM killer picks a server before the daemon and the engine. */
#define OOM_SCORE_ADJ 500
#define NOFILE 1024 /* the native sandbox's RLIMIT_NOFILE */
#define NPROC_MAX 4096

/* HostConfig.MaskedPaths and ReadonlyPaths replace the engine's lists, so
 * both start from Docker's defaults (moby oci/defaults.go).  Docker leaves
 * /proc/pressure writable, to every uid (0666 since Linux 6.4): a PSI
 * trigger written there is host-wide kernel state a server has no business
 * making.  Podman's compat API ignores both fields: it gets everything
 * masked here and the extra read-only ones as SecurityOpt "mask=" instead
 * (docker_config_podman_paths(); Podman's own defaults already cover the
 * rest of the read-only list). */
static const char *const masked_paths[] = {
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        NULL,
};
static const char *const readonly_paths[] = {
        "/proc/bus",           "/proc/fs",       "/proc/irq", "/proc/sys",
        "/proc/sysrq-trigger", "/proc/pressure", NULL,
};
/* What of readonly_paths Podman does not make read-only by itself. */
static const char *const podman_extra_masks[] = {"/proc/pressure", NULL};

static cJSON *ulimit(const char *name, double value)
{
        cJSON *u = cJSON_CreateObject();

        cJSON_AddStringToObject(u, "Name", name);
        cJSON_AddNumberToObject(u, "Soft", value);
        cJSON_AddNumberToObject(u, "Hard", value);
        return u;
}

/* RLIMIT_NPROC counts every process of the container's uid on the host, so
 * the pids limit (a cgroup) is what bounds a server; this one only has to be
 * set (Podman's own default, 4194304, is above the hard limit of hosts like
 * this one's engine, and every start then fails with "error setting rlimit")
 * and to stay at or below the engine's hard limit, which corral cannot read:
 * 4096 (16 servers at the default pids limit under one uid), or the
 * daemon's own hard limit when lower. */
static double nproc_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            rl.rlim_max < NPROC_MAX)
                return (double)rl.rlim_max;
        return NPROC_MAX;
}

static cJSON *string_array(char *const *v)
{
        cJSON *a = cJSON_CreateArray();

        for (size_t i = 0; v && v[i]; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

cJSON *docker_container_config(const manifest *m, const char *image, const char *image_user,
                               const char *root_label)
{
        cJSON *c = cJSON_CreateObject(), *hc, *env, *labels, *a, *tmpfs;
        bool network = m->network && strcmp(m->network, "host") == 0;

        cJSON_AddStringToObject(c, "Image", image);
        json_set(c, "Entrypoint", string_array(m->command));
        env = cJSON_AddArrayToObject(c, "Env");
        for (size_t i = 0; i < m->n_env; i++) {
                _cleanup_free_ char *kv = xasprintf("%s=%s", m->env[i].key, m->env[i].value);
                cJSON_AddItemToArray(env, cJSON_CreateString(kv));
        }
        labels = cJSON_AddObjectToObject(c, "Labels");
        cJSON_AddStringToObject(labels, DOCKER_LABEL_SERVER, m->name);
        if (root_label)
                cJSON_AddStringToObject(labels, DOCKER_LABEL_ROOT, root_label);
        /* The image author's user is kept (it may own files the server needs);
         * an image that names none would run as root, so it runs as nobody. */
        cJSON_AddStringToObject(c, "User", image_user && *image_user ? image_user : NOBODY_USER);
        cJSON_AddBoolToObject(c, "AttachStdin", true);
        cJSON_AddBoolToObject(c, "AttachStdout", true);
        cJSON_AddBoolToObject(c, "AttachStderr", true);
        cJSON_AddBoolToObject(c, "OpenStdin", true);
        cJSON_AddBoolToObject(c, "StdinOnce", true);
        cJSON_AddBoolToObject(c, "Tty", false);
        cJSON_AddBoolToObject(c, "NetworkDisabled", !network);

        hc = cJSON_AddObjectToObject(c, "HostConfig");
        a = cJSON_AddArrayToObject(hc, "CapDrop");
        cJSON_AddItemToArray(a, cJSON_CreateString("ALL"));
        a = cJSON_AddArrayToObject(hc, "SecurityOpt");
        cJSON_AddItemToArray(a, cJSON_CreateString("no-new-privileges"));
        {
                /* The native sandbox's syscall policy, inline as the Engine
                 * API takes it (the CLI sends a file's contents the same way). */
                _cleanup_json_ cJSON *prof =
                        docker_seccomp_profile(m->profile ? m->profile : "default");
                if (prof) {
                        _cleanup_free_ char *text = cJSON_PrintUnformatted(prof);
                        _cleanup_free_ char *opt = xasprintf("seccomp=%s", text);
                        cJSON_AddItemToArray(a, cJSON_CreateString(opt));
                }
        }
        cJSON_AddBoolToObject(hc, "ReadonlyRootfs", true);
        tmpfs = cJSON_AddObjectToObject(hc, "Tmpfs");
        {
                _cleanup_free_ char *tmp = xasprintf(TMP_OPTIONS_FMT, SANDBOX_DEFAULT_TMP_MB);
                cJSON_AddStringToObject(tmpfs, "/tmp", tmp);
        }
        cJSON_AddStringToObject(tmpfs, "/sys", SYS_OPTIONS);
        json_set(hc, "MaskedPaths", string_array((char *const *)masked_paths));
        json_set(hc, "ReadonlyPaths", string_array((char *const *)readonly_paths));
        cJSON_AddStringToObject(hc, "NetworkMode", network ? "bridge" : "none");
        if (m->memory_mb) {
                double bytes = (double)m->memory_mb * 1024.0 * 1024.0;
                cJSON_AddNumberToObject(hc, "Memory", bytes);
                cJSON_AddNumberToObject(hc, "MemorySwap", bytes);
        }
        if (m->cpus > 0)
                cJSON_AddNumberToObject(hc, "NanoCpus", (double)(long long)(m->cpus * 1e9));
        if (m->pids)
                cJSON_AddNumberToObject(hc, "PidsLimit", m->pids);
        /* What the native sandbox closes and Docker leaves open by default:
         * the host's cgroup namespace, /sys (an empty read-only tmpfs over
         * it, as the sandbox has none), a shared IPC namespace, an unbounded
         * core size, the /dev/shm size. */
        cJSON_AddStringToObject(hc, "CgroupnsMode", "private");
        cJSON_AddStringToObject(hc, "IpcMode", "private");
        cJSON_AddNumberToObject(hc, "ShmSize", SHM_BYTES);
        cJSON_AddNumberToObject(hc, "OomScoreAdj", OOM_SCORE_ADJ);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(hc, "Ulimits"), ulimit("core", 0));
        cJSON_AddItemToArray(cJSON_GetObjectItem(hc, "Ulimits"), ulimit("nofile", NOFILE));
        cJSON_AddItemToArray(cJSON_GetObjectItem(hc, "Ulimits"), ulimit("nproc", nproc_limit()));
        cJSON_AddBoolToObject(hc, "Init", true);
        cJSON_AddBoolToObject(hc, "AutoRemove", false);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(hc, "RestartPolicy"), "Name", "no");
        return c;
}

int docker_config_mounts(cJSON *config, char *const *mounts, corral_error *err)
{
        cJSON *hc = cJSON_GetObjectItem(config, "HostConfig"), *arr;
        size_t count = 0;

        while (mounts && mounts[count])
                count++;
        if (!count)
                return 0;
        if (!cJSON_IsObject(hc))
                return corral_error_set(err, EX_SOFTWARE, "container config has no HostConfig");
        arr = cJSON_AddArrayToObject(hc, "Mounts");
        for (size_t i = 0; i < count; i++) {
                _cleanup_free_ char *s = xstrdup(mounts[i]);
                char *parts[3] = {NULL, NULL, NULL};
                size_t n = 0;
                bool writable = false;
                cJSON *o, *bo;

                for (char *tok = s, *save = NULL; (tok = strtok_r(tok, ":", &save)) && n < 3;
                     tok = NULL)
                        parts[n++] = tok;
                if (n > 1 && (strcmp(parts[n - 1], "ro") == 0 || strcmp(parts[n - 1], "rw") == 0)) {
                        writable = strcmp(parts[n - 1], "rw") == 0;
                        parts[--n] = NULL;
                }
                if (n == 0 || n > 2 || parts[0][0] != '/' || strcmp(parts[0], "/") == 0 ||
                    (parts[1] && (parts[1][0] != '/' || strcmp(parts[1], "/") == 0)))
                        return corral_error_set(err, EX_DATAERR,
                                                "invalid sandbox mount '%.200s': want "
                                                "SOURCE[:TARGET][:ro|:rw] with absolute paths",
                                                mounts[i]);
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "Type", "bind");
                cJSON_AddStringToObject(o, "Source", parts[0]);
                cJSON_AddStringToObject(o, "Target", parts[1] ? parts[1] : parts[0]);
                cJSON_AddBoolToObject(o, "ReadOnly", !writable);
                /* Nothing mounted later on the host under the source shows
                 * up inside, and nothing from inside propagates out. */
                bo = cJSON_AddObjectToObject(o, "BindOptions");
                cJSON_AddStringToObject(bo, "Propagation", "rprivate");
                cJSON_AddItemToArray(arr, o);
        }
        return 0;
}

void docker_config_podman_paths(cJSON *config)
{
        cJSON *opts = cJSON_GetObjectItem(cJSON_GetObjectItem(config, "HostConfig"), "SecurityOpt");
        strbuf b = STRBUF_INIT(4096);

        if (!cJSON_IsArray(opts))
                return;
        (void)strbuf_append(&b, "mask=", 5);
        for (size_t i = 0; masked_paths[i]; i++)
                (void)strbuf_appendf(&b, "%s%s", i ? ":" : "", masked_paths[i]);
        for (size_t i = 0; podman_extra_masks[i]; i++)
                (void)strbuf_appendf(&b, ":%s", podman_extra_masks[i]);
        cJSON_AddItemToArray(opts, cJSON_CreateString(b.buf));
        strbuf_done(&b);
}

const char *docker_init_hint(const char *message)
{
        if (!message)
                return NULL;
        /* Podman 4: "container-init binary not found on the host: stat
         * /usr/libexec/podman/catatonit: …"; Docker: exec: "docker-init":
         * executable file not found. */
        if (strstr(message, "catatonit") || strstr(message, "container-init binary"))
                return "the engine (Podman) has no init binary for the container's init: install "
                       "the catatonit package";
        if (strstr(message, "docker-init"))
                return "the engine (Docker) has no init binary for the container's init: install "
                       "docker-init (Debian's docker.io ships it; elsewhere the tini package)";
        return NULL;
}
