/* The audit log writer (src/state/audit.h). */
#include <string.h>
#include <sys/stat.h>

#include "corral/jsonutil.h"
#include "corral/log.h"
#include "corral/redact.h"
#include "corral/state.h"
#include "state/audit.h"

typedef struct pending {
        state_call c;
        char *user, *server, *tool; /* owned copies behind c's pointers */
        char *arguments;            /* redacted and capped JSON text, or NULL */
} pending;

struct audit_log {
        uv_loop_t *loop;
        uv_timer_t *timer;
        char *path;
        unsigned retention_days;
        state_db *db;
        dev_t dev; /* the file db was opened on: one put in its place is reopened */
        ino_t ino;
        pending *q;
        size_t n;
        uint64_t written, dropped;
        char error[1024]; /* the last failure, "" when the last flush worked */
        uint64_t last_warn_ms;
        /* Argument logging ("arguments": true): the store's secrets,
         * loaded again whenever its files change. */
        bool arguments;
        size_t arguments_max;
        corral_paths *paths;
        redact_set *secrets;
        unsigned long long secrets_fp;
        cJSON *db_secrets; /* the OAuth states last read from the database */
};

static void pending_done(pending *p)
{
        free(p->user);
        free(p->server);
        free(p->tool);
        free(p->arguments);
}

static void flush(audit_log *a)
{
        corral_error err = {0};
        state_call *calls;
        int r = 0;

        if (a->n == 0)
                return;
        /* Not writable: the connection is left untouched (not even closed,
         * which writes the -shm mapping) until it is again. */
        r = state_check_writable(a->path, &err);
        if (r == 0 && a->db) {
                /* A file replaced or removed under us (restored from a backup,
                 * moved away when it broke) is not written through the old
                 * handle: that would go to a file nobody reads. */
                struct stat st;
                if (stat(a->path, &st) < 0 || st.st_dev != a->dev || st.st_ino != a->ino) {
                        log_info("audit log: %s was replaced or removed; opening it again",
                                 a->path);
                        a->db = state_close(a->db);
                }
        }
        if (r == 0 && !a->db) {
                struct stat st;
                r = state_open(&a->db, a->path, false, &err);
                if (r == 0 && stat(a->path, &st) == 0) {
                        a->dev = st.st_dev;
                        a->ino = st.st_ino;
                }
                /* Never wait on the loop for someone else's lock: the rows
                 * wait instead, and the next flush tries again. */
                if (r == 0)
                        state_set_busy_timeout(a->db, AUDIT_BUSY_TIMEOUT_MS);
        }
        if (r == 0) {
                calls = xcalloc(a->n, sizeof(*calls));
                for (size_t i = 0; i < a->n; i++)
                        calls[i] = a->q[i].c;
                r = state_append_calls(a->db, calls, a->n, a->retention_days, &err);
                free(calls);
        }
        if (r < 0) {
                uint64_t now = uv_now(a->loop);
                snprintf(a->error, sizeof(a->error), "%s", err.msg);
                /* A database that went bad is reopened next time. */
                if (err.code != EX_TEMPFAIL && state_check_writable(a->path, NULL) == 0)
                        a->db = state_close(a->db);
                if (!a->last_warn_ms || now - a->last_warn_ms >= 10000) {
                        log_warn("audit log: %s (%zu call%s waiting, %llu dropped)", err.msg,
                                 a->n, a->n == 1 ? "" : "s", (unsigned long long)a->dropped);
                        a->last_warn_ms = now;
                }
                return;
        }
        a->written += a->n;
        for (size_t i = 0; i < a->n; i++)
                pending_done(&a->q[i]);
        a->n = 0;
        a->error[0] = '\0';
}

static void on_timer(uv_timer_t *t)
{
        audit_log *a = t->data;
        flush(a);
        if (a->n)
                (void)uv_timer_start(a->timer, on_timer, 1000, 0);
}

