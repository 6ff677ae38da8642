/* sd_notify datagrams (path and abstract sockets) and socket activation
 * (LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES), against real sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "corral/sd.h"

/* A datagram socket bound to name (abstract when it starts with '@'). */
static int dgram_bound(const char *name)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t len = strlen(name);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        memcpy(sa.sun_path, name, len);
        if (name[0] == '@')
                sa.sun_path[0] = '\0';
        assert_int_equal(bind(fd, (struct sockaddr *)&sa,
                              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
                         0);
        return fd;
}

static void expect_datagram(int fd, const char *want_prefix)
{
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        assert_true(n > 0);
        buf[n] = '\0';
        assert_memory_equal(buf, want_prefix, strlen(want_prefix));
}

static void test_notify_path_socket(void **state)
{
        char path[64];
        int fd;

        snprintf(path, sizeof(path), "/tmp/corral-test-sd-%d.sock", (int)getpid());
        (void)unlink(path);
        fd = dgram_bound(path);
        setenv("NOTIFY_SOCKET", path, 1);
        assert_int_equal(sd_notify_send("READY=1"), 1);
        expect_datagram(fd, "READY=1");
        assert_int_equal(sd_notify_reloading(), 1);
        expect_datagram(fd, "RELOADING=1\nMONOTONIC_USEC=");
        assert_int_equal(sd_notify_send("STOPPING=1"), 1);
        expect_datagram(fd, "STOPPING=1");
        close(fd);
        unlink(path);
        unsetenv("NOTIFY_SOCKET");
}

static void test_notify_abstract_socket(void **state)
{
        char name[64];
        int fd;

        snprintf(name, sizeof(name), "@corral-test-sd-%d", (int)getpid());
        fd = dgram_bound(name);
        setenv("NOTIFY_SOCKET", name, 1);
        assert_int_equal(sd_notify_send("READY=1\nSTATUS=ok"), 1);
        expect_datagram(fd, "READY=1\nSTATUS=ok");
        close(fd);
        unsetenv("NOTIFY_SOCKET");
}

static void test_notify_unset_or_bad(void **state)
{
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sd_notify_send("READY=1"), 0);
        setenv("NOTIFY_SOCKET", "", 1);
        assert_int_equal(sd_notify_send("READY=1"), 0);
        setenv("NOTIFY_SOCKET", "relative/path", 1);
        assert_int_equal(sd_notify_send("READY=1"), -EINVAL);
        setenv("NOTIFY_SOCKET", "/tmp/corral-test-sd-nobody-listens", 1);
        assert_true(sd_notify_send("READY=1") < 0);
        unsetenv("NOTIFY_SOCKET");
}

/* A listening unix socket at path, moved to fd `at`. */
static void listener_at(const char *path, int at)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        assert_true(fd >= 0);
        (void)unlink(path);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        if (fd != at) { /* socket() may have returned `at` itself */
                assert_int_equal(dup2(fd, at), at);
                close(fd);
        }
}

static void set_listen_env(long pid, const char *fds, const char *names)
{
        char spid[32];

        snprintf(spid, sizeof(spid), "%ld", pid);
        setenv("LISTEN_PID", spid, 1);
        setenv("LISTEN_FDS", fds, 1);
        if (names)
                setenv("LISTEN_FDNAMES", names, 1);
        else
                unsetenv("LISTEN_FDNAMES");
}

static void test_listen_take_and_find(void **state)
{
        char ctl[64], mcp[64];
        sd_listen l;

        snprintf(ctl, sizeof(ctl), "/tmp/corral-test-sd-ctl-%d", (int)getpid());
        snprintf(mcp, sizeof(mcp), "/tmp/corral-test-sd-mcp-%d", (int)getpid());
        listener_at(ctl, 3);
        listener_at(mcp, 4);
        set_listen_env(getpid(), "2", "corral.socket:corral.socket");
        assert_int_equal(sd_listen_take(&l), 2);
        /* Unset, so that children do not take them for theirs. */
        assert_null(getenv("LISTEN_PID"));
        assert_null(getenv("LISTEN_FDS"));
        assert_null(getenv("LISTEN_FDNAMES"));
        assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(4, F_GETFD) & FD_CLOEXEC);
        assert_string_equal(l.paths[0], ctl);
        assert_string_equal(l.paths[1], mcp);
        assert_string_equal(l.names[1], "corral.socket");
        /* By path, whatever the order systemd passed them in. */
        assert_int_equal(sd_listen_find(&l, mcp, NULL), 4);
        assert_int_equal(sd_listen_find(&l, mcp, NULL), -1); /* taken */
        assert_int_equal(sd_listen_find(&l, "/elsewhere", NULL), -1);
        /* By name when no path matches. */
        assert_int_equal(sd_listen_find(&l, "/elsewhere", "corral.socket"), 3);
        sd_listen_done(&l);
        /* Taken fds are the caller's: still open. */
        assert_true(fcntl(3, F_GETFD) >= 0);
        assert_true(fcntl(4, F_GETFD) >= 0);
        close(3);
        close(4);
        unlink(ctl);
        unlink(mcp);
}

static void test_listen_untaken_are_closed(void **state)
{
        char path[64];
        sd_listen l;

        snprintf(path, sizeof(path), "/tmp/corral-test-sd-one-%d", (int)getpid());
        listener_at(path, 3);
        set_listen_env(getpid(), "1", NULL);
        assert_int_equal(sd_listen_take(&l), 1);
        assert_null(l.names[0]);
        sd_listen_done(&l);
        assert_int_equal(fcntl(3, F_GETFD), -1);
        unlink(path);
}

static void test_listen_not_for_us_or_malformed(void **state)
{
        sd_listen l;

        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        assert_int_equal(sd_listen_take(&l), 0);
        /* Another process's fds: left alone, environment kept. */
        set_listen_env(getpid() + 1, "2", NULL);
        assert_int_equal(sd_listen_take(&l), 0);
        assert_non_null(getenv("LISTEN_FDS"));
        set_listen_env(getpid(), "two", NULL);
        assert_int_equal(sd_listen_take(&l), -EINVAL);
        set_listen_env(getpid(), "65", NULL);
        assert_int_equal(sd_listen_take(&l), -EINVAL);
        /* fd 3 is not open. */
        (void)close(3);
        set_listen_env(getpid(), "1", NULL);
        assert_int_equal(sd_listen_take(&l), -EINVAL);
        assert_null(getenv("LISTEN_FDS"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notify_path_socket),
                cmocka_unit_test(test_notify_abstract_socket),
                cmocka_unit_test(test_notify_unset_or_bad),
                cmocka_unit_test(test_listen_take_and_find),
                cmocka_unit_test(test_listen_untaken_are_closed),
                cmocka_unit_test(test_listen_not_for_us_or_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
