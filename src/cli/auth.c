/* `corral auth start|complete|status|set-token|logout`: the OAuth 2.1 client
 * of remote units (include/corral/oauth_client.h).  Tokens are the invoking
 * user's (getuid()), in oauth/UID/NAME.json (0600), and are never printed.
 * After a change the running daemon restarts the unit so that it uses the
 * new token.
 *
 * `auth start` on a terminal, or with $BROWSER set, listens for the redirect
 * on 127.0.0.1 at a port of its own (RFC 8252 §7.3), opens $BROWSER when set
 * and completes by itself; elsewhere it prints the URL for `auth complete`. */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/paths.h"

#define TOKEN_STDIN_MAX 16384
#define LISTEN_TIMEOUT_S 300u
#define LISTEN_TIMEOUT_MAX_S 3600u

static int load_remote(cli_ctx *ctx, const corral_paths *p, const char *name, manifest **ret)
{
        _cleanup_free_ char *mp = paths_manifest(p, name);
        corral_error err = {0};

        if (manifest_load(ret, mp, &err) < 0) {
                if (err.code == EX_NOINPUT)
                        return cli_fail(ctx, EX_NOINPUT, "no server named '%s'", name);
                return cli_fail_error(ctx, &err);
        }
        if (strcmp((*ret)->backend, "remote") != 0) {
                *ret = manifest_free(*ret);
                return cli_fail(ctx, EX_USAGE, "%s is not a remote server", name);
        }
        return 0;
}

/* The daemon, when one runs, restarts the unit to use the new token. */
static void restart_unit(cli_ctx *ctx, const char *name)
{
        cJSON *params = cJSON_CreateObject(), *res = NULL;
        corral_error err = {0};

        cJSON_AddStringToObject(params, "name", name);
        (void)cli_rpc(ctx, "corral/restart", params, 5000, &res, &err);
        cJSON_Delete(res);
}

static int auth_start(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        static const struct option opts[] = {
                {"client-id", required_argument, NULL, 'c'},
                {"redirect-uri", required_argument, NULL, 'r'},
                {"scope", required_argument, NULL, 's'},
                {"listen", no_argument, NULL, 'l'},
                {"no-listen", no_argument, NULL, 'L'},
                {"timeout", required_argument, NULL, 't'},
                {"client-secret-stdin", no_argument, NULL, 'S'},
                {"client-metadata-url", required_argument, NULL, 'M'},
                {},
        };
        _cleanup_free_ char *secret = NULL;
        bool secret_stdin = false;
        oauth_start_options o = {.client_metadata_url = getenv("CORRAL_OAUTH_CLIENT_METADATA_URL")};
        _cleanup_manifest_ manifest *m = NULL;
        _cleanup_free_ char *url = NULL, *redirect = NULL, *got = NULL, *state = NULL;
        const char *browser = getenv("BROWSER");
        oauth_loopback *lb = NULL;
        corral_error err = {0};
        unsigned long timeout = LISTEN_TIMEOUT_S;
        int listen = -1; /* -1: on a terminal or with $BROWSER */
        int c, r;

        optind = 0; /* a full reset: argv is the verb's, shifted */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        o.client_id = optarg;
                        break;
                case 'r':
                        o.redirect_uri = optarg;
                        break;
                case 's':
                        o.scope = optarg;
                        break;
                case 'S':
                        secret_stdin = true;
                        break;
                case 'M':
                        o.client_metadata_url = optarg;
                        break;
                case 'l':
                case 'L':
                        listen = c == 'l';
                        break;
                case 't': {
                        char *end = NULL;
                        timeout = strtoul(optarg, &end, 10);
                        if (!end || *end || timeout == 0 || timeout > LISTEN_TIMEOUT_MAX_S)
                                return cli_usage_error(ctx, "--timeout takes 1 to 3600 seconds");
                        break;
                }
                default:
                        return cli_bad_option(ctx, c, argv);
                }
        }
        if (optind + 1 != argc)
                return cli_usage_error(ctx, "auth start takes one server name");
        if (o.client_metadata_url && !*o.client_metadata_url)
                o.client_metadata_url = NULL;
        if (o.client_metadata_url && !oauth_client_metadata_url_ok(o.client_metadata_url))
                return cli_usage_error(ctx, "a client metadata URL is https:// with a path");
        if (secret_stdin && !o.client_id)
                return cli_usage_error(ctx, "--client-secret-stdin goes with --client-id");
        if ((r = load_remote(ctx, p, argv[optind], &m)) != 0)
                return r;
        if (secret_stdin) {
                if (cli_read_secret_line("client secret", &secret, &err) < 0)
                        return cli_fail_error(ctx, &err);
                o.client_secret = secret;
        }
        if (listen < 0)
                listen = !o.redirect_uri && ((browser && *browser) || isatty(STDIN_FILENO));
        if (listen && o.redirect_uri)
                return cli_usage_error(ctx, "--listen picks its own redirect URI: drop "
                                            "--redirect-uri");
        if (listen) {
                if (oauth_loopback_open(&lb, &redirect, &err) < 0)
                        return cli_fail_error(ctx, &err);
                o.redirect_uri = redirect;
        }
        if (oauth_start(p, m, getuid(), &o, &url, &err) < 0) {
                lb = oauth_loopback_free(lb);
                return cli_fail_error(ctx, &err);
        }
        printf("%s\n", url);
        (void)fflush(stdout);
        if (!lb) {
                if (isatty(STDERR_FILENO))
                        fprintf(stderr,
                                "Open the URL above, sign in, then run:\n"
                                "  corral auth complete %s 'REDIRECT_URL_OR_CODE'\n",
                                m->name);
                return 0;
        }
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "%s the URL above; waiting %lu s for the redirect to %s\n",
                        browser && *browser ? "Opening" : "Open", timeout, redirect);
        {
                const char *qm = strchr(url, '?');
                state = oauth_query_state(qm ? qm + 1 : "");
        }
        r = oauth_loopback_wait(lb, browser, url, state, (unsigned)timeout * 1000u, &got, &err);
        lb = oauth_loopback_free(lb);
        if (r < 0) {
                corral_error e2 = {0};
                corral_error_set(&e2, err.code, "%s; finish with `corral auth complete %s "
                                 "REDIRECT_URL`", err.msg, m->name);
                return cli_fail_error(ctx, &e2);
        }
        if (oauth_complete(p, m, getuid(), got, &err) < 0)
                return cli_fail_error(ctx, &err);
        fprintf(stderr, "corral: auth: %s is authorized\n", m->name);
        restart_unit(ctx, m->name);
        return 0;
}

