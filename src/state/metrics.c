/* Live metrics in the Prometheus text format (include/corral/metrics.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/metrics.h"
#include "corral/strbuf.h"

/* Upper bounds (seconds) of the latency buckets; +Inf is implied. */
static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_BOUNDS ARRAY_SIZE(bounds)

static const char *const outcomes[] = {"ok", "tool_error", "error", "limited", "denied",
                                       "not_found"};
#define N_OUTCOMES ARRAY_SIZE(outcomes)

typedef struct series {
        char *user, *server, *tool;
        uint64_t calls[N_OUTCOMES];
        uint64_t buckets[N_BOUNDS + 1]; /* non-cumulative; the last is +Inf */
        uint64_t n_timed;
        double sum_s;
} series;

struct metrics {
        series *s;
        size_t n;
        uint64_t overflow;
};

metrics *metrics_new(void)
{
        return xcalloc(1, sizeof(metrics));
}

metrics *metrics_free(metrics *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++) {
                free(m->s[i].user);
                free(m->s[i].server);
                free(m->s[i].tool);
        }
        free(m->s);
        free(m);
        return NULL;
}

static series *find(metrics *m, const char *user, const char *server, const char *tool)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->s[i].user, user) == 0 && strcmp(m->s[i].server, server) == 0 &&
                    strcmp(m->s[i].tool, tool) == 0)
                        return &m->s[i];
        return NULL;
}

static series *add(metrics *m, const char *user, const char *server, const char *tool)
{
        series *s;

        m->s = xrealloc(m->s, (m->n + 1) * sizeof(*m->s));
        s = &m->s[m->n++];
        *s = (series){.user = xstrdup(user), .server = xstrdup(server), .tool = xstrdup(tool)};
        return s;
}

void metrics_record(metrics *m, const gateway_call_record *rec)
{
        const char *user = rec->user ? rec->user : "";
        const char *server = rec->server ? rec->server : "", *tool = rec->tool ? rec->tool : "";
        size_t o = 0;
        series *s;

        if (!m)
                return;
        while (o < N_OUTCOMES && strcmp(outcomes[o], rec->outcome) != 0)
                o++;
        if (o == N_OUTCOMES)
                o = 2; /* an outcome this file does not know is an error */
        s = find(m, user, server, tool);
        if (!s && m->n >= METRICS_MAX_SERIES) {
                m->overflow++;
                user = server = tool = "_other";
                s = find(m, user, server, tool);
        }
        if (!s)
                s = add(m, user, server, tool);
        s->calls[o]++;
        if (o < 3) { /* forwarded: ok, tool_error, error */
                double secs = rec->duration_ms > 0 ? (double)rec->duration_ms / 1000 : 0;
                size_t b = 0;
                while (b < N_BOUNDS && secs > bounds[b])
                        b++;
                s->buckets[b]++;
                s->n_timed++;
                s->sum_s += secs;
        }
}

/* A label value with \, " and newline escaped (the format's rules). */
static void label(strbuf *b, const char *name, const char *v, bool last)
{
        strbuf_appendf(b, "%s=\"", name);
        for (const char *p = v; *p; p++) {
                if (*p == '\\')
                        strbuf_append(b, "\\\\", 2);
                else if (*p == '"')
                        strbuf_append(b, "\\\"", 2);
                else if (*p == '\n')
                        strbuf_append(b, "\\n", 2);
                else
                        strbuf_append(b, p, 1);
        }
        strbuf_append(b, last ? "\"" : "\",", last ? 1 : 2);
}

static void call_labels(strbuf *b, const series *s, bool more)
{
        label(b, "user", s->user, false);
        label(b, "server", s->server, false);
        label(b, "tool", s->tool, !more);
}

