/* `corral daemon`: the supervisor, the gateway socket and the control socket
 * on one libuv loop, in the foreground (DESIGN.md, "Shape", "Supervisor",
 * "Gateway").  One daemon per store, enforced by flock on run/daemon.lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "control.h"
#include "users/exec.h"
#include "corral/auth.h"
#include "corral/config.h"
#include "corral/daemon.h"
#include "corral/runtime.h"
#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/sd.h"
#include "corral/supervisor.h"
#include "corral/policy.h"
#include "corral/limits.h"
#include "corral/metrics.h"
#include "corral/state.h"
#include "corral/strbuf.h"
#include "state/audit.h"
#include "corral/users.h"
#include "daemon_watch.h"
#include "corral/oauth_client.h"

typedef struct daemon_state {
        uv_loop_t *loop;
        supervisor *sv;
        gateway *gw;
        control ctl;
        auth *auth; /* bearer-token verifier of the HTTP listeners, or NULL */
        users_site site; /* corral.json "site": admins, socket group, user policy */
        tool_policy tools; /* corral.json "tools": allow/deny lists */
        audit_log *audit;  /* the tool-call log in the state database, or NULL */
        limiter *limits;   /* rate limits and the result cap (issue 15) */
        metrics *metrics;  /* /metrics on the HTTP listeners (issue 15) */
        uv_signal_t *sig[3]; /* SIGTERM, SIGINT, SIGHUP */
        unsigned stop_signals;
        bool shutting_down;
        store *s;
        daemon_watch *watch;  /* hot reload (src/daemon_watch.h) */
        char *config_error;   /* why corral.json was last refused; NULL when it is fine */
        cJSON *start_keys;    /* restart_keys[] as corral.json had them at start */
        char *restart_needed; /* those changed since, ", "-separated; NULL when none */
        unsigned config_tries; /* re-reads of a corral.json that did not parse */
} daemon_state;

/* corral.json keys the daemon reads once, at start (the HTTP listeners, the
 * token verifier and its users, the site policy, the audit log): a change
 * is reported until a restart.  "gateway" (connection limits) and "tools"
 * apply live; "sandbox", "docker" and the resolvers' keys are read by each
 * install. */
static const char *const restart_keys[] = {"http", "auth", "users", "site", "audit", "metrics",
                                           NULL};

static cJSON *pick_restart_keys(const cJSON *config)
{
        cJSON *o = cJSON_CreateObject();

        for (const char *const *k = restart_keys; *k; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, *k);
                if (v)
                        cJSON_AddItemToObject(o, *k, cJSON_Duplicate(v, true));
        }
        return o;
}

/* Compares a valid corral.json with the one the daemon started with. */
static void note_restart_keys(daemon_state *d, const cJSON *config)
{
        strbuf b = STRBUF_INIT(0);

        for (const char *const *k = restart_keys; *k; k++) {
                const cJSON *was = cJSON_GetObjectItemCaseSensitive(d->start_keys, *k);
                const cJSON *now = cJSON_GetObjectItemCaseSensitive(config, *k);
                if ((was || now) && !(was && now && cJSON_Compare(was, now, true)))
                        (void)strbuf_appendf(&b, "%s%s", b.len ? ", " : "", *k);
        }
        if (!b.len) {
                if (d->restart_needed)
                        log_info("corral.json: back to the settings the daemon started with");
                d->restart_needed = (free(d->restart_needed), NULL);
        } else if (!d->restart_needed || strcmp(d->restart_needed, b.buf) != 0) {
                log_warn("corral.json: %s changed: applied when the daemon restarts", b.buf);
                free(d->restart_needed);
                d->restart_needed = xstrdup(b.buf);
        }
        strbuf_done(&b);
        d->ctl.restart_needed = d->restart_needed;
}

/* Re-reads and checks corral.json.  A file caught half-written (an editor's
 * truncate-and-write) is read again before it is called bad; a bad one is
 * logged once and kept in status, and the running configuration stays.
 * 0, 1 while a re-read is pending, or -EX_CONFIG with err set. */
static int check_config(daemon_state *d, bool from_watch, corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        int r = config_load(&d->s->paths, &config, err);

        if (r == 0)
                r = config_validate(config, err);
        /* The connection limits apply now; connections already admitted
         * stay. */
        if (r == 0)
                r = gateway_set_limits(d->gw, config, err);
        if (r < 0) {
                if (from_watch && d->watch && d->config_tries < 3) {
                        d->config_tries++;
                        corral_error_clear(err);
                        daemon_watch_again(d->watch, true, 250);
                        return 1;
                }
                d->config_tries = 0;
                if (!d->config_error || strcmp(d->config_error, err->msg) != 0)
                        log_warn("%s; the running configuration is kept", err->msg);
                free(d->config_error);
                d->config_error = xstrdup(err->msg);
                d->ctl.config_error = d->config_error;
                return r;
        }
        d->config_tries = 0;
        note_restart_keys(d, config);
        if (d->config_error) {
                log_info("%s is valid again", d->s->paths.config);
                free(d->config_error);
                d->config_error = NULL;
                d->ctl.config_error = NULL;
        }
        return 0;
}

