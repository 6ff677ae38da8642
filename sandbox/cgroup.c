/* cgroup limits: v2 when /sys/fs/cgroup is the unified hierarchy, else the
 * v1 memory, pids and cpu hierarchies.  Each server gets
 * <own cgroup>/corral/<name>-<launcher pid>; what earlier launchers left
 * behind (killed with SIGKILL before their cleanup) is removed on the way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

#define CG_ROOT "/sys/fs/cgroup"

static const char *const v1_ctrl[3] = {"memory", "pids", "cpu"};

static int write_str(const char *dir, const char *file, const char *val)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t n = strlen(val);

        if (fd < 0)
                return -errno;
        if (write(fd, val, n) != (ssize_t)n)
                return -errno;
        return 0;
}

static void kill_procs(const char *dir)
{
        _cleanup_free_ char *path = xasprintf("%s/cgroup.procs", dir);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        long pid;

        if (!f)
                return;
        while (fscanf(f, "%ld", &pid) == 1)
                if (pid > 0)
                        (void)kill((pid_t)pid, SIGKILL);
}

/* rmdir, retrying while the last processes are still exiting. */
static void remove_cgroup(const char *dir, int tries)
{
        for (int i = 0; i < tries; i++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                kill_procs(dir);
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        sbx_warn_errno("cannot remove cgroup %s", dir);
}

/* Leftovers of launchers that are gone: corral/<name>-<pid> whose pid no
 * longer runs. */
static void sweep_stale(const char *parent)
{
        DIR *d = opendir(parent);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                const char *dash = strrchr(e->d_name, '-');
                char *end;
                long pid;

                if (e->d_type != DT_DIR || !dash || e->d_name[0] == '.')
                        continue;
                pid = strtol(dash + 1, &end, 10);
                if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/%s", parent, e->d_name);
                kill_procs(dir);
                (void)rmdir(dir);
        }
        closedir(d);
}

static char *make_dir(const char *base, const char *own, const char *name)
{
        _cleanup_free_ char *parent = xasprintf("%s%s/corral", base, own);
        char *dir;

        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                return NULL;
        sweep_stale(parent);
        dir = xasprintf("%s/%s-%ld", parent, name, (long)getpid());
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                free(dir);
                errno = e;
                return NULL;
        }
        return dir;
}

/* Limits that could not be applied.  Root gets one warning per failure as it
 * happens (something is misconfigured); an unprivileged user without a
 * delegated cgroup gets a single line at the end (the expected case). */
typedef struct cg_missing {
        char what[32];  /* "memory, pids, cpu" */
        char why[512];  /* the first failure */
} cg_missing;

static void missing(cg_missing *m, const char *ctrl, const char *dir, int err)
{
        size_t n = strlen(m->what);

        if (geteuid() == 0) {
                errno = err;
                sbx_warn_errno("warning: no %s limit: cannot create %s", ctrl, dir);
                return;
        }
        snprintf(m->what + n, sizeof(m->what) - n, "%s%s", n ? ", " : "", ctrl);
        if (!m->why[0])
                snprintf(m->why, sizeof(m->why), "cannot create %s: %s", dir, strerror(err));
}

static void report_missing(const cg_missing *m)
{
        if (!m->what[0])
                return;
        sbx_warn("warning: cgroup limits not applied (%s): no cgroup delegated to uid %u (%s); "
                 "run as root or delegate one (systemd Delegate=yes)",
                 m->what, (unsigned)geteuid(), m->why);
}

static void setup_v2(sbx_cgroup *cg, const sbx_policy *p, cg_missing *m)
{
        _cleanup_free_ char *own = sandbox_own_cgroup(NULL), *base = NULL;
        char buf[64];
        int r;

        if (!own) {
                sbx_warn("warning: cgroup limits not applied: own cgroup unknown");
                return;
        }
        base = xstrdup(CG_ROOT);
        {
                _cleanup_free_ char *parent = xasprintf("%s%s/corral", base, own);
                _cleanup_free_ char *ownd = xasprintf("%s%s", base, own);
                (void)mkdir(parent, 0755);
                /* Best effort: controllers must be enabled on the way down. */
                (void)write_str(ownd, "cgroup.subtree_control", "+memory +pids +cpu");
                (void)write_str(parent, "cgroup.subtree_control", "+memory +pids +cpu");
        }
        cg->dirs[0] = make_dir(base, own, p->name);
        if (!cg->dirs[0]) {
                int e = errno;
                _cleanup_free_ char *dir = xasprintf("%s%s/corral/%s", base, own, p->name);
                _cleanup_free_ char *what =
                        xasprintf("%s%s%s", p->memory_mb ? "memory, " : "", p->pids ? "pids, " : "",
                                  p->cpus > 0 ? "cpu, " : "");
                if (what[0]) {
                        what[strlen(what) - 2] = '\0';
                        missing(m, what, dir, e);
                }
                return;
        }
        r = 0;
        if (p->memory_mb) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long)p->memory_mb << 20);
                r |= write_str(cg->dirs[0], "memory.max", buf);
                (void)write_str(cg->dirs[0], "memory.swap.max", "0");
        }
        if (p->pids) {
                snprintf(buf, sizeof(buf), "%u", p->pids);
                r |= write_str(cg->dirs[0], "pids.max", buf);
        }
        if (p->cpus > 0) {
                snprintf(buf, sizeof(buf), "%llu 100000",
                         (unsigned long long)(p->cpus * 100000.0 + 0.5));
                r |= write_str(cg->dirs[0], "cpu.max", buf);
        }
        if (r)
                sbx_warn("warning: some cgroup limits could not be set in %s (controllers not "
                         "enabled?)",
                         cg->dirs[0]);
}

