/* A git source whose tree (or #SUBDIR) has a Dockerfile and no package.json:
 * the tree is sent as a tar build context to the engine (POST /build,
 * src/docker/build.c) with RUN steps off the network, the image is labelled
 * with the server's name and tagged corral-build/NAME:COMMIT, and the server
 * runs under the docker backend pinned by the image id (sha256:…) that the
 * build gave.  The image's Entrypoint + Cmd is the command, unless -- CMD
 * was given.  The build runs in the engine's own build containers: what
 * confines it is the engine's, not corral-sandbox (README, "Git sources"). */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "corral/build.h"
#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/logfile.h"
#include "git_internal.h"

#define CONTEXT_DEFAULT_MAX (512ull << 20)
#define CONTEXT_MAX_ENTRIES 100000u

typedef struct ctx_writer {
        struct archive *a;
        size_t root_len;
        uint64_t bytes, max_bytes;
        unsigned entries;
        int error; /* a sysexits code once something failed */
        char *why;
} ctx_writer;

static ctx_writer *cw; /* nftw() has no user pointer */

static int fail(int code, char *why)
{
        if (!cw->error) {
                cw->error = code;
                cw->why = why;
        } else {
                free(why);
        }
        return 1; /* stops the walk */
}

static int add_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        const char *rel = path + cw->root_len;
        (void)f;

        if (*rel == '/')
                rel++;
        if (!*rel)
                return 0;
        if (strcmp(rel, ".git") == 0 || strncmp(rel, ".git/", 5) == 0)
                return 0;
        if (++cw->entries > CONTEXT_MAX_ENTRIES)
                return fail(EX_DATAERR, xasprintf("the build context has more than %u entries",
                                                  CONTEXT_MAX_ENTRIES));
        if (S_ISREG(st->st_mode) && (cw->bytes += (uint64_t)st->st_size) > cw->max_bytes)
                return fail(EX_DATAERR,
                            xasprintf("the build context is over %llu bytes "
                                      "(CORRAL_DOCKER_CONTEXT_MAX)",
                                      (unsigned long long)cw->max_bytes));
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode))
                return 0; /* the checkout has nothing else; skip rather than fail */
        struct archive_entry *e = archive_entry_new();
        char target[PATH_MAX];
        archive_entry_set_pathname(e, rel);
        archive_entry_copy_stat(e, st);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        if (S_ISLNK(st->st_mode)) {
                ssize_t n = readlink(path, target, sizeof(target) - 1);
                if (n < 0) {
                        archive_entry_free(e);
                        return fail(EX_IOERR, xasprintf("cannot read the link %s", rel));
                }
                target[n] = '\0';
                archive_entry_set_symlink(e, target);
                archive_entry_set_size(e, 0);
        }
        int r = archive_write_header(cw->a, e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK)
                return fail(EX_CANTCREAT, xasprintf("cannot write the build context: %s",
                                                    archive_error_string(cw->a)));
        if (S_ISREG(st->st_mode) && flag == FTW_F) {
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                char buf[65536];
                ssize_t n;
                if (fd < 0)
                        return fail(EX_IOERR, xasprintf("cannot read %s", rel));
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        if (archive_write_data(cw->a, buf, (size_t)n) != n)
                                return fail(EX_CANTCREAT,
                                            xasprintf("cannot write the build context: %s",
                                                      archive_error_string(cw->a)));
                if (n < 0)
                        return fail(EX_IOERR, xasprintf("cannot read %s", rel));
        }
        return 0;
}

/* dir as an uncompressed tar (pax) in the open file fd. */
static int write_context(const char *dir, int fd, corral_error *err)
{
        ctx_writer w = {.a = archive_write_new(),
                        .root_len = strlen(dir),
                        .max_bytes = git_env_limit("CORRAL_DOCKER_CONTEXT_MAX",
                                                   CONTEXT_DEFAULT_MAX)};
        int r = 0;

        cw = &w;
        if (!w.a || archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
            archive_write_open_fd(w.a, fd) != ARCHIVE_OK)
                r = corral_error_set(err, EX_OSERR, "cannot start the build context");
        else if (nftw(dir, add_entry, 32, FTW_PHYS) < 0)
                r = corral_error_errno(err, EX_IOERR, errno, "cannot walk %s", dir);
        if (w.a && archive_write_close(w.a) != ARCHIVE_OK && r >= 0 && !w.error)
                r = corral_error_set(err, EX_CANTCREAT, "cannot write the build context: %s",
                                     archive_error_string(w.a));
        if (w.a)
                archive_write_free(w.a);
        if (w.error && r >= 0)
                r = corral_error_set(err, w.error, "%s", w.why);
        free(w.why);
        cw = NULL;
        return r;
}

