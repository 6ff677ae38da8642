/* Local directories: `corral install ./dir [-- CMD ARGS]`.  The tree is
 * checked against size caps, the command found from package.json when none is
 * given, and the tree copied into the staging dir's pkg/. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/resolver.h"
#include "corral/strbuf.h"

#define TREE_MAX_BYTES (1ull << 30) /* 1 GiB */
#define TREE_MAX_ENTRIES 200000
#define TREE_MAX_DEPTH 256
#define PACKAGE_JSON_MAX (1u << 20)
#define MAX_DEPS 10000
#define MAX_VERSION 256

typedef struct tree_count {
        unsigned long long bytes;
        unsigned long entries;
} tree_count;

/* Walks the tree without following symlinks, enforcing the caps before
 * anything is copied and naming the first special file. */
static int tree_check(int dfd, const char *where, unsigned depth, tree_count *c, corral_error *err)
{
        if (depth > TREE_MAX_DEPTH)
                return corral_error_set(err, EX_DATAERR, "%s: directories nested deeper than %d",
                                        where, TREE_MAX_DEPTH);
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return corral_error_errno(err, EX_NOINPUT, e, "cannot read %s", where);
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (++c->entries > TREE_MAX_ENTRIES) {
                        r = corral_error_set(err, EX_DATAERR,
                                             "refusing to install: more than %d files",
                                             TREE_MAX_ENTRIES);
                        break;
                }
                _cleanup_free_ char *sub = path_join(where, de->d_name);
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = corral_error_errno(err, EX_NOINPUT, errno, "cannot stat %s", sub);
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sfd = openat(
                                dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sfd < 0)
                                r = corral_error_errno(err, EX_NOINPUT, errno, "cannot open %s",
                                                       sub);
                        else
                                r = tree_check(sfd, sub, depth + 1, c, err);
                } else if (S_ISREG(st.st_mode)) {
                        c->bytes += (unsigned long long)st.st_size;
                        if (c->bytes > TREE_MAX_BYTES)
                                r = corral_error_set(err, EX_DATAERR,
                                                     "refusing to install: more than 1 GiB of "
                                                     "files");
                } else if (!S_ISLNK(st.st_mode)) {
                        r = corral_error_set(err, EX_DATAERR,
                                             "%s is a device, fifo or socket; refusing to copy it",
                                             sub);
                }
        }
        closedir(d);
        return r;
}

/* Reads DIR/REL as JSON.  0 with *ret NULL when the file does not exist. */
static int read_json(int dfd, const char *dir, const char *rel, cJSON **ret, corral_error *err)
{
        *ret = NULL;
        _cleanup_close_ int fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return corral_error_errno(err, EX_NOINPUT, errno, "cannot read %s/%s", dir, rel);
        }
        strbuf b = STRBUF_INIT(PACKAGE_JSON_MAX);
        char buf[16384];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        strbuf_done(&b);
                        return corral_error_errno(err, EX_NOINPUT, e, "cannot read %s/%s", dir,
                                                  rel);
                }
                if (n == 0)
                        break;
                if (strbuf_append(&b, buf, (size_t)n) < 0) {
                        strbuf_done(&b);
                        return corral_error_set(err, EX_DATAERR, "%s/%s is larger than 1 MiB", dir,
                                                rel);
                }
        }
        cJSON *j = cJSON_ParseWithLength(b.buf ? b.buf : "", b.len);
        strbuf_done(&b);
        if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return corral_error_set(err, EX_DATAERR, "%s/%s: not a valid JSON object", dir,
                                        rel);
        }
        *ret = j;
        return 0;
}

static int need_command(corral_error *err, const char *src, const char *why)
{
        return corral_error_set(err, EX_USAGE,
                                "cannot tell how to run %s: %s; pass the command after --, as in "
                                "`corral install %s -- CMD ARGS`",
                                src, why, src);
}

static void set_version(manifest *m, const cJSON *pkg)
{
        const char *v = json_get_string(pkg, "version");
        if (v && v[0] && strlen(v) <= MAX_VERSION) {
                free(m->resolved_version);
                m->resolved_version = xstrdup(v);
        }
}

/* Checks that rel (relative to the package root) names a regular file there
 * and returns `node rel` as the command. */
static int node_command(int dfd, const char *src, const char *rel, manifest *m, corral_error *err)
{
        struct stat st;
        if (fstatat(dfd, rel, &st, 0) < 0 || !S_ISREG(st.st_mode))
                return corral_error_set(err, EX_DATAERR,
                                        "%s: bin '%s' is not a file in the package", src, rel);
        char *argv[] = {"node", (char *)rel, NULL};
        strv_free(m->command);
        m->command = strv_copy(argv);
        return 0;
}

/* The bin of the single dependency that has one: a directory where
 * `npm install PKG` was run holds only a package.json with PKG as dependency. */
