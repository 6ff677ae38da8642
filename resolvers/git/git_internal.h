/* Shared between the files of resolvers/git/ only. */
#pragma once

#include <stdint.h>

#include "corral/error.h"

/* An unsigned cap from the environment ("1048576", "64M", "1G"), def when
 * unset, malformed or 0. */
uint64_t git_env_limit(const char *name, uint64_t def);
/* git_libgit2_init() with the user's and system's git config switched off;
 * every call is paired with git_lib_close(). */
void git_lib_open(void);
void git_lib_close(void);
/* libgit2's last error message (borrowed). */
const char *git_lib_message(void);
/* url without any user:password@ part, for messages (owned). */
char *git_url_display(const char *url);
/* CACHE/git/<first 128 bits of sha256(url) in hex>.git (owned). */
char *git_mirror_path(const char *cache_dir, const char *url);
/* Takes the mirror's flock (MIRROR.lock); returns the fd or a negative code. */
int git_mirror_lock(const char *mirror, corral_error *err);
