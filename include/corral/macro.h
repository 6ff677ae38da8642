/* Small language helpers shared by every module: cleanup attributes in the
 * style of systemd and crun, ownership hand-off and array sizing. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f)
{
        if (*f)
                (void)fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a cleanup-managed variable. */
#define steal_pointer(pp)                                                                          \
        ({                                                                                         \
                __typeof__(*(pp)) _tmp = *(pp);                                                    \
                *(pp) = NULL;                                                                      \
                _tmp;                                                                              \
        })
#define steal_fd(fdp)                                                                              \
        ({                                                                                         \
                int _tmp = *(fdp);                                                                 \
                *(fdp) = -1;                                                                       \
                _tmp;                                                                              \
        })

/* Abort on allocation failure: corral treats OOM as fatal, as systemd does for
 * small allocations. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* NULL-terminated string vectors (argv-style). */
void strv_free(char **v);
size_t strv_length(char *const *v);
char **strv_copy(char *const *v);
/* Appends a copy of s; returns the (possibly moved) vector. */
char **strv_push(char **v, const char *s);
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_ _cleanup_(strv_freep)