static void setup_v1(sbx_cgroup *cg, const sbx_policy *p, cg_missing *m)
{
        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *own = sandbox_own_cgroup(v1_ctrl[i]);
                _cleanup_free_ char *base = xasprintf(CG_ROOT "/%s", v1_ctrl[i]);
                char buf[64];
                int r = 0;

                if ((i == 0 && !p->memory_mb) || (i == 1 && !p->pids) || (i == 2 && p->cpus <= 0))
                        continue;
                if (!own) {
                        sbx_warn("warning: no %s limit: controller not mounted", v1_ctrl[i]);
                        continue;
                }
                if (strcmp(own, "/") == 0)
                        own[0] = '\0';
                cg->dirs[i] = make_dir(base, own, p->name);
                if (!cg->dirs[i]) {
                        int e = errno;
                        _cleanup_free_ char *dir =
                                xasprintf("%s%s/corral/%s", base, own, p->name);
                        missing(m, v1_ctrl[i], dir, e);
                        continue;
                }
                switch (i) {
                case 0:
                        snprintf(buf, sizeof(buf), "%llu",
                                 (unsigned long long)p->memory_mb << 20);
                        r = write_str(cg->dirs[i], "memory.limit_in_bytes", buf);
                        /* No swap beyond the limit where swap accounting exists. */
                        (void)write_str(cg->dirs[i], "memory.memsw.limit_in_bytes", buf);
                        (void)write_str(cg->dirs[i], "memory.swappiness", "0");
                        break;
                case 1:
                        snprintf(buf, sizeof(buf), "%u", p->pids);
                        r = write_str(cg->dirs[i], "pids.max", buf);
                        break;
                case 2:
                        (void)write_str(cg->dirs[i], "cpu.cfs_period_us", "100000");
                        snprintf(buf, sizeof(buf), "%llu",
                                 (unsigned long long)(p->cpus * 100000.0 + 0.5));
                        r = write_str(cg->dirs[i], "cpu.cfs_quota_us", buf);
                        break;
                }
                if (r < 0) {
                        errno = -r;
                        sbx_warn_errno("warning: cannot set the %s limit in %s", v1_ctrl[i],
                                       cg->dirs[i]);
                }
        }
}

void sbx_cgroup_setup(sbx_cgroup *cg, const sbx_policy *p)
{
        struct statfs sf;
        cg_missing m;

        memset(&m, 0, sizeof(m));
        memset(cg, 0, sizeof(*cg));
        cg->memory_mb = p->memory_mb;
        cg->v2 = statfs(CG_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
        if (cg->v2)
                setup_v2(cg, p, &m);
        else
                setup_v1(cg, p, &m);
        report_missing(&m);
}

int sbx_cgroup_attach(sbx_cgroup *cg, pid_t pid)
{
        char buf[32];
        int r = 0;

        snprintf(buf, sizeof(buf), "%ld", (long)pid);
        for (int i = 0; i < 3; i++)
                if (cg->dirs[i]) {
                        int k = write_str(cg->dirs[i], "cgroup.procs", buf);
                        if (k < 0) {
                                errno = -k;
                                sbx_warn_errno("cannot join cgroup %s", cg->dirs[i]);
                                r = k;
                        }
                }
        return r;
}

/* "key N" from a flat-keyed file. */
static long read_key(const char *dir, const char *file, const char *key)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char k[64];
        long v;

        if (!f)
                return -1;
        while (fscanf(f, "%63s %ld", k, &v) == 2)
                if (strcmp(k, key) == 0)
                        return v;
        return -1;
}

unsigned long sbx_cgroup_oom_kills(const sbx_cgroup *cg)
{
        long n;

        if (!cg->dirs[0])
                return 0;
        n = cg->v2 ? read_key(cg->dirs[0], "memory.events", "oom_kill")
                   : read_key(cg->dirs[0], "memory.oom_control", "oom_kill");
        return n > 0 ? (unsigned long)n : 0;
}

void sbx_cgroup_cleanup(sbx_cgroup *cg)
{
        for (int i = 0; i < 3; i++) {
                if (!cg->dirs[i])
                        continue;
                remove_cgroup(cg->dirs[i], 200);
                free(cg->dirs[i]);
                cg->dirs[i] = NULL;
        }
}
