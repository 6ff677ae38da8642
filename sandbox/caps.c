/* Capabilities: switching to the inside uid while keeping the namespace's
 * capabilities for the mount work, then dropping every set for good. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CORRAL_SANDBOX_LAUNCHER_ONLY
#include "sandbox.h"

static int capset_all(bool on)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];

        memset(d, 0, sizeof(d));
        if (on) {
                if (syscall(SYS_capget, &h, d) < 0)
                        return -errno;
                d[0].effective = d[0].permitted;
                d[1].effective = d[1].permitted;
        }
        return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int sbx_keep_caps_setid(uid_t uid, gid_t gid)
{
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return -errno;
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return -errno;
        return capset_all(true);
}

static int last_cap(void)
{
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        int n = CAP_LAST_CAP;

        if (f) {
                if (fscanf(f, "%d", &n) != 1)
                        n = CAP_LAST_CAP;
                fclose(f);
        }
        return n;
}

int sbx_drop_caps(void)
{
        int last = last_cap();

        for (int c = 0; c <= last; c++)
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        /* Inheritable, permitted and effective. */
        return capset_all(false);
}