/* The members of corral.json "audit" (config_validate() checks the same
 * table through audit_config_keys). */
const config_key audit_config_keys[] = {
        {"enabled", CONFIG_BOOL, 0, 0, NULL},
        {"retention_days", CONFIG_NUMBER, 0, 36500, NULL},
        {"arguments", CONFIG_BOOL, 0, 0, NULL},
        {"arguments_max_bytes", CONFIG_NUMBER, AUDIT_ARGS_MIN, AUDIT_ARGS_MAX, NULL},
        {NULL, 0, 0, 0, NULL},
};

int audit_new(uv_loop_t *loop, const cJSON *config, const corral_paths *paths, const char *path,
              audit_log **ret, corral_error *err)
{
        const cJSON *ac = config ? cJSON_GetObjectItemCaseSensitive(config, "audit") : NULL;
        audit_log *a;
        int r;

        if (ac && !cJSON_IsObject(ac))
                return corral_error_set(err, EX_CONFIG, "audit: must be an object");
        if ((r = config_check_object(ac, "audit", audit_config_keys, err)) < 0)
                return r;
        *ret = NULL;
        if (!json_get_bool(ac, "enabled", true))
                return 0;
        a = xcalloc(1, sizeof(*a));
        a->loop = loop;
        a->path = xstrdup(path);
        a->retention_days =
                (unsigned)json_get_number(ac, "retention_days", STATE_DEFAULT_RETENTION_DAYS);
        a->arguments = json_get_bool(ac, "arguments", false);
        a->arguments_max = (size_t)json_get_number(ac, "arguments_max_bytes", AUDIT_ARGS_DEFAULT);
        if (a->arguments) {
                /* What the secrets are found from. */
                a->paths = xcalloc(1, sizeof(*a->paths));
                a->paths->servers = xstrdup(paths->servers);
                a->paths->config = paths->config ? xstrdup(paths->config) : NULL;
        }
        a->q = xcalloc(AUDIT_MAX_PENDING, sizeof(*a->q));
        a->timer = xcalloc(1, sizeof(*a->timer));
        (void)uv_timer_init(loop, a->timer);
        a->timer->data = a;
        *ret = a;
        return 0;
}

bool audit_wants_arguments(const audit_log *a)
{
        return a && a->arguments;
}

static void free_handle(uv_handle_t *h)
{
        free(h);
}

audit_log *audit_free(audit_log *a)
{
        if (!a)
                return NULL;
        flush(a);
        for (size_t i = 0; i < a->n; i++)
                pending_done(&a->q[i]);
        uv_close((uv_handle_t *)a->timer, free_handle);
        if (a->db && state_check_writable(a->path, NULL) < 0) {
                /* Closing writes the -shm mapping (SIGBUS when it cannot be
                 * written back): the process is ending, the handle is kept. */
                static state_db *volatile kept;
                kept = a->db;
                (void)kept;
                a->db = NULL;
        }
        a->db = state_close(a->db);
        a->secrets = redact_set_free(a->secrets);
        cJSON_Delete(a->db_secrets);
        if (a->paths) {
                paths_done(a->paths);
                free(a->paths);
        }
        free(a->q);
        free(a->path);
        free(a);
        return NULL;
}

/* The call's arguments as they are kept: every secret the store knows
 * now replaced (its files are looked at on every call, so a secret added a
 * moment ago is known), then capped. */
static unsigned long long db_fingerprint(const audit_log *a)
{
        _cleanup_free_ char *wal = xasprintf("%s-wal", a->path);
        unsigned long long h = 0;
        struct stat st;

        /* Any commit (an OAuth token stored) changes the file or its WAL. */
        if (stat(a->path, &st) == 0)
                h += (unsigned long long)st.st_ino * 31 + (unsigned long long)st.st_size * 7 +
                     (unsigned long long)st.st_mtim.tv_nsec + (unsigned long long)st.st_mtim.tv_sec;
        if (stat(wal, &st) == 0)
                h += ((unsigned long long)st.st_size * 131 + (unsigned long long)st.st_mtim.tv_nsec +
                      (unsigned long long)st.st_mtim.tv_sec) * 1099511628211ULL;
        return h;
}

