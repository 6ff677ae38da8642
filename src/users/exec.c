/* corral/exec on the control socket (issue 15): a user who cannot write the
 * system store asks the daemon to run a store verb for them.  The daemon
 * runs itself (/proc/self/exe) as a child with `--as-user USER` (left out
 * for admins), so the verb's own code applies the per-user rules
 * (include/corral/store.h as_user, include/corral/users.h site policy) and
 * nothing is parsed twice.  The child never blocks the loop: its output is
 * read through pipes (capped) and the answer goes to the session when it
 * exits, if that session is still there.  `logs -f` streams instead: each
 * chunk of output goes to the session at once as a corral/output
 * notification, and the child is ended when the session goes. */
#include <signal.h>
#include <string.h>

#include "control.h"
#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/store.h"
#include "corral/strbuf.h"
#include "users/exec.h"

#define EXEC_MAX_ARGS 256
#define EXEC_MAX_ARG_BYTES 4096
#define EXEC_OUTPUT_MAX (1u << 20) /* per stream; the rest is dropped, and said so */
#define EXEC_MAX_RUNNING 8
#define EXEC_MAX_PER_USER 2
/* Streamed jobs (logs -f) run until their client leaves: counted apart. */
#define EXEC_MAX_STREAMS 32
#define EXEC_MAX_STREAMS_PER_USER 4
#define EXEC_STREAM_CHECK_MS 1000

static const char *const verbs[] = {"install", "uninstall", "enable", "disable",
                                    "access",  "reset",     "logs",   "auth"};
/* Bytes of "stdin" a request may give its child (a token, a client secret). */
#define EXEC_STDIN_MAX (64u << 10)

typedef struct exec_job exec_job;
struct exec_job {
        control *ctl;
        uv_process_t proc;
        uv_pipe_t out, err;
        uv_pipe_t in;       /* with input: the child's stdin, closed once written */
        uv_write_t in_req;
        char *input;
        strbuf bout, berr;
        bool cut_out, cut_err;
        gateway *gw;
        uint64_t session; /* gateway_session_serial() of the asker (corral/exec) */
        cJSON *id;        /* its request; NULL for a job of the management tools */
        mgmt_exec_cb cb;  /* the management tools' job: who hears of its end
                           * (cb.done NULL once forgotten or called) */
        size_t err_seen;  /* berr bytes passed to cb.err_line already */
        char *user;
        char *verb;
        int64_t exit_code;
        int open_handles; /* handles not closed yet */
        int open_streams; /* pipes not at EOF yet */
        bool exited;
        bool stream;       /* output goes out as it comes (logs -f) */
        uv_timer_t watch;  /* stream: ends the child once the session is gone */
        bool cancelled;    /* users_exec_cancel(): killed, staging swept at its end */
        uv_timer_t *kill;  /* the SIGKILL after a cancel's SIGTERM, or NULL */
        exec_job *next;
};

static void reply_err(gateway_session *s, const cJSON *id, int exit_code, const char *msg)
{
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "exit", exit_code);
        gateway_session_reply_error(s, id, CORRAL_RPC_UNAVAILABLE, msg, data);
}

static void job_unlink(exec_job *j)
{
        for (exec_job **p = &j->ctl->exec_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        return;
                }
}

static void job_free(exec_job *j)
{
        strbuf_done(&j->bout);
        strbuf_done(&j->berr);
        cJSON_Delete(j->id);
        free(j->user);
        free(j->verb);
        free(j->input);
        free(j);
}

static void on_close(uv_handle_t *h)
{
        exec_job *j = h->data;
        if (--j->open_handles == 0)
                job_free(j);
}

static void job_finish(exec_job *j)
{
        gateway_session *s;
        cJSON *res;

        if (!j->exited || j->open_streams > 0)
                return;
        job_unlink(j);
        if (j->kill) {
                uv_close((uv_handle_t *)j->kill, (uv_close_cb)free);
                j->kill = NULL;
        }
        /* A cancelled install left its staging dir (the rename into
         * servers/ is its last step): gone with it. */
        if (j->cancelled)
                store_sweep_staging(j->ctl->st);
        s = j->id ? gateway_find_session(j->gw, j->session) : NULL;
        log_info("control: %s for %s exited %lld%s", j->verb, j->user, (long long)j->exit_code,
                 s || j->cb.done ? "" : " (the client had gone)");
        if (j->cut_out || j->cut_err)
                (void)strbuf_appendf(&j->berr, "corral: %s: output over %u bytes cut\n", j->verb,
                                     EXEC_OUTPUT_MAX);
        if (j->cb.done) {
                mgmt_exec_cb cb = j->cb;
                j->cb = (mgmt_exec_cb){0};
                cb.done(cb.ud, (int)j->exit_code, j->bout.buf ? j->bout.buf : "",
                        j->berr.buf ? j->berr.buf : "");
        } else if (s) {
                res = cJSON_CreateObject();
                cJSON_AddNumberToObject(res, "exit", (double)j->exit_code);
                cJSON_AddStringToObject(res, "stdout", j->bout.buf ? j->bout.buf : "");
                cJSON_AddStringToObject(res, "stderr", j->berr.buf ? j->berr.buf : "");
                gateway_session_reply(s, j->id, res, 0, NULL);
        }
        uv_close((uv_handle_t *)&j->proc, on_close);
        uv_close((uv_handle_t *)&j->out, on_close);
        uv_close((uv_handle_t *)&j->err, on_close);
        if (j->stream)
                uv_close((uv_handle_t *)&j->watch, on_close);
}

