/* `corral auth start|complete|status|set-token|logout`: the OAuth 2.1 client
 * of remote units (include/corral/oauth_client.h).  Tokens are the acting
 * user's (--as-user's, else getuid()'s), in the state database, and are
 * never printed.  After a change to the tokens a unit runs with, the
 * running daemon restarts it.
 *
 * A user who cannot write the store (a system store) goes through its
 * daemon: corral/exec runs `corral --as-user USER auth …` for them, which
 * writes their row; a secret or token goes on the child's stdin, and the
 * loopback listener and $BROWSER of `auth start` stay the user's own (the
 * daemon's child is told the redirect URI, then `auth complete` is sent).
 *
 * `auth start` on a terminal, or with $BROWSER set, listens for the redirect
 * on 127.0.0.1 at a port of its own (RFC 8252 §7.3), opens $BROWSER when set
 * and completes by itself; elsewhere it prints the URL for `auth complete`. */
#include <getopt.h>
#include <pwd.h>
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
#include "corral/users.h"

#define TOKEN_STDIN_MAX 16384

/* This run goes through the store's daemon (a store the user cannot write). */
static bool via_daemon;
#define LISTEN_TIMEOUT_S 300u
#define LISTEN_TIMEOUT_MAX_S 3600u

/* The local user whose tokens this run reads and writes: --as-user's (the
 * daemon acting for a caller), else the invoking user. */
static int acting_uid(cli_ctx *ctx, uid_t *ret)
{
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (!ctx->as_user) {
                *ret = getuid();
                return 0;
        }
        if (getpwnam_r(ctx->as_user, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return cli_fail(ctx, EX_NOUSER,
                                "'%s' is not a local user: OAuth tokens are kept per local user",
                                ctx->as_user);
        *ret = res->pw_uid;
        return 0;
}

static int load_remote(cli_ctx *ctx, const corral_paths *p, const char *name, manifest **ret)
{
        _cleanup_free_ char *mp = server_name_valid(name) ? paths_manifest(p, name) : NULL;
        const char *who = cli_acting_user(ctx, p);
        corral_error err = {0};

        if (!mp || manifest_load(ret, mp, &err) < 0) {
                if (!mp || err.code == EX_NOINPUT)
                        return cli_fail(ctx, EX_NOINPUT, "no server named '%s'", name);
                return cli_fail_error(ctx, &err);
        }
        /* Another user's server does not exist for this one. */
        if (who && !users_owner_matches((*ret)->owner, who)) {
                *ret = manifest_free(*ret);
                return cli_fail(ctx, EX_NOINPUT, "no server named '%s'", name);
        }
        if (strcmp((*ret)->backend, "remote") != 0) {
                *ret = manifest_free(*ret);
                return cli_fail(ctx, EX_USAGE, "%s is not a remote server", name);
        }
        return 0;
}

/* The daemon, when one runs, restarts the unit to use the new token — when
 * it is the one the unit runs with (its owner's, or the daemon's own for a
 * global server): another user's token is not the unit's business. */
static void restart_unit(cli_ctx *ctx, const manifest *m, uid_t uid)
{
        cJSON *params, *res = NULL;
        corral_error err = {0};

        if (uid != remote_token_uid(m))
                return;
        params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "name", m->name);
        (void)cli_rpc(ctx, "corral/restart", params, 5000, &res, &err);
        cJSON_Delete(res);
}

/* `auth start` by the store's daemon for this user: it discovers,
 * registers and keeps the pending request (with the secret, given on its
 * stdin); the URL comes back in *ret_url (owned).  0, or the exit code
 * (its error already printed). */
static int start_via_daemon(cli_ctx *ctx, const char *name, const oauth_start_options *o,
                            char **ret_url)
{
        char *av[16];
        int n = 0, r;
        _cleanup_free_ char *out = NULL, *input = NULL;

        av[n++] = "auth";
        av[n++] = "start";
        av[n++] = (char *)name;
        av[n++] = "--no-listen"; /* the listener, if any, is ours */
        if (o->client_id) {
                av[n++] = "--client-id";
                av[n++] = (char *)o->client_id;
        }
        if (o->client_secret) {
                av[n++] = "--client-secret-stdin";
                input = xasprintf("%s\n", o->client_secret);
        }
        if (o->client_metadata_url) {
                av[n++] = "--client-metadata-url";
                av[n++] = (char *)o->client_metadata_url;
        }
        if (o->redirect_uri) {
                av[n++] = "--redirect-uri";
                av[n++] = (char *)o->redirect_uri;
        }
        if (o->scope) {
                av[n++] = "--scope";
                av[n++] = (char *)o->scope;
        }
        av[n] = NULL;
        r = cli_forward_with(ctx, n, av, input, &out);
        if (input)
                explicit_bzero(input, strlen(input));
        if (r != 0)
                return r;
        if (!out || strncmp(out, "http", 4) != 0)
                return cli_fail(ctx, EX_PROTOCOL, "the daemon sent no authorization URL");
        out[strcspn(out, "\r\n")] = '\0';
        *ret_url = out;
        out = NULL;
        return 0;
}

static int auth_start(cli_ctx *ctx, const corral_paths *p, uid_t uid, int argc, char **argv)
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
        const char *browser = getenv("BROWSER"), *name;
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
        name = argv[optind];
        if (!via_daemon && (r = load_remote(ctx, p, name, &m)) != 0)
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
        if (via_daemon) {
                r = start_via_daemon(ctx, name, &o, &url);
                if (r != 0) {
                        lb = oauth_loopback_free(lb);
                        return r;
                }
        } else if (oauth_start(p, m, uid, &o, &url, &err) < 0) {
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
                                name);
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
                                 "REDIRECT_URL`", err.msg, name);
                return cli_fail_error(ctx, &e2);
        }
        if (via_daemon) {
                char *av[] = {"auth", "complete", (char *)name, got, NULL};
                return cli_forward_with(ctx, 4, av, NULL, NULL);
        }
        if (oauth_complete(p, m, uid, got, &err) < 0)
                return cli_fail_error(ctx, &err);
        fprintf(stderr, "corral: auth: %s is authorized\n", name);
        restart_unit(ctx, m, uid);
        return 0;
}