static int command_from_dependencies(int dfd, const char *src, const cJSON *pkg, manifest *m,
                                     corral_error *err)
{
        const cJSON *deps = json_get_object(pkg, "dependencies");
        if (!deps || !deps->child)
                return need_command(err, src, "package.json has no \"bin\" and no dependencies");
        if (cJSON_GetArraySize(deps) > MAX_DEPS)
                return corral_error_set(err, EX_DATAERR,
                                        "%s/package.json: more than %d dependencies", src,
                                        MAX_DEPS);

        _cleanup_free_ char *found_rel = NULL;
        _cleanup_free_ char *found_dep = NULL;
        _cleanup_json_ cJSON *found_pkg = NULL;
        strbuf names = STRBUF_INIT(512);
        unsigned n_found = 0, n_installed = 0;
        int r = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, deps)
        {
                /* A valid npm name cannot contain ".." or start with '/', so the
                 * path below stays inside node_modules/. */
                if (!d->string || !spec_npm_name_valid(d->string))
                        continue;
                _cleanup_free_ char *rel = xasprintf("node_modules/%s/package.json", d->string);
                _cleanup_json_ cJSON *dep = NULL;
                r = read_json(dfd, src, rel, &dep, err);
                if (r < 0)
                        break;
                if (!dep)
                        continue;
                n_installed++;
                _cleanup_free_ char *bin = NULL;
                resolver_bin br = resolver_pick_bin(dep, NULL, &bin);
                if (br == RESOLVER_BIN_NONE)
                        continue;
                if (br == RESOLVER_BIN_AMBIGUOUS) {
                        _cleanup_free_ char *why = xasprintf("dependency %s has several bin "
                                                             "entries (%s)",
                                                             d->string, bin);
                        r = need_command(err, src, why);
                        break;
                }
                n_found++;
                (void)strbuf_appendf(&names, "%s%s", names.len ? ", " : "", d->string);
                _cleanup_free_ char *norm = resolver_bin_path(bin);
                if (!norm) {
                        r = corral_error_set(err, EX_DATAERR,
                                             "%s/%s: bin '%s' points outside the package", src, rel,
                                             bin);
                        break;
                }
                free(found_rel);
                found_rel = xasprintf("node_modules/%s/%s", d->string, norm);
                free(found_dep);
                found_dep = xstrdup(d->string);
                cJSON_Delete(found_pkg);
                found_pkg = steal_pointer(&dep);
        }
        if (r >= 0 && n_found > 1) {
                _cleanup_free_ char *why =
                        xasprintf("several dependencies have a bin (%s)", names.buf);
                r = need_command(err, src, why);
        }
        strbuf_done(&names);
        if (r < 0)
                return r;
        if (n_found == 0)
                return need_command(err, src,
                                    n_installed == 0
                                            ? "package.json has no \"bin\" and its dependencies "
                                              "are not installed (run npm install there)"
                                            : "neither package.json nor its dependencies have "
                                              "a \"bin\"");
        r = node_command(dfd, src, found_rel, m, err);
        if (r < 0)
                return r;
        set_version(m, found_pkg);
        return 0;
}

static int find_command(int dfd, const char *src, manifest *m, corral_error *err)
{
        _cleanup_json_ cJSON *pkg = NULL;
        int r = read_json(dfd, src, "package.json", &pkg, err);
        if (r < 0)
                return r;
        if (!pkg)
                return need_command(err, src, "it has no package.json");

        _cleanup_free_ char *bin = NULL;
        switch (resolver_pick_bin(pkg, NULL, &bin)) {
        case RESOLVER_BIN_ONE: {
                _cleanup_free_ char *norm = resolver_bin_path(bin);
                if (!norm)
                        return corral_error_set(err, EX_DATAERR,
                                                "%s/package.json: bin '%s' points outside the "
                                                "package",
                                                src, bin);
                r = node_command(dfd, src, norm, m, err);
                if (r < 0)
                        return r;
                set_version(m, pkg);
                return 0;
        }
        case RESOLVER_BIN_AMBIGUOUS: {
                _cleanup_free_ char *why =
                        xasprintf("package.json has several bin entries (%s)", bin);
                return need_command(err, src, why);
        }
        case RESOLVER_BIN_NONE:
        default:
                return command_from_dependencies(dfd, src, pkg, m, err);
        }
}

int resolver_local_fetch(const source_spec *spec, char *const *command, const char *pkg_dir,
                         manifest *m, corral_error *err)
{
        const char *src = spec->name;
        _cleanup_close_ int dfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                if (errno == ENOENT)
                        return corral_error_set(err, EX_NOINPUT, "no such directory '%s'", src);
                if (errno == ENOTDIR)
                        return corral_error_set(err, EX_NOINPUT, "'%s' is not a directory", src);
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_NOINPUT, errno,
                                          "cannot open %s", src);
        }

        tree_count c = {0};
        int r = tree_check(dfd, src, 0, &c, err);
        if (r < 0)
                return r;

        if (command && command[0]) {
                strv_free(m->command);
                m->command = strv_copy(command);
                /* A package.json still tells the version, when there is one. */
                _cleanup_json_ cJSON *pkg = NULL;
                corral_error ignored = {0};
                if (read_json(dfd, src, "package.json", &pkg, &ignored) >= 0 && pkg)
                        set_version(m, pkg);
        } else {
                r = find_command(dfd, src, m, err);
                if (r < 0)
                        return r;
        }
        return copy_tree(src, pkg_dir, err);
}
