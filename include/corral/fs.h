/* Filesystem helpers: every fd O_CLOEXEC, EINTR handled, sizes capped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "corral/error.h"

/* mkdir -p with mode for created components. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf without following symlinks; missing path is success. 0 or -errno. */
int rm_rf(const char *path);
/* Copies a tree (regular files, dirs, symlinks as symlinks) from src into dst,
 * which must not exist. Special files are refused (-EX_DATAERR). Files keep
 * their exec bit: 0755 or 0644; dirs 0755. */
int copy_tree(const char *src, const char *dst, corral_error *err);
/* Reads a whole file of at most max bytes; *ret_data NUL-terminated, owned.
 * 0, -ENOENT, -EFBIG over the cap, or -errno. */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Writes data to path atomically (temp file in the same dir, fsync, rename).
 * 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Writes all of buf, retrying on EINTR and short writes. 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
/* Joins two path components with exactly one '/'. Owned result. */
char *path_join(const char *a, const char *b);
bool path_exists(const char *path);
bool dir_exists(const char *path);
/* Absolute, normalised form of path (realpath(3)); owned, NULL with errno set. */
char *path_absolute(const char *path);
