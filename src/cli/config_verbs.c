/* `corral config get|set|edit|validate`: corral.json read and changed with
 * validation (config_validate()), atomic writes under the store lock, and a
 * reload of a running daemon afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/config.h"
#include "corral/expand.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"

#define KEY_MAX 256
#define EDITOR_ARGS_MAX 16

/* The item at a dotted path ("sandbox.memory_mb"), or NULL. */
static cJSON *at_path(cJSON *j, const char *key, cJSON **ret_parent, char **ret_last)
{
        _cleanup_free_ char *copy = xstrdup(key);
        char *save = NULL, *part = strtok_r(copy, ".", &save);
        cJSON *parent = NULL;

        while (part) {
                char *next = strtok_r(NULL, ".", &save);
                parent = j;
                j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, part) : NULL;
                if (!next) {
                        if (ret_parent)
                                *ret_parent = parent;
                        if (ret_last)
                                *ret_last = xstrdup(part);
                        return j;
                }
                part = next;
        }
        return NULL;
}

static bool key_valid(const char *key)
{
        if (!key[0] || strlen(key) > KEY_MAX || key[0] == '.' || key[strlen(key) - 1] == '.' ||
            strstr(key, ".."))
                return false;
        return true;
}

/* The text checked as the daemon will read it: parsed, ${…} expanded from
 * this environment, validated.  0 or -EX_CONFIG. */
static int check_text(const char *what, const char *text, size_t len, corral_error *err)
{
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsObject(j))
                return corral_error_set(err, EX_CONFIG, "%s: not a JSON object", what);
        if (expand_json(j, what, expand_getenv, NULL, err) < 0) {
                err->code = EX_CONFIG;
                return -EX_CONFIG;
        }
        return config_validate(j, err);
}

/* Writes text as corral.json atomically under the store lock. */
static int save(store *s, const char *text, corral_error *err)
{
        int r = store_lock(s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = xstrdup(s->paths.config);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void)mkdir_p(dir, 0755);
        }
        r = write_file_atomic(s->paths.config, text, strlen(text), 0644);
        store_unlock(s);
        if (r < 0)
                return corral_error_errno(err, EX_CANTCREAT, -r, "cannot write %s",
                                          s->paths.config);
        return 0;
}