static int control_reload_config(void *ud, corral_error *err)
{
        int r = check_config(ud, false, err);
        return r < 0 ? r : 0;
}

/* Reconciles and keeps a watch on each installed server's directory. */
static void reconcile(daemon_state *d, const char *why)
{
        corral_error err = {0};
        _cleanup_strv_ char **names = NULL;
        int r = supervisor_reconcile(d->sv, &err);

        if (r < 0)
                log_warn("%s: %s", why, err.msg);
        else if (r > 0)
                log_info("%s: %d change%s", why, r, r == 1 ? "" : "s");
        corral_error_clear(&err);
        if (d->watch && store_list(d->s, &names, &err) == 0)
                daemon_watch_servers(d->watch, names);
}

static void on_watch(void *ud, bool config, bool store_changed)
{
        daemon_state *d = ud;
        corral_error err = {0};

        if (d->shutting_down)
                return;
        if (config) {
                int r = check_config(d, true, &err);
                if (r == 1 && !store_changed)
                        return; /* read again shortly */
                if (r == 0)
                        control_reload_policy(&d->ctl); /* the tool allow/deny lists */
        }
        (void)sd_notify_reloading();
        reconcile(d, config ? "hot reload (corral.json changed)" : "hot reload (store changed)");
        (void)sd_notify_send("READY=1");
}

static void on_shutdown_done(void *ud)
{
        daemon_state *d = ud;

        log_info("every server stopped; exiting");
        uv_stop(d->loop);
}

/* A second SIGTERM/SIGINT while servers are still stopping: do not wait for
 * the polite stop sequence any longer. */
static void force_kill(daemon_state *d)
{
        unit *const *units;
        size_t n = supervisor_units(d->sv, &units);

        for (size_t i = 0; i < n; i++) {
                int pid = unit_pid(units[i]);
                if (pid > 0) {
                        log_warn("killing server '%s' (pid %d)", unit_name(units[i]), pid);
                        (void)kill(pid, SIGKILL);
                }
        }
}

static void on_signal(uv_signal_t *h, int signum)
{
        daemon_state *d = h->data;

        if (signum == SIGHUP) {
                corral_error err = {0};
                (void)sd_notify_reloading();
                control_reload_policy(&d->ctl);
                (void)check_config(d, false, &err);
                int r = supervisor_reconcile(d->sv, &err);
                (void)sd_notify_send("READY=1");
                if (r < 0)
                        log_warn("reload: %s", err.msg);
                else
                        log_info("reload: %d change%s", r, r == 1 ? "" : "s");
                return;
        }
        if (d->shutting_down) {
                force_kill(d);
                return;
        }
        d->shutting_down = true;
        users_exec_stop_streams(&d->ctl);
        (void)sd_notify_send("STOPPING=1");
        log_info("%s: stopping every server", strsignal(signum));
        supervisor_shutdown(d->sv, on_shutdown_done, d);
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static void free_handle(uv_handle_t *h)
{
        free(h);
}

/* Takes run/daemon.lock; the fd (kept open for the daemon's life) or a
 * negative sysexits code. */
static int take_lock(const corral_paths *p, corral_error *err)
{
        _cleanup_free_ char *path = path_join(p->run, "daemon.lock");
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return corral_error_errno(err, errno == EACCES ? EX_NOPERM : EX_CANTCREAT, errno,
                                          "cannot open %s", path);
        /* A CLI that writes the state database while no daemon runs holds
         * the lock for a few ms (src/cli/state_route.c): wait out that much. */
        for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0;) {
                if (errno == EINTR)
                        continue;
                if (errno == EWOULDBLOCK && ++tries < 50) {
                        (void)usleep(20000);
                        continue;
                }
                if (errno == EWOULDBLOCK)
                        return corral_error_set(err, EX_TEMPFAIL,
                                                "a daemon is already running for this store "
                                                "(%s is locked)",
                                                path);
                return corral_error_errno(err, EX_CANTCREAT, errno, "cannot lock %s", path);
        }
        /* Its pid, so that the daemon's own children know its lock. */
        if (ftruncate(fd, 0) == 0)
                (void)!dprintf(fd, "%d\n", (int)getpid());
        return steal_fd(&fd);
}

/* The control and gateway sockets: the ones systemd passed (corral.socket,
 * matched by path), else bound here. */