/* A streamed job whose client left: end the child (its exit finishes the job). */
static void stream_check(uv_timer_t *t)
{
        exec_job *j = t->data;

        if (!j->exited && !gateway_find_session(j->gw, j->session))
                (void)uv_process_kill(&j->proc, SIGTERM);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int signal)
{
        exec_job *j = p->data;
        j->exited = true;
        j->exit_code = signal ? 128 + signal : status;
        job_finish(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        static char chunk[65536];
        (void)h;
        (void)suggested;
        *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
        exec_job *j = st->data;
        bool is_out = st == (uv_stream_t *)&j->out;

        if (n > 0 && j->stream) {
                gateway_session *s = gateway_find_session(j->gw, j->session);
                _cleanup_free_ char *chunk = xstrndup(buf->base, (size_t)n);
                cJSON *params;
                if (!s) {
                        stream_check(&j->watch);
                        return;
                }
                params = cJSON_CreateObject();
                cJSON_AddStringToObject(params, "stream", is_out ? "stdout" : "stderr");
                cJSON_AddStringToObject(params, "data", chunk);
                gateway_session_notify(s, "corral/output", params);
                return;
        }
        if (n > 0) {
                if (strbuf_append(is_out ? &j->bout : &j->berr, buf->base, (size_t)n) < 0)
                        *(is_out ? &j->cut_out : &j->cut_err) = true;
                /* Whole lines of stderr as they come (install's progress). */
                while (!is_out && j->cb.err_line && j->err_seen < j->berr.len) {
                        char *nl = memchr(j->berr.buf + j->err_seen, '\n',
                                          j->berr.len - j->err_seen);
                        if (!nl)
                                break;
                        *nl = '\0';
                        j->cb.err_line(j->cb.ud, j->berr.buf + j->err_seen);
                        *nl = '\n';
                        j->err_seen = (size_t)(nl - j->berr.buf) + 1;
                }
                return;
        }
        if (n < 0) {
                (void)uv_read_stop(st);
                j->open_streams--;
                job_finish(j);
        }
}

/* args: an array of at most EXEC_MAX_ARGS strings of at most
 * EXEC_MAX_ARG_BYTES each, none with a NUL (cJSON strings cannot). */
static bool args_ok(const cJSON *args)
{
        const cJSON *a;

        if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) > EXEC_MAX_ARGS)
                return false;
        cJSON_ArrayForEach(a, args) if (!cJSON_IsString(a) ||
                                        strlen(a->valuestring) > EXEC_MAX_ARG_BYTES) return false;
        return true;
}

/* The user's jobs of that kind (streamed or not); *ret_total all of them. */
static unsigned running_for(const control *ctl, const char *user, bool stream,
                            unsigned *ret_total)
{
        unsigned mine = 0, total = 0;
        for (const exec_job *j = ctl->exec_jobs; j; j = j->next) {
                if (j->stream != stream)
                        continue;
                total++;
                mine += strcmp(j->user, user) == 0;
        }
        *ret_total = total;
        return mine;
}

/* `logs` with -f/--follow (before any "--"). */
static bool follows(const char *verb, const cJSON *args)
{
        const cJSON *a;

        if (strcmp(verb, "logs") != 0)
                return false;
        cJSON_ArrayForEach(a, args)
        {
                if (strcmp(a->valuestring, "--") == 0)
                        break;
                if (strcmp(a->valuestring, "-f") == 0 || strcmp(a->valuestring, "--follow") == 0)
                        return true;
        }
        return false;
}

void users_exec_stop_streams(control *ctl)
{
        for (exec_job *j = ctl->exec_jobs; j; j = j->next)
                if (j->stream && !j->exited)
                        (void)uv_process_kill(&j->proc, SIGTERM);
}

static void on_input_written(uv_write_t *req, int status)
{
        exec_job *j = req->data;
        (void)status; /* a child that quit early did not want it */
        uv_close((uv_handle_t *)&j->in, on_close);
}

