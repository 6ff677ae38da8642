/* Internal to the native runtime backend (src/runtime/native*.c): what the
 * process side (native.c: fork, exec, pipes, reaping) needs from the sandbox
 * side (native_sandbox.c: environment, command resolution, the
 * corral-sandbox policy of include/corral/sandbox.h). */
#pragma once

#include <stdbool.h>

#include "corral/error.h"
#include "corral/manifest.h"

#define NATIVE_CLEAN_PATH "/usr/local/bin:/usr/bin:/bin"

/* The server's environment: a fixed base (PATH, HOME=home, TMPDIR, LANG)
 * plus the manifest's entries, which override the base by key.  *ret is a
 * NULL-terminated "K=V" vector owned by the caller.  0 or -EX_DATAERR. */
int native_build_env(const manifest *m, const char *server_dir, const char *home, char ***ret,
                     corral_error *err);
/* argv[0] resolved on env's PATH (relative names with a slash against cwd).
 * *ret owned by the caller.  0 or -EX_NOINPUT. */
int native_resolve_command(const char *cmd, const char *cwd, char *const *env, char **ret,
                           corral_error *err);
/* A relative path without ".." components. */
bool native_cwd_is_inside(const char *cwd);
/* The launcher's own environment: PATH plus the sanitizer options. */
char **native_launcher_env(void);

/* The kernel's OOM-kill counter of the memory cgroup corral-sandbox makes
 * for server name run by launcher pid (sandbox/cgroup.c: <the daemon's own
 * cgroup>/corral/<name>-<pid>; v2 memory.events, v1 memory/…/
 * memory.oom_control, key oom_kill): the file's path (owned), or NULL when
 * the daemon's cgroup cannot be told.  native_oom_read() reads it: the
 * count, or -1 when the file is not there (not yet made, or removed). */
char *native_oom_file(const char *name, int pid);
long native_oom_read(const char *file);