static int auth_complete(cli_ctx *ctx, const corral_paths *p, uid_t uid, int argc, char **argv)
{
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        int r;

        if (argc != 3)
                return cli_usage_error(ctx, "auth complete takes NAME and the code or the "
                                            "redirect URL");
        if ((r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        if (oauth_complete(p, m, uid, argv[2], &err) < 0)
                return cli_fail_error(ctx, &err);
        fprintf(stderr, "corral: auth: %s is authorized\n", m->name);
        restart_unit(ctx, m, uid);
        return 0;
}

static cJSON *status_of(const corral_paths *p, const char *name, uid_t uid)
{
        _cleanup_json_ cJSON *st = oauth_state_load(p, name, uid);
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

static int auth_status(cli_ctx *ctx, const corral_paths *p, uid_t uid, int argc, char **argv)
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
                cJSON_AddItemToArray(list, status_of(p, name, uid));
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
                        if (manifest_load(&m, mp, NULL) == 0 && strcmp(m->backend, "remote") == 0 &&
                            (!s->as_user || users_owner_matches(m->owner, s->as_user)))
                                cJSON_AddItemToArray(list, status_of(p, names[i], uid));
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

static int auth_set_token(cli_ctx *ctx, const corral_paths *p, uid_t uid, int argc, char **argv)
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
        if (!via_daemon && (r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        n = getline(&tok, &cap, stdin);
        while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
                tok[--n] = '\0';
        if (n <= 0 || (size_t)n > TOKEN_STDIN_MAX || strpbrk(tok, "\r\n\t "))
                return cli_fail(ctx, EX_USAGE, "auth set-token: no token on stdin (one line)");
        if (via_daemon) {
                char *av[] = {"auth", "set-token", argv[1], NULL};
                _cleanup_free_ char *line = xasprintf("%s\n", tok);
                r = cli_forward_with(ctx, 3, av, line, NULL);
                explicit_bzero(line, strlen(line));
                explicit_bzero(tok, (size_t)n);
                return r;
        }
        st = oauth_state_load(p, m->name, uid);
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
        if (oauth_state_save(p, m->name, uid, st, &err) < 0)
                return cli_fail_error(ctx, &err);
        restart_unit(ctx, m, uid);
        return 0;
}

static int auth_logout(cli_ctx *ctx, const corral_paths *p, uid_t uid, int argc, char **argv)
{
        _cleanup_manifest_ manifest *m = NULL;
        corral_error err = {0};
        int r;

        if (argc != 2)
                return cli_usage_error(ctx, "auth logout takes NAME");
        if ((r = load_remote(ctx, p, argv[1], &m)) != 0)
                return r;
        if (oauth_state_forget(p, m->name, uid, &err) < 0)
                return cli_fail_error(ctx, &err);
        restart_unit(ctx, m, uid);
        return 0;
}

int cli_auth(cli_ctx *ctx, int argc, char **argv)
{
        corral_paths p = {0};
        corral_error err = {0};
        uid_t uid = (uid_t)-1;
        int rc;

        if (argc < 2)
                return cli_usage_error(ctx, "auth needs start, complete, status, set-token or "
                                            "logout");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                return cli_usage(ctx);
        /* A store this user cannot write: its daemon keeps their tokens. */
        via_daemon = !ctx->as_user && cli_store_needs_daemon(ctx);
        /* Root and the store's owner too, while its daemon runs: it is the
         * state database's one writer (issue 15).  The same corral/exec as
         * a user's, not methods on the daemon's loop: start and complete
         * talk to the authorization server (discovery, registration, the
         * token request), which a child of the daemon does without holding
         * up the loop — the same code, with the same checks, for everyone.
         * The daemon's own children (that corral/exec) write themselves.
         * The check is made once, here: `auth start` may wait minutes for
         * the browser, too long to hold the daemon's lock. */
        if (!via_daemon && !ctx->as_user && strcmp(argv[1], "status") != 0 &&
            paths_init(&p, ctx->root, NULL) == 0) {
                int lock = -1;
                via_daemon = cli_state_writer(ctx, &p, &lock) == CLI_STATE_DAEMON;
                if (lock >= 0)
                        (void)close(lock);
                paths_done(&p);
                p = (corral_paths){0};
        }
        if (via_daemon && strcmp(argv[1], "start") != 0 && strcmp(argv[1], "set-token") != 0)
                return cli_forward(ctx, argc, argv);
        if (!via_daemon && (rc = acting_uid(ctx, &uid)) != 0)
                return rc;
        if (paths_init(&p, ctx->root, &err) < 0)
                return cli_fail_error(ctx, &err);
        if (!via_daemon && !ctx->as_user && geteuid() != 0 && access(p.servers, W_OK) < 0 &&
            dir_exists(p.servers)) {
                paths_done(&p);
                return cli_fail(ctx, EX_UNAVAILABLE,
                                "this store's tokens are kept by its daemon, which is not "
                                "running: start it (systemctl start corral)");
        }
        if (strcmp(argv[1], "start") == 0)
                rc = auth_start(ctx, &p, uid, argc - 1, argv + 1);
        else if (strcmp(argv[1], "complete") == 0)
                rc = auth_complete(ctx, &p, uid, argc - 1, argv + 1);
        else if (strcmp(argv[1], "status") == 0)
                rc = auth_status(ctx, &p, uid, argc - 1, argv + 1);
        else if (strcmp(argv[1], "set-token") == 0)
                rc = auth_set_token(ctx, &p, uid, argc - 1, argv + 1);
        else if (strcmp(argv[1], "logout") == 0)
                rc = auth_logout(ctx, &p, uid, argc - 1, argv + 1);
        else
                rc = cli_usage_error(ctx, "auth needs start, complete, status, set-token or "
                                          "logout");
        paths_done(&p);
        return rc;
}