/* Runs `corral [--root R] [--as-user USER] [flags] VERB ARGS…` as a child
 * (args NULL-terminated) with input (NULL: none) on its stdin; the job is
 * linked into ctl's, its output read as it comes.  NULL with err set
 * (EX_OSERR) when it cannot be spawned. */
static exec_job *spawn(control *ctl, const char *user, bool admin, const char *verb,
                       char *const *args, unsigned flags, bool stream, const char *input,
                       corral_error *err)
{
        _cleanup_free_ char *root = NULL;
        char **argv;
        size_t n = 0, nargs = 0;
        exec_job *j;
        int r;

        while (args && args[nargs])
                nargs++;
        argv = xcalloc(nargs + 16, sizeof(char *));
        argv[n++] = "corral";
        if (ctl->st->paths.mode == PATHS_ROOT) {
                /* servers/ is directly under the root. */
                root = xstrdup(ctl->st->paths.servers);
                *strrchr(root, '/') = '\0';
                argv[n++] = "--root";
                argv[n++] = root;
        }
        /* In a system store auth acts for its caller (their own tokens),
         * admins included; root's are the daemon's own, and so is every
         * token of a store that is its user's. */
        if (!admin || (ctl->system && strcmp(verb, "auth") == 0 && user[0] &&
                       strcmp(user, "root") != 0)) {
                argv[n++] = "--as-user";
                argv[n++] = (char *)user;
        }
        if (flags & USERS_EXEC_JSON)
                argv[n++] = "--json";
        if (flags & USERS_EXEC_YES)
                argv[n++] = "--yes";
        if (flags & USERS_EXEC_QUIET)
                argv[n++] = "--quiet";
        argv[n++] = (char *)verb;
        for (size_t i = 0; i < nargs; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        j = xcalloc(1, sizeof(*j));
        j->ctl = ctl;
        j->gw = ctl->gw;
        j->user = xstrdup(user);
        j->verb = xstrdup(verb);
        j->bout = STRBUF_INIT(EXEC_OUTPUT_MAX);
        j->berr = STRBUF_INIT(EXEC_OUTPUT_MAX);
        (void)uv_pipe_init(gateway_loop(ctl->gw), &j->out, 0);
        (void)uv_pipe_init(gateway_loop(ctl->gw), &j->err, 0);
        j->out.data = j->err.data = j->proc.data = j;
        j->open_handles = 2;
        if (input) {
                (void)uv_pipe_init(gateway_loop(ctl->gw), &j->in, 0);
                j->in.data = j;
                j->open_handles++;
        }

        uv_stdio_container_t stdio[3] = {
                input ? (uv_stdio_container_t){.flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
                                               .data.stream = (uv_stream_t *)&j->in}
                      : (uv_stdio_container_t){.flags = UV_IGNORE},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
        };
        uv_process_options_t opts = {
                .exit_cb = on_exit_cb,
                .file = "/proc/self/exe",
                .args = argv,
                .stdio_count = 3,
                .stdio = stdio,
                /* setsid: a cancel ends the verb and whatever it started. */
                .flags = UV_PROCESS_DETACHED,
        };
        r = uv_spawn(gateway_loop(ctl->gw), &j->proc, &opts);
        free(argv);
        if (r < 0) {
                corral_error_set(err, EX_OSERR, "cannot run %s: %s", verb, uv_strerror(r));
                uv_close((uv_handle_t *)&j->out, on_close);
                uv_close((uv_handle_t *)&j->err, on_close);
                if (input)
                        uv_close((uv_handle_t *)&j->in, on_close);
                return NULL;
        }
        j->open_handles = input ? 4 : 3;
        if (input) {
                uv_buf_t b;
                j->input = xstrdup(input);
                b = uv_buf_init(j->input, (unsigned)strlen(j->input));
                j->in_req.data = j;
                if (uv_write(&j->in_req, (uv_stream_t *)&j->in, &b, 1, on_input_written) < 0)
                        uv_close((uv_handle_t *)&j->in, on_close);
        }
        j->open_streams = 2;
        if (stream) {
                j->stream = true;
                (void)uv_timer_init(gateway_loop(ctl->gw), &j->watch);
                j->watch.data = j;
                (void)uv_timer_start(&j->watch, stream_check, EXEC_STREAM_CHECK_MS,
                                     EXEC_STREAM_CHECK_MS);
                j->open_handles++;
        }
        (void)uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
        (void)uv_read_start((uv_stream_t *)&j->err, on_alloc, on_read);
        j->next = ctl->exec_jobs;
        ctl->exec_jobs = j;
        log_info("control: %s for %s%s (pid %d)", verb, user, admin ? " (admin)" : "",
                 j->proc.pid);
        return j;
}

void users_exec_request(control *ctl, gateway_session *s, const cJSON *id, const cJSON *params)
{
        const char *verb = json_get_string(params, "verb");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "args"), *a;
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(params, "stdin");
        const char *user = gateway_session_user(s);
        bool known = false, stream;
        unsigned total, flags = 0;
        corral_error err = {0};
        char **argv;
        size_t n = 0;
        exec_job *j;

        for (size_t i = 0; verb && i < ARRAY_SIZE(verbs); i++)
                known |= strcmp(verbs[i], verb) == 0;
        if (!known || !args_ok(args) ||
            (input && (!cJSON_IsString(input) || strlen(input->valuestring) > EXEC_STDIN_MAX ||
                       strcmp(verb, "auth") != 0))) {
                gateway_session_reply(s, id, NULL, JSONRPC_INVALID_PARAMS,
                                      "invalid params: verb must be one of install, uninstall, "
                                      "enable, disable, access, reset, logs, auth; args an array "
                                      "of strings; stdin (auth only) a string of at most 64 KiB");
                return;
        }
        /* auth: the store's owner's own `corral auth` while its daemon
         * runs, which writes the state database for it (src/cli/auth.c). */
        if (!ctl->system && strcmp(verb, "auth") != 0) {
                reply_err(s, id, EX_NOPERM,
                          "this daemon's store is its user's own: run the verb directly");
                return;
        }
        if (!user) {
                reply_err(s, id, EX_NOPERM, "your uid has no user name on this host");
                return;
        }
        stream = follows(verb, args);
        if (stream && !json_get_bool(params, "stream", false)) {
                reply_err(s, id, EX_USAGE,
                          "logs -f needs a client that takes streamed output (\"stream\": true)");
                return;
        }
        if (stream ? running_for(ctl, user, true, &total) >= EXEC_MAX_STREAMS_PER_USER ||
                             total >= EXEC_MAX_STREAMS
                   : running_for(ctl, user, false, &total) >= EXEC_MAX_PER_USER ||
                             total >= EXEC_MAX_RUNNING) {
                reply_err(s, id, EX_TEMPFAIL,
                          stream ? "too many logs being followed (per user and in all): try "
                                   "again"
                                 : "too many store requests running (per user and in all): try "
                                   "again");
                return;
        }
        if (json_get_bool(params, "json", false))
                flags |= USERS_EXEC_JSON;
        if (json_get_bool(params, "yes", false))
                flags |= USERS_EXEC_YES;
        if (json_get_bool(params, "quiet", false))
                flags |= USERS_EXEC_QUIET;
        argv = xcalloc((size_t)cJSON_GetArraySize(args) + 1, sizeof(char *));
        cJSON_ArrayForEach(a, args) argv[n++] = a->valuestring;
        j = spawn(ctl, user, gateway_session_admin(s), verb, argv, flags, stream,
                  input ? input->valuestring : NULL, &err);
        free(argv);
        if (!j) {
                reply_err(s, id, err.code, err.msg);
                return;
        }
        j->session = gateway_session_serial(s);
        j->id = json_dup(id);
}