static int auth_complete(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        int r;

        if (argc != 3)
                return cli_usage_error(ctx, "auth complete takes NAME and the code or the "
                                            "redirect URL");
        if ((r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        if (oauth_complete(p, m, getuid(), argv[2], &err) < 0)
                return cli_fail_error(ctx, &err);
        fprintf(stderr, "corral: auth: %s is authorized\n", m->name);
        restart_unit(ctx, m->name);
        return 0;
}

static cJSON *status_of(const corral_paths *p, const char *name)
{
        _cleanup_json_ cJSON *st = oauth_state_load(p, name, getuid());
        cJSON *o = cJSON_CreateObject();
        double exp = json_get_number(st, "expires_at", -1);
        const char *state = !st                                      ? "none"
                            : json_get_string(st, "access_token")    ? "authorized"
                            : json_get_object(st, "pending")         ? "pending"
                            : json_get_string(st, "error")           ? "expired"
                                                                     : "none";

        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddItemToObject(o, "issuer", json_get_string(st, "issuer")
                                                   ? cJSON_CreateString(json_get_string(st, "issuer"))
                                                   : cJSON_CreateNull());
        {
                const char *sc = json_get_string(st, "granted_scope");
                if (!sc)
                        sc = json_get_string(st, "scope");
                cJSON_AddItemToObject(o, "scope", sc ? cJSON_CreateString(sc) : cJSON_CreateNull());
        }
        if (exp >= 0)
                cJSON_AddNumberToObject(o, "expires_in", exp - (double)time(NULL));
        else
                cJSON_AddNullToObject(o, "expires_in");
        cJSON_AddBoolToObject(o, "refresh_token", json_get_string(st, "refresh_token") != NULL);
        if (json_get_string(st, "error"))
                cJSON_AddStringToObject(o, "error", json_get_string(st, "error"));
        return o;
}

static void print_status(const cJSON *o)
{
        const cJSON *ei = cJSON_GetObjectItemCaseSensitive(o, "expires_in");

        printf("%-20s %-11s", json_get_string(o, "name"), json_get_string(o, "state"));
        if (cJSON_IsNumber(ei))
                printf(" %s in %.0f s", ei->valuedouble < 0 ? "expired" : "expires",
                       ei->valuedouble < 0 ? -ei->valuedouble : ei->valuedouble);
        if (json_get_string(o, "scope"))
                printf(" scope '%s'", json_get_string(o, "scope"));
        if (json_get_bool(o, "refresh_token", false))
                printf(" (refresh token)");
        if (json_get_string(o, "error"))
                printf(" — %s", json_get_string(o, "error"));
        printf("\n");
}

static int auth_status(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        _cleanup_json_ cJSON *list = cJSON_CreateArray();
        const char *name = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        ctx->json = true;
                else if (argv[i][0] == '-' || name)
                        return cli_usage_error(ctx, "auth status takes [--json] [NAME]");
                else
                        name = argv[i];
        }
        if (name) {
                _cleanup_manifest_ manifest *m = NULL;
                if ((r = load_remote(ctx, p, name, &m)) != 0)
                        return r;
                cJSON_AddItemToArray(list, status_of(p, name));
        } else {
                int code = 0;
                _cleanup_store_ store *s = cli_open_store(ctx, &code);
                _cleanup_strv_ char **names = NULL;
                corral_error err = {0};

                if (!s)
                        return code;
                if (store_list(s, &names, &err) < 0)
                        return cli_fail_error(ctx, &err);
                for (size_t i = 0; names && names[i]; i++) {
                        _cleanup_free_ char *mp = paths_manifest(p, names[i]);
                        manifest *m = NULL;
                        if (manifest_load(&m, mp, NULL) == 0 && strcmp(m->backend, "remote") == 0)
                                cJSON_AddItemToArray(list, status_of(p, names[i]));
                        manifest_free(m);
                }
        }
        if (ctx->json) {
                cli_print_json(name ? cJSON_GetArrayItem(list, 0) : list);
                return 0;
        }
        for (const cJSON *e = list->child; e; e = e->next)
                print_status(e);
        return 0;
}

static int auth_set_token(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        _cleanup_manifest_ manifest *m = NULL;
        _cleanup_json_ cJSON *st = NULL;
        _cleanup_free_ char *tok = NULL;
        corral_error err = {0};
        size_t cap = 0;
        ssize_t n;
        int r;

        if (argc != 2)
                return cli_usage_error(ctx, "auth set-token takes NAME (the token on stdin)");
        if ((r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        n = getline(&tok, &cap, stdin);
        while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
                tok[--n] = '\0';
        if (n <= 0 || (size_t)n > TOKEN_STDIN_MAX || strpbrk(tok, "\r\n\t "))
                return cli_fail(ctx, EX_USAGE, "auth set-token: no token on stdin (one line)");
        st = oauth_state_load(p, m->name, getuid());
        if (!st)
                st = cJSON_CreateObject();
        /* A token set by hand has no refresh token and no known expiry. */
        cJSON_DeleteItemFromObjectCaseSensitive(st, "access_token");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "refresh_token");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "expires_at");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "pending");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "error");
        cJSON_AddStringToObject(st, "access_token", tok);
        cJSON_DeleteItemFromObjectCaseSensitive(st, "resource");
        cJSON_AddStringToObject(st, "resource", m->command[0]);
        if (oauth_state_save(p, m->name, getuid(), st, &err) < 0)
                return cli_fail_error(ctx, &err);
        restart_unit(ctx, m->name);
        return 0;
}

