/* See mcp_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sysexits.h>
#include <cmocka.h>

#include "corral/jsonrpc.h"
#include "corral/jsonutil.h"
#include "corral/macro.h"
#include "corral/mcp_client.h"
#include "mcp_fixture.h"


static int fx_send(void *ud, const char *data, size_t len)
{
        fixture *fx = ud;
        assert_true(len > 0);
        assert_int_equal(data[len - 1], '\n');
        assert_null(memchr(data, '\n', len - 1));
        if (fx->free_in_send) {
                fx->c = mcp_client_free(fx->c);
                return -1;
        }
        if (fx->send_fail)
                return -1;
        cJSON *m = cJSON_ParseWithLength(data, len);
        assert_non_null(m);
        cJSON_AddItemToArray(fx->sent, m);
        return 0;
}

static void fx_notification(void *ud, const char *method, const cJSON *params)
{
        fixture *fx = ud;
        cJSON *n = cJSON_CreateObject();
        cJSON_AddStringToObject(n, "method", method);
        if (params)
                cJSON_AddItemToObject(n, "params", json_dup(params));
        cJSON_AddItemToArray(fx->notes, n);
        if (fx->free_on_notification)
                fx->c = mcp_client_free(fx->c);
}

static void fx_fault(void *ud, mcp_fault kind, const char *why)
{
        fixture *fx = ud;
        assert_true(fx->nfaults < ARRAY_SIZE(fx->faults));
        /* The kind must agree with the reason the client gives. */
        if (strstr(why, "message over"))
                assert_int_equal(kind, MCP_FAULT_OVERSIZE);
        else if (strstr(why, "not JSON"))
                assert_int_equal(kind, MCP_FAULT_NOT_JSON);
        else
                assert_int_equal(kind, MCP_FAULT_INVALID);
        fx->faults[fx->nfaults++] = xstrdup(why);
        if (fx->free_on_fault)
                fx->c = mcp_client_free(fx->c);
}

const mcp_client_ops ops = {
        .send = fx_send,
        .on_notification = fx_notification,
        .on_fault = fx_fault,
};

/* Replies live on test stack frames; when a failed assertion leaves a test
 * early, teardown's free must not call back into them. */
bool tearing_down;

void on_reply(void *ud, const cJSON *result, const cJSON *error)
{
        if (tearing_down)
                return;
        reply *r = ud;
        fixture *fx = r->fx;

        assert_true((result == NULL) != (error == NULL));
        r->calls++;
        r->order = ++fx->completions;
        r->completed_at = uv_now(&fx->loop);
        r->sent_at_completion = (size_t)cJSON_GetArraySize(fx->sent);
        cJSON_Delete(r->result);
        cJSON_Delete(r->error);
        r->result = result ? json_dup(result) : NULL;
        r->error = error ? json_dup(error) : NULL;
        if (r->cancel_handle)
                mcp_client_cancel(fx->c, r->cancel_handle, "no longer needed");
        if (r->issue_request) {
                /* Once: a request on a closed session completes at once,
                 * which would come straight back here. */
                r->issue_request = false;
                r->issued_handle = mcp_client_request(fx->c, "ping", NULL, 0, NULL, on_reply, r);
        }
        if (r->free_client)
                fx->c = mcp_client_free(fx->c);
}

void on_progress(void *ud, const cJSON *params)
{
        reply *r = ud;
        r->progress_calls++;
        cJSON_Delete(r->last_progress);
        r->last_progress = json_dup(params);
}

void reply_done(reply *r)
{
        cJSON_Delete(r->result);
        cJSON_Delete(r->error);
        cJSON_Delete(r->last_progress);
}

int setup(void **state)
{
        fixture *fx = xcalloc(1, sizeof(*fx));
        assert_int_equal(uv_loop_init(&fx->loop), 0);
        fx->sent = cJSON_CreateArray();
        fx->notes = cJSON_CreateArray();
        fx->c = mcp_client_new(&fx->loop, &ops, fx, 0);
        *state = fx;
        return 0;
}

int teardown(void **state)
{
        fixture *fx = *state;
        tearing_down = true;
        fx->c = mcp_client_free(fx->c);
        tearing_down = false;
        /* Closes the session's timer; a leaked handle makes uv_loop_close fail. */
        uv_run(&fx->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&fx->loop), 0);
        cJSON_Delete(fx->sent);
        cJSON_Delete(fx->notes);
        for (size_t i = 0; i < fx->nfaults; i++)
                free(fx->faults[i]);
        free(fx);
        return 0;
}

void feed(fixture *fx, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) >= 0);
        va_end(ap);
        size_t n = strlen(s);
        s = xrealloc(s, n + 2);
        s[n] = '\n';
        s[n + 1] = '\0';
        mcp_client_feed(fx->c, s, n + 1);
}

size_t nsent(fixture *fx)
{
        return (size_t)cJSON_GetArraySize(fx->sent);
}
const cJSON *sent(fixture *fx, size_t i)
{
        const cJSON *m = cJSON_GetArrayItem(fx->sent, (int)i);
        assert_non_null(m);
        return m;
}

int error_code(const reply *r)
{
        assert_non_null(r->error);
        return (int)json_get_number(r->error, "code", 0);
}
const char *error_message(const reply *r)
{
        assert_non_null(r->error);
        const char *m = json_get_string(r->error, "message");
        assert_non_null(m);
        return m;
}

const cJSON *find_sent(fixture *fx, const char *method, size_t nth)
{
        const cJSON *m;
        cJSON_ArrayForEach(m, fx->sent)
        {
                const char *s = json_get_string(m, "method");
                if (s && strcmp(s, method) == 0 && nth-- == 0)
                        return m;
        }
        return NULL;
}
