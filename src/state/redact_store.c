/* The secrets a store knows, for redaction (include/corral/redact.h):
 * servers/NAME/secrets.json, the OAuth token files and corral.json. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "corral/config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/redact.h"

#define REDACT_MAX_FILES 100000 /* files one pass looks at */

/* What a pass does with each file: fold its stat into a fingerprint, or
 * load its secrets. */
typedef struct pass {
        redact_set *set; /* NULL: fingerprint only */
        unsigned long long fp;
        size_t files;
} pass;

static unsigned long long fnv(unsigned long long h, const void *data, size_t n)
{
        const unsigned char *p = data;
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static void visit(pass *ps, const char *path, bool all)
{
        struct stat st;

        if (ps->files++ >= REDACT_MAX_FILES || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        if (!ps->set) {
                unsigned long long h = fnv(14695981039346656037ULL, path, strlen(path));
                h = fnv(h, &st.st_ino, sizeof(st.st_ino));
                h = fnv(h, &st.st_size, sizeof(st.st_size));
                h = fnv(h, &st.st_mtim, sizeof(st.st_mtim));
                /* A sum: the order readdir gives does not matter. */
                ps->fp += h;
                return;
        }
        {
                _cleanup_free_ char *text = NULL;
                _cleanup_json_ cJSON *j = NULL;
                size_t len = 0;
                if (read_file(path, REDACT_FILE_MAX, &text, &len) < 0)
                        return;
                j = cJSON_ParseWithLength(text, len);
                redact_set_add_json(ps->set, j, all);
        }
}

/* fn(dir/NAME) for each entry of dir but dot files. */
static void each_entry(pass *ps, const char *dir, void (*fn)(pass *, const char *))
{
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d)) && ps->files < REDACT_MAX_FILES) {
                if (e->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = path_join(dir, e->d_name);
                fn(ps, p);
        }
        closedir(d);
}

static void server_dir(pass *ps, const char *dir)
{
        _cleanup_free_ char *sec = path_join(dir, "secrets.json");
        _cleanup_free_ char *oauth = path_join(dir, "oauth.json");
        visit(ps, sec, true);
        visit(ps, oauth, false);
}

static void token_file(pass *ps, const char *path)
{
        visit(ps, path, false);
}

static void token_dir(pass *ps, const char *dir)
{
        each_entry(ps, dir, token_file);
}

static void run(pass *ps, const corral_paths *p)
{
        _cleanup_free_ char *top = xstrdup(p->servers), *oauth = NULL;
        char *slash = strrchr(top, '/');

        if (slash && slash != top)
                *slash = '\0';
        oauth = path_join(top, "oauth");
        each_entry(ps, p->servers, server_dir);
        each_entry(ps, oauth, token_dir);
        if (!p->config)
                return;
        if (!ps->set) {
                visit(ps, p->config, false);
                return;
        }
        {
                /* Expanded: a ${VAR} there is a secret from the environment. */
                _cleanup_json_ cJSON *config = NULL;
                corral_error err = {0};
                if (config_read(p->config, true, &config, &err) == 0)
                        redact_set_add_json(ps->set, config, false);
        }
}

unsigned long long redact_store_fingerprint(const corral_paths *p)
{
        pass ps = {0};
        run(&ps, p);
        return ps.fp;
}

void redact_set_load_store(redact_set *s, const corral_paths *p)
{
        pass ps = {.set = s};
        run(&ps, p);
}