char *metrics_render(const metrics *m, supervisor *sv)
{
        strbuf b = {0};
        unit *const *units = NULL;
        size_t n_units = sv ? supervisor_units(sv, &units) : 0;

        strbuf_appendf(&b, "# HELP corral_tool_calls_total Tool calls by user, server, tool and "
                           "outcome (ok, tool_error, error, limited, denied, not_found).\n"
                           "# TYPE corral_tool_calls_total counter\n");
        for (size_t i = 0; i < m->n; i++)
                for (size_t o = 0; o < N_OUTCOMES; o++) {
                        if (!m->s[i].calls[o])
                                continue;
                        strbuf_appendf(&b, "corral_tool_calls_total{");
                        call_labels(&b, &m->s[i], true);
                        strbuf_appendf(&b, "outcome=\"%s\"} %llu\n", outcomes[o],
                                       (unsigned long long)m->s[i].calls[o]);
                }
        strbuf_appendf(&b, "# HELP corral_tool_call_duration_seconds Latency of the tool calls "
                           "forwarded to a server.\n"
                           "# TYPE corral_tool_call_duration_seconds histogram\n");
        for (size_t i = 0; i < m->n; i++) {
                const series *s = &m->s[i];
                uint64_t cum = 0;
                if (!s->n_timed)
                        continue;
                for (size_t k = 0; k <= N_BOUNDS; k++) {
                        cum += s->buckets[k];
                        strbuf_appendf(&b, "corral_tool_call_duration_seconds_bucket{");
                        call_labels(&b, s, true);
                        if (k < N_BOUNDS)
                                strbuf_appendf(&b, "le=\"%g\"} %llu\n", bounds[k],
                                               (unsigned long long)cum);
                        else
                                strbuf_appendf(&b, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
                }
                strbuf_appendf(&b, "corral_tool_call_duration_seconds_sum{");
                call_labels(&b, s, false);
                strbuf_appendf(&b, "} %.6f\n", s->sum_s);
                strbuf_appendf(&b, "corral_tool_call_duration_seconds_count{");
                call_labels(&b, s, false);
                strbuf_appendf(&b, "} %llu\n", (unsigned long long)s->n_timed);
        }
        strbuf_appendf(&b, "# HELP corral_unit_up Each server's state: 1 for the one it is in.\n"
                           "# TYPE corral_unit_up gauge\n");
        for (size_t i = 0; i < n_units; i++)
                for (unit_state st = UNIT_STOPPED; st <= UNIT_PENDING_AUTH; st++) {
                        strbuf_appendf(&b, "corral_unit_up{");
                        label(&b, "server", unit_name(units[i]), false);
                        label(&b, "state", unit_state_name(st), true);
                        strbuf_appendf(&b, "} %d\n", unit_get_state(units[i]) == st);
                }
        strbuf_appendf(&b, "# HELP corral_unit_restarts_total Automatic restarts of each server "
                           "since it was last started.\n"
                           "# TYPE corral_unit_restarts_total counter\n");
        for (size_t i = 0; i < n_units; i++) {
                strbuf_appendf(&b, "corral_unit_restarts_total{");
                label(&b, "server", unit_name(units[i]), true);
                strbuf_appendf(&b, "} %u\n", unit_restarts(units[i]));
        }
        strbuf_appendf(&b, "# HELP corral_unit_oom_kills_total Times each server was killed by "
                           "the OOM killer.\n"
                           "# TYPE corral_unit_oom_kills_total counter\n");
        for (size_t i = 0; i < n_units; i++) {
                strbuf_appendf(&b, "corral_unit_oom_kills_total{");
                label(&b, "server", unit_name(units[i]), true);
                strbuf_appendf(&b, "} %u\n", unit_oom_kills(units[i]));
        }
        strbuf_appendf(&b, "# HELP corral_metrics_series_overflow_total Calls counted under "
                           "\"_other\" past %d label sets.\n"
                           "# TYPE corral_metrics_series_overflow_total counter\n"
                           "corral_metrics_series_overflow_total %llu\n",
                       METRICS_MAX_SERIES, (unsigned long long)m->overflow);
        return strbuf_steal(&b);
}