exec_job *users_exec_start(control *ctl, const char *user, bool admin, const char *verb,
                           char *const *args, unsigned flags, const mgmt_exec_cb *cb,
                           corral_error *err)
{
        unsigned total;
        exec_job *j;

        if (running_for(ctl, user, false, &total) >= EXEC_MAX_PER_USER ||
            total >= EXEC_MAX_RUNNING) {
                corral_error_set(err, EX_TEMPFAIL,
                                 "too many store requests running (per user and in all): try "
                                 "again");
                return NULL;
        }
        j = spawn(ctl, user, admin, verb, args, flags, false, NULL, err);
        if (j)
                j->cb = *cb;
        return j;
}

static void on_kill_timer(uv_timer_t *t)
{
        exec_job *j = t->data;

        if (!j->exited)
                (void)kill(-j->proc.pid, SIGKILL);
}

void users_exec_cancel(control *ctl, exec_job *job)
{
        for (exec_job *j = ctl->exec_jobs; j; j = j->next) {
                if (j != job || j->exited)
                        continue;
                j->cb = (mgmt_exec_cb){0};
                j->cancelled = true;
                log_info("control: %s for %s cancelled: ending pid %d", j->verb, j->user,
                         j->proc.pid);
                /* Its own process group (UV_PROCESS_DETACHED): what it runs
                 * (git, a build) goes with it. */
                (void)kill(-j->proc.pid, SIGTERM);
                if (!j->kill) {
                        j->kill = xcalloc(1, sizeof(*j->kill));
                        (void)uv_timer_init(gateway_loop(j->gw), j->kill);
                        j->kill->data = j;
                        (void)uv_timer_start(j->kill, on_kill_timer, USERS_EXEC_KILL_MS, 0);
                }
        }
}

void users_exec_forget(control *ctl, exec_job *job)
{
        for (exec_job *j = ctl->exec_jobs; j; j = j->next)
                if (j == job)
                        j->cb = (mgmt_exec_cb){0};
}