typedef struct output_ctx {
        logfile *log;
        bool progress;
} output_ctx;

static void on_output(void *ud, const char *text)
{
        output_ctx *o = ud;
        if (o->progress)
                fputs(text, stderr);
        logfile_write(o->log, text, strlen(text));
}

int git_dockerfile_build(store *s, const install_options *opt, const char *dir,
                         const char *pkg_dir, manifest *m, corral_error *err)
{
        _cleanup_free_ char *ctx_path = xasprintf("%s.context.tar", pkg_dir);
        _cleanup_close_ int fd = open(ctx_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        _cleanup_free_ char *id = NULL, *tag = NULL, *log_path = NULL;
        _cleanup_json_ cJSON *labels = NULL, *info = NULL;
        _cleanup_strv_ char **cmd = NULL;
        docker *d = NULL;
        output_ctx out = {.progress = opt->progress == INSTALL_PROGRESS_TTY};
        struct stat st;
        int r;

        if (fd < 0)
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot create %s", ctx_path);
        (void)unlink(ctx_path); /* the open fd is all that is needed */
        if ((r = write_context(dir, fd, err)) < 0)
                return r;
        if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return corral_error_errno(err, EX_IOERR, errno, "cannot read the build context");
        if ((r = docker_open(&d, err)) < 0)
                return r;
        tag = xasprintf("corral-build/%s:%.12s", m->name,
                        m->resolved_commit ? m->resolved_commit : "latest");
        labels = cJSON_CreateObject();
        cJSON_AddStringToObject(labels, DOCKER_LABEL_SERVER, m->name);
        if (m->resolved_url)
                cJSON_AddStringToObject(labels, "io.corral.source", m->resolved_url);
        if (m->resolved_commit)
                cJSON_AddStringToObject(labels, "io.corral.commit", m->resolved_commit);
        log_path = paths_log_file(&s->paths, m->name);
        out.log = logfile_open(log_path, 0, 0);
        logfile_note(out.log, "image build: POST /build of %s (%llu bytes of context)", tag,
                     (unsigned long long)st.st_size);
        unsigned timeout_s = (unsigned)git_env_limit("CORRAL_BUILD_TIMEOUT", BUILD_DEFAULT_TIMEOUT);
        r = docker_image_build(d, fd, (uint64_t)st.st_size, tag, labels, timeout_s * 1000u,
                               on_output, &out, &id, err);
        if (r >= 0)
                r = docker_image_inspect(d, id, &info, err);
        if (r >= 0)
                logfile_note(out.log, "image build: %s", id);
        else
                logfile_note(out.log, "image build failed: %s", err->msg);
        out.log = logfile_close(out.log);
        docker_free(d);
        if (r < 0)
                return r;

        cmd = resolver_docker_image_command(info);
        if (!opt->command && (!cmd[0] || !cmd[0][0]))
                return corral_error_set(err, EX_DATAERR,
                                        "the Dockerfile's image has no ENTRYPOINT or CMD: give "
                                        "the server command after --");
        strv_free(m->command);
        m->command = strv_copy(opt->command ? opt->command : cmd);
        free(m->backend);
        m->backend = xstrdup("docker");
        free(m->resolved_digest);
        m->resolved_digest = steal_pointer(&id);
        free(m->cwd);
        m->cwd = xstrdup("pkg"); /* as for docker: images; the image has its WorkingDir */
        _cleanup_free_ char *marker = path_join(pkg_dir, "IMAGE");
        _cleanup_free_ char *text = xasprintf("%s\n", m->resolved_digest);
        if ((r = write_file_atomic(marker, text, strlen(text), 0644)) < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s", marker);
        return 1;
}