static int listen_both(daemon_state *d, store *s, corral_error *err)
{
        sd_listen lfds;
        int r = sd_listen_take(&lfds), fd;

        if (r < 0)
                log_warn("ignoring malformed LISTEN_FDS/LISTEN_PID from the service manager");
        fd = sd_listen_find(&lfds, s->paths.control_sock, NULL);
        r = fd >= 0 ? gateway_listen_fd(d->gw, fd, s->paths.control_sock, true, &control_ops,
                                        &d->ctl, err)
                    : gateway_listen(d->gw, s->paths.control_sock, true, &control_ops, &d->ctl,
                                     err);
        if (r == 0) {
                fd = sd_listen_find(&lfds, s->paths.gateway_sock, NULL);
                r = fd >= 0 ? gateway_listen_fd(d->gw, fd, s->paths.gateway_sock, false, NULL,
                                                NULL, err)
                            : gateway_listen(d->gw, s->paths.gateway_sock, false, NULL, NULL, err);
        }
        for (size_t i = 0; i < lfds.n; i++)
                if (lfds.fds[i] >= 0)
                        log_warn("ignoring passed socket %s: not this store's",
                                 lfds.paths[i] ? lfds.paths[i] : "(not a unix path)");
        sd_listen_done(&lfds);
        return r;
}

/* Every call record goes to the metrics and, when it is on, the audit log. */
static void on_call(void *ud, const gateway_call_record *rec)
{
        daemon_state *d = ud;

        metrics_record(d->metrics, rec);
        if (d->audit)
                audit_record(d->audit, rec);
}

static char *render_metrics(void *ud)
{
        daemon_state *d = ud;
        return metrics_render(d->metrics, d->sv);
}

/* The token files of earlier versions move into the state database (issue
 * 15), once: each file is removed after its row is committed.  A database
 * that cannot be written leaves them where they are, still read. */
static void import_tokens(store *s, const char *db)
{
        corral_error e = {0};
        unsigned n = 0;

        if (oauth_state_import(&s->paths, &n, &e) < 0)
                log_warn("oauth: token files stay where they are: %s", e.msg);
        else if (n > 0)
                log_info("oauth: %u token file(s) moved into %s", n, db);
        /* `corral token`'s tokens.json the same way. */
        {
                _cleanup_free_ char *file = auth_tokens_file(&s->paths);
                state_db *sdb = NULL;

                corral_error_clear(&e);
                n = 0;
                if (!path_exists(file))
                        return;
                if (state_open(&sdb, db, false, &e) < 0 ||
                    auth_tokens_import(&s->paths, sdb, &n, &e) < 0)
                        log_warn("auth: %s stays where it is (still not read): %s", file, e.msg);
                else
                        log_info("auth: %u API token(s) moved from %s into %s", n, file, db);
                state_close(sdb);
        }
}