static int auth_logout(cli_ctx *ctx, const corral_paths *p, int argc, char **argv)
{
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        int r;

        if (argc != 2)
                return cli_usage_error(ctx, "auth logout takes NAME");
        if ((r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        if (oauth_state_forget(p, m->name, getuid(), &err) < 0)
                return cli_fail_error(ctx, &err);
        restart_unit(ctx, m->name);
        return 0;
}

int cli_auth(cli_ctx *ctx, int argc, char **argv)
{
        corral_paths p = {0};
        corral_error err = {0};
        int rc;

        if (argc < 2)
                return cli_usage_error(ctx, "auth needs start, complete, status, set-token or "
                                            "logout");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                return cli_usage(ctx);
        if (paths_init(&p, ctx->root, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (strcmp(argv[1], "start") == 0)
                rc = auth_start(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "complete") == 0)
                rc = auth_complete(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "status") == 0)
                rc = auth_status(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "set-token") == 0)
                rc = auth_set_token(ctx, &p, argc - 1, argv + 1);
        else if (strcmp(argv[1], "logout") == 0)
                rc = auth_logout(ctx, &p, argc - 1, argv + 1);
        else
                rc = cli_usage_error(ctx, "auth needs start, complete, status, set-token or "
                                          "logout");
        paths_done(&p);
        return rc;
}
