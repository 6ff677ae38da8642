/* Live metrics of the daemon (issue 15) in the Prometheus text exposition
 * format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * tool calls per user, server, tool and outcome, their latency histograms,
 * and the units' states, restarts and OOM kills.  Served at /metrics on the
 * HTTP listener, to admins only (src/gateway/http.c).  In memory, since the
 * daemon started; the daily totals that outlive it are the state database's
 * (`corral metrics`).
 *
 *   corral_tool_calls_total{user,server,tool,outcome}       counter
 *   corral_tool_call_duration_seconds{user,server,tool}     histogram
 *       (calls forwarded to a server; "limited" ones never are)
 *   corral_unit_up{server,state}                            gauge, 1 for the state it is in
 *   corral_unit_restarts_total{server}                      counter (since its last start)
 *   corral_unit_oom_kills_total{server}                     counter
 *   corral_metrics_series_overflow_total                    counter
 * Anonymous callers are user="".  At most METRICS_MAX_SERIES label sets of
 * calls: the calls of later ones are counted under user, server and tool
 * "_other" (and in the overflow counter). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "corral/gateway.h"
#include "corral/supervisor.h"

#define METRICS_MAX_SERIES 10000
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct metrics metrics;

metrics *metrics_new(void);
metrics *metrics_free(metrics *m);
/* Counts one finished (or limited) tools/call (gateway_call_observer). */
void metrics_record(metrics *m, const gateway_call_record *rec);
/* The exposition text (owned): m's counters and sv's units (sv may be NULL). */
char *metrics_render(const metrics *m, supervisor *sv);