int daemon_run(store *s, const daemon_options *opts, corral_error *err)
{
        static const int signums[] = {SIGTERM, SIGINT, SIGHUP};
        struct sigaction ign = {.sa_handler = SIG_IGN};
        _cleanup_close_ int lock_fd = -1;
        corral_error rerr = {0};
        uv_loop_t loop;
        daemon_state d = {.loop = &loop, .s = s};
        bool system;
        int r;

        r = take_lock(&s->paths, err);
        if (r < 0)
                return r;
        lock_fd = r;
        /* A client that hangs up must cost us a write error, not the process. */
        (void)sigaction(SIGPIPE, &ign, NULL);
        log_set_daemon(1);

        if (uv_loop_init(&loop) < 0)
                return corral_error_set(err, EX_SOFTWARE, "cannot create the event loop");
        system = s->paths.mode == PATHS_SYSTEM || (opts && opts->system);
        d.gw = gateway_new(&loop, NULL);
        gateway_set_system_mode(d.gw, system);
        gateway_set_site(d.gw, &d.site);
        gateway_set_tool_policy(d.gw, &d.tools);
        d.limits = limiter_new();
        gateway_set_limiter(d.gw, d.limits);
        d.metrics = metrics_new();
        gateway_set_metrics(d.gw, render_metrics, &d);
        d.sv = supervisor_new(&loop, s, &gateway_supervisor_events, d.gw);
        gateway_set_supervisor(d.gw, d.sv);
        d.ctl = (control){.st = s,
                          .sv = d.sv,
                          .gw = d.gw,
                          .system = system,
                          .tools = &d.tools,
                          .limiter = d.limits,
                          .reload_config = control_reload_config,
                          .reload_ud = &d};

        {
                _cleanup_json_ cJSON *config = NULL;
                r = config_load(&s->paths, &config, err);
                /* The whole file, as reload checks it: a typo anywhere stops
                 * the start (exit 78) instead of being ignored. */
                if (r == 0)
                        r = config_validate(config, err);
                if (r == 0)
                        r = users_site_load(config, &d.site, err);
                if (r == 0)
                        r = tool_policy_load(config, &d.tools, err);
                if (r == 0) {
                        /* The gateway's own tools (issue 15, include/corral/mgmt.h). */
                        mgmt_settings ms;
                        r = mgmt_settings_load(config, &ms, err);
                        if (r == 0)
                                gateway_set_mgmt(d.gw, &control_mgmt_backend, &d.ctl, &ms);
                        d.ctl.mgmt_on = r == 0;
                }
                if (r == 0) {
                        _cleanup_free_ char *db = state_path(&s->paths);
                        import_tokens(s, db);
                        r = audit_new(&loop, config, &s->paths, db, &d.audit, err);
                        /* A database that cannot be read leaves its limits
                         * out: reported, never fatal (corral.json's apply). */
                        if (r == 0 && (r = limiter_load(d.limits, config, db, err)) > 0) {
                                log_warn("%s", err->msg);
                                corral_error_clear(err);
                                r = 0;
                        }
                }
                if (r == 0) {
                        gateway_set_call_observer(d.gw, on_call, &d);
                        gateway_set_call_arguments(d.gw, audit_wants_arguments(d.audit));
                }
                d.ctl.audit = d.audit;
                if (r == 0)
                        r = gateway_set_limits(d.gw, config, err);
                d.start_keys = pick_restart_keys(config);
                if (cJSON_GetObjectItemCaseSensitive(config, "tools"))
                        d.ctl.tools_seen = cJSON_Duplicate(
                                cJSON_GetObjectItemCaseSensitive(config, "tools"), true);
        }
        if (r == 0)
                r = listen_both(&d, s, err);
        if (r == 0)
                r = daemon_http_start(d.gw, &s->paths, opts ? opts->http_listen : NULL, &d.auth,
                                      err);
        if (r == 0)
                r = daemon_metrics_start(d.gw, &s->paths, &d.auth, err);
        if (r == 0) {
                for (size_t i = 0; i < ARRAY_SIZE(signums); i++) {
                        d.sig[i] = xcalloc(1, sizeof(*d.sig[i]));
                        (void)uv_signal_init(&loop, d.sig[i]);
                        d.sig[i]->data = &d;
                        (void)uv_signal_start(d.sig[i], on_signal, signums[i]);
                }
                fprintf(stderr, "corral: daemon ready (control %s, gateway %s)\n",
                        s->paths.control_sock, s->paths.gateway_sock);
                (void)sd_notify_send("READY=1\nSTATUS=supervising");
                /* Containers of an earlier run of this store that died
                 * without stopping them; no engine means none can be left. */
                runtime_docker_remove_leftovers(&loop, s->paths.servers);
                /* A corral.json that does not pass the checks of `corral config
                 * validate` is reported, not fatal: it ran before them. */
                (void)check_config(&d, false, &rerr);
                corral_error_clear(&rerr);
                d.watch = daemon_watch_new(&loop, &s->paths, on_watch, &d);
                if (supervisor_reconcile(d.sv, &rerr) < 0)
                        log_warn("cannot load the store: %s", rerr.msg);
                {
                        _cleanup_strv_ char **names = NULL;
                        if (store_list(s, &names, &rerr) == 0)
                                daemon_watch_servers(d.watch, names);
                }
                uv_run(&loop, UV_RUN_DEFAULT);
        }

        /* The supervisor goes first: freeing its units completes every request
         * still in flight, and those answers go out through the gateway. */
        d.watch = daemon_watch_free(d.watch);
        d.sv = supervisor_free(d.sv);
        d.gw = gateway_free(d.gw);
        d.audit = audit_free(d.audit);
        d.limits = limiter_free(d.limits);
        d.metrics = metrics_free(d.metrics);
        free(d.config_error);
        free(d.restart_needed);
        cJSON_Delete(d.start_keys);
        cJSON_Delete(d.ctl.tools_seen);
        d.auth = auth_free(d.auth);
        users_site_done(&d.site);
        tool_policy_done(&d.tools);
        /* Containers being removed: their calls finish (or time out) first. */
        while (runtime_docker_pending() > 0)
                (void)uv_run(&loop, UV_RUN_ONCE);
        for (size_t i = 0; i < ARRAY_SIZE(d.sig); i++)
                if (d.sig[i])
                        uv_close((uv_handle_t *)d.sig[i], free_handle);
        /* Whatever is still open now has no owner left: close it so the
         * final run cannot hang on it. */
        uv_walk(&loop, close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) < 0)
                log_warn("event loop still busy at exit");
        return r < 0 ? r : 0;
}
