/* Idmapped bind mounts (Linux >= 5.12, mount_setattr(2) MOUNT_ATTR_IDMAP):
 * how a server writes into a host directory without it ever being chowned.
 * Shared by corral-sandbox (the mounts of a running server) and corral
 * (the install-time check that a directory can be idmapped at all). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/sandbox.h"

static int write_file_at(pid_t pid, const char *file, const char *text)
{
        char path[64];
        size_t n = strlen(text);
        int fd, r = 0;

        snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, text, n) != (ssize_t)n)
                r = -errno;
        close(fd);
        return r;
}

/* A user namespace mapping ns_uid/ns_gid inside to host_uid/host_gid outside
 * (one id each): a throw-away child unshares it, we write its maps and keep
 * an fd to it, the child exits.  The fd (O_CLOEXEC), or -errno. */
static int userns_fd(uid_t ns_uid, gid_t ns_gid, uid_t host_uid, gid_t host_gid)
{
        int ready[2], done[2], fd = -1, r = 0, status;
        char map[64], path[64], c = 0;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(done, O_CLOEXEC) < 0) {
                r = -errno;
                close(ready[0]);
                close(ready[1]);
                return r;
        }
        pid = fork();
        if (pid == 0) {
                close(ready[0]);
                close(done[1]);
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'e';
                (void)!write(ready[1], &c, 1);
                (void)!read(done[0], &c, 1); /* EOF: the parent has its fd */
                _exit(0);
        }
        close(ready[1]);
        close(done[0]);
        if (pid < 0) {
                r = -errno;
                close(ready[0]);
                close(done[1]);
                return r;
        }
        if (read(ready[0], &c, 1) != 1 || c != 'u')
                r = -EPERM;
        if (r == 0) {
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ns_uid, (unsigned)host_uid);
                r = write_file_at(pid, "uid_map", map);
        }
        if (r == 0)
                r = write_file_at(pid, "setgroups", "deny");
        if (r == 0) {
                snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ns_gid, (unsigned)host_gid);
                r = write_file_at(pid, "gid_map", map);
        }
        if (r == 0) {
                snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        close(ready[0]);
        close(done[1]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        return r < 0 ? r : fd;
}

int sandbox_idmap_tree(const char *source, uid_t disk_uid, gid_t disk_gid, uid_t uid, gid_t gid,
                       int *ret_fd, const char **ret_what)
{
        struct mount_attr attr;
        int tree, ns, r;

        /* The mount's idmapping translates the writer's id into the id
         * stored on disk: inside (disk) = disk owner, outside = the server. */
        ns = userns_fd(disk_uid, disk_gid, uid, gid);
        if (ns < 0) {
                *ret_what = "creating the idmapping's user namespace";
                return ns;
        }
        tree = (int)open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) {
                r = -errno;
                close(ns);
                *ret_what = "cloning the mount (open_tree)";
                return r;
        }
        memset(&attr, 0, sizeof(attr));
        attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        attr.userns_fd = (unsigned long long)ns;
        r = mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0 ? -errno : 0;
        close(ns);
        if (r < 0) {
                close(tree);
                *ret_what = r == -EINVAL ? "idmapping the mount (the filesystem or kernel "
                                           "does not support idmapped mounts)"
                                         : "idmapping the mount (mount_setattr)";
                return r;
        }
        *ret_fd = tree;
        return 0;
}