static int config_get(cli_ctx *ctx, store *s, const char *key)
{
        _cleanup_json_ cJSON *config = NULL;
        corral_error err = {0};

        if (config_read(s->paths.config, false, &config, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (!key) {
                if (!config)
                        config = cJSON_CreateObject();
                cli_print_json(config);
                return 0;
        }
        if (!key_valid(key))
                return cli_usage_error(ctx, "KEY is a dotted path like sandbox.memory_mb");
        cJSON *v = at_path(config, key, NULL, NULL);
        if (!v)
                return cli_fail(ctx, EX_NOINPUT, "%s has no key %.256s", s->paths.config, key);
        if (cJSON_IsString(v) && !ctx->json)
                printf("%s\n", v->valuestring);
        else
                cli_print_json(v);
        return 0;
}

static int config_set(cli_ctx *ctx, store *s, const char *key, const char *value, bool unset)
{
        _cleanup_json_ cJSON *config = NULL;
        _cleanup_free_ char *last = NULL, *text = NULL;
        corral_error err = {0};
        cJSON *parent = NULL;

        if (!key_valid(key))
                return cli_usage_error(ctx, "KEY is a dotted path like sandbox.memory_mb");
        if (config_read(s->paths.config, false, &config, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (!config)
                config = cJSON_CreateObject();
        if (unset) {
                if (!at_path(config, key, &parent, &last))
                        return cli_fail(ctx, EX_NOINPUT, "%s has no key %.256s",
                                        s->paths.config, key);
                cJSON_DeleteItemFromObjectCaseSensitive(parent, last);
        } else {
                /* Every missing object on the way is created. */
                _cleanup_free_ char *copy = xstrdup(key);
                char *save_p = NULL, *part = strtok_r(copy, ".", &save_p);
                cJSON *o = config;
                cJSON *v = cJSON_Parse(value);
                if (!v)
                        v = cJSON_CreateString(value);
                while (part) {
                        char *next = strtok_r(NULL, ".", &save_p);
                        if (!next) {
                                if (cJSON_GetObjectItemCaseSensitive(o, part))
                                        cJSON_ReplaceItemInObjectCaseSensitive(o, part, v);
                                else
                                        cJSON_AddItemToObject(o, part, v);
                                break;
                        }
                        cJSON *child = cJSON_GetObjectItemCaseSensitive(o, part);
                        if (!child) {
                                child = cJSON_AddObjectToObject(o, part);
                        } else if (!cJSON_IsObject(child)) {
                                cJSON_Delete(v);
                                return cli_fail(ctx, EX_CONFIG, "%.64s is not an object", part);
                        }
                        o = child;
                        part = next;
                }
        }
        text = json_print(config);
        if (check_text(s->paths.config, text, strlen(text), &err) < 0)
                return cli_fail_error(ctx, &err);
        if (save(s, text, &err) < 0)
                return cli_fail_error(ctx, &err);
        printf("%s %s in %s\n", unset ? "removed" : "set", key, s->paths.config);
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}

/* $VISUAL, $EDITOR, else vi: split at blanks, run without a shell. */
static int run_editor(const char *file, corral_error *err)
{
        const char *ed = getenv("VISUAL");
        char *argv[EDITOR_ARGS_MAX + 2];
        size_t n = 0;
        int status;

        if (!ed || !*ed)
                ed = getenv("EDITOR");
        if (!ed || !*ed)
                ed = "vi";
        _cleanup_free_ char *copy = xstrdup(ed);
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t", &save); w && n < EDITOR_ARGS_MAX;
             w = strtok_r(NULL, " \t", &save))
                argv[n++] = w;
        if (n == 0)
                return corral_error_set(err, EX_USAGE, "$EDITOR is empty");
        argv[n++] = (char *)file;
        argv[n] = NULL;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return corral_error_errno(err, EX_OSERR, errno, "cannot start %s", argv[0]);
        if (pid == 0) {
                execvp(argv[0], argv);
                fprintf(stderr, "corral: config: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return corral_error_errno(err, EX_OSERR, errno, "waiting for the editor");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return corral_error_set(err, EX_UNAVAILABLE, "the editor (%s) failed", argv[0]);
        return 0;
}

static int config_edit(cli_ctx *ctx, store *s)
{
        _cleanup_free_ char *text = NULL, *edited = NULL;
        char tmp[] = "/tmp/corral-json-XXXXXX.json";
        corral_error err = {0};
        size_t len = 0, elen = 0;
        int r = read_file(s->paths.config, CONFIG_MAX_BYTES, &text, &len);

        if (r == -ENOENT) {
                text = xstrdup("{\n}\n");
                len = strlen(text);
        } else if (r < 0) {
                return cli_fail(ctx, EX_CONFIG, "cannot read %s: %s", s->paths.config,
                                strerror(-r));
        }
        int fd = mkstemps(tmp, 5);
        if (fd < 0)
                return cli_fail(ctx, EX_CANTCREAT, "cannot create a copy to edit: %s",
                                strerror(errno));
        bool ok = write(fd, text, len) == (ssize_t)len;
        close(fd);
        if (!ok) {
                (void)unlink(tmp);
                return cli_fail(ctx, EX_CANTCREAT, "cannot write %s", tmp);
        }
        if (run_editor(tmp, &err) < 0) {
                (void)unlink(tmp);
                return cli_fail_error(ctx, &err);
        }
        r = read_file(tmp, CONFIG_MAX_BYTES, &edited, &elen);
        if (r < 0) {
                (void)unlink(tmp);
                return cli_fail(ctx, EX_CONFIG, "cannot read the edited copy: %s",
                                strerror(-r));
        }
        if (elen == len && memcmp(edited, text, len) == 0) {
                (void)unlink(tmp);
                printf("no change to %s\n", s->paths.config);
                return 0;
        }
        if (check_text(s->paths.config, edited, elen, &err) < 0) {
                /* The edit is kept for another try; nothing changed. */
                corral_error_prefix(&err, "not applied (your edit is in %s)", tmp);
                return cli_fail_error(ctx, &err);
        }
        (void)unlink(tmp);
        if (save(s, edited, &err) < 0)
                return cli_fail_error(ctx, &err);
        printf("saved %s\n", s->paths.config);
        fflush(stdout);
        cli_notify_daemon(ctx);
        return 0;
}

static int config_check(cli_ctx *ctx, store *s, const char *file)
{
        const char *path = file ? file : s->paths.config;
        _cleanup_free_ char *text = NULL;
        corral_error err = {0};
        size_t len = 0;
        int r = read_file(path, CONFIG_MAX_BYTES, &text, &len);

        if (r == -ENOENT && !file) {
                printf("%s: none (the defaults apply)\n", path);
                return 0;
        }
        if (r == -EFBIG)
                return cli_fail(ctx, EX_CONFIG, "%s: larger than %u bytes", path,
                                CONFIG_MAX_BYTES);
        if (r < 0)
                return cli_fail(ctx, r == -ENOENT ? EX_NOINPUT : EX_CONFIG, "cannot read %s: %s",
                                path, strerror(-r));
        if (check_text(path, text, len, &err) < 0)
                return cli_fail_error(ctx, &err);
        printf("%s: valid\n", path);
        return 0;
}

int cli_config(cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"unset", no_argument, NULL, 'u'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        bool unset = false;
        int c, code = 0;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        ctx->json = true;
                        break;
                case 'u':
                        unset = true;
                        break;
                case 'h':
                        return cli_usage(ctx);
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        int n = argc - optind;
        char **a = argv + optind;
        if (n < 1)
                return cli_usage_error(ctx, "missing get, set, edit or validate");
        const char *what = a[0];
        if ((strcmp(what, "get") == 0 && n > 2) || (strcmp(what, "edit") == 0 && n != 1) ||
            (strcmp(what, "validate") == 0 && n > 2) ||
            (strcmp(what, "set") == 0 && n != (unset ? 2 : 3)))
                return cli_usage_error(ctx, "wrong number of arguments");
        if (unset && strcmp(what, "set") != 0)
                return cli_usage_error(ctx, "--unset goes with set");
        _cleanup_store_ store *s = cli_open_store(ctx, &code);
        if (!s)
                return code;
        if (strcmp(what, "get") == 0)
                return config_get(ctx, s, n > 1 ? a[1] : NULL);
        if (strcmp(what, "set") == 0)
                return config_set(ctx, s, a[1], unset ? NULL : a[2], unset);
        if (strcmp(what, "edit") == 0)
                return config_edit(ctx, s);
        if (strcmp(what, "validate") == 0)
                return config_check(ctx, s, n > 1 ? a[1] : NULL);
        return cli_usage_error(ctx, "the subcommands are get, set, edit and validate");
}