/* The OAuth tokens kept in the state database (schema 3), through a
 * read-only connection of its own, closed again; skipped while the file
 * cannot be written (its -shm mapping could not be either). */
static void load_db_secrets(audit_log *a)
{
        cJSON *states = NULL;
        corral_error err = {0};
        state_db *ro = NULL;

        /* What was read last stays known while the file cannot be read. */
        if (state_check_writable(a->path, NULL) == 0 &&
            state_open(&ro, a->path, true, &err) == 0) {
                if (state_oauth_states(ro, &states, &err) == 0) {
                        cJSON_Delete(a->db_secrets);
                        a->db_secrets = states;
                }
                ro = state_close(ro);
        }
        redact_set_add_json(a->secrets, a->db_secrets, false);
}

static char *arguments_text(audit_log *a, const cJSON *args)
{
        unsigned long long fp = redact_store_fingerprint(a->paths) ^ db_fingerprint(a);

        if (!a->secrets || fp != a->secrets_fp) {
                a->secrets = redact_set_free(a->secrets);
                a->secrets = redact_set_new();
                redact_set_load_store(a->secrets, a->paths);
                load_db_secrets(a);
                a->secrets_fp = fp;
                if (redact_set_dropped(a->secrets))
                        log_warn("audit log: more than %d secrets known; %zu are not redacted "
                                 "from arguments",
                                 REDACT_MAX_SECRETS, redact_set_dropped(a->secrets));
        }
        return redact_json_text(args, a->secrets, a->arguments_max);
}

void audit_record(void *ud, const gateway_call_record *rec)
{
        audit_log *a = ud;
        pending *p;

        if (a->n >= AUDIT_MAX_PENDING) {
                a->dropped++;
                return;
        }
        p = &a->q[a->n++];
        p->user = rec->user ? xstrdup(rec->user) : NULL;
        p->server = xstrdup(rec->server);
        p->tool = xstrdup(rec->tool ? rec->tool : "?");
        p->arguments = a->arguments && rec->arguments ? arguments_text(a, rec->arguments) : NULL;
        p->c = (state_call){
                .ts_ms = rec->ts_ms,
                .user = p->user,
                .iface = rec->iface, /* static strings */
                .server = p->server,
                .tool = p->tool,
                .outcome = rec->outcome,
                .duration_ms = rec->duration_ms,
                .req_bytes = (int64_t)rec->req_bytes,
                .resp_bytes = (int64_t)rec->resp_bytes,
                .arguments = p->arguments,
        };
        if (!uv_is_active((uv_handle_t *)a->timer))
                (void)uv_timer_start(a->timer, on_timer, AUDIT_FLUSH_MS, 0);
}

cJSON *audit_status_json(const audit_log *a)
{
        cJSON *o = cJSON_CreateObject();

        cJSON_AddBoolToObject(o, "enabled", a != NULL);
        if (!a)
                return o;
        cJSON_AddStringToObject(o, "path", a->path);
        cJSON_AddBoolToObject(o, "ok", a->error[0] == '\0');
        if (a->error[0])
                cJSON_AddStringToObject(o, "error", a->error);
        cJSON_AddNumberToObject(o, "written", (double)a->written);
        cJSON_AddNumberToObject(o, "pending", (double)a->n);
        cJSON_AddNumberToObject(o, "dropped", (double)a->dropped);
        cJSON_AddBoolToObject(o, "arguments", a->arguments);
        if (a->arguments) {
                cJSON_AddNumberToObject(o, "arguments_max_bytes", (double)a->arguments_max);
                cJSON_AddNumberToObject(o, "secrets_known",
                                        (double)redact_set_count(a->secrets));
        }
        return o;
}
