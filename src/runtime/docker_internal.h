/* Internals of the docker runtime backend (src/runtime/docker*.c): the
 * process state, the Engine API calls it makes on the loop, and its attach
 * stream.  Not a public contract. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <cJSON.h>

#include "corral/docker.h"
#include "corral/error.h"
#include "corral/http_client.h"
#include "corral/manifest.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"

#define DOCKER_STDIN_MAX (64u << 20) /* bytes queued for a server's stdin */
#define DOCKER_READ_BUF 65536
#define ATTACH_HEAD_MAX 16384u
#define CALL_TIMEOUT_MS 30000u
#define WAIT_TIMEOUT_MS 10000u
#define DIE_WAIT_MS 3000u  /* for the die event after the stream ended */
#define DIE_GRACE_MS 2000u /* for the stream to end after the die event */
#define PULL_TIMEOUT_MS 600000u
#define REPLY_MAX (16u << 20)

/* One libcurl multi client per loop, shared by every docker process and the
 * removals that outlive them; freed when nothing uses it. */
struct dk_engine {
        uv_loop_t *loop;
        http_client *http;
        unsigned users;
        runtime_process *procs;   /* with a container id, for the events */
        struct dk_events *events; /* the /events stream, or NULL */
};
extern struct dk_engine dk_engine;

/* The client on loop (created on first use), one more user; NULL when the
 * process already has one on another loop or libcurl fails. */
http_client *dk_engine_get(uv_loop_t *loop);
/* One user less; the client goes with the last. */
void dk_engine_put(void);

typedef enum step {
        S_VERSION,
        S_LIST,
        S_REMOVE_STALE,
        S_IMAGE,
        S_PULL,
        S_IMAGE_AGAIN,
        S_CREATE,
        S_ATTACH,
        S_START,
        S_INSPECT,
        S_RUNNING,
        S_DIE_WAIT, /* the stream ended; the engine's die event is due */
        S_WAIT,
        S_PING,
        S_OOM,
        S_ENDED,
} step;

struct runtime_process {
        uv_loop_t *loop;
        char *socket; /* the engine's unix socket */
        char *api;    /* negotiated API version */
        bool podman;
        char *id;
        char *name;  /* server name, for messages */
        manifest *m; /* a copy, for the steps after start() */
        char *image;
        char *user;       /* the image's own User, or NULL */
        char *run_dir;    /* paths->run */
        char *root_label; /* paths->servers */
        char **stale;     /* containers of an earlier run left to remove */
        size_t stale_i;
        step step;
        http_request *req; /* the call in flight */
        runtime_callbacks cb;
        void *ud;
        uv_pipe_t *sock;         /* the attach connection; NULL once closed */
        uv_connect_t *connect;   /* attach connect in flight */
        uv_shutdown_t *shutdown; /* stdin half-close in flight */
        uv_timer_t *timer;       /* delivers on_exit */
        unsigned open_handles;   /* struct freed when 0 after free() */
        strbuf head;             /* attach response head */
        bool attached;           /* the upgrade is done; the stream is the container's */
        strbuf pending;          /* stdin written before the attach */
        bool close_pending;      /* close_stdin() before the attach */
        int kill_pending;        /* signal asked for before the start */
        docker_demux dm;
        int pid;
        unsigned memory_mb;
        bool write_closed;
        bool exited;
        bool exit_called;
        bool freed;
        bool engine_lost;  /* the engine went away or failed us */
        const char *body;  /* during a reply callback: the raw body */
        char *auth;        /* X-Registry-Auth header line of the next call, or NULL */
        char *exit_reason; /* set when known better than the status */
        int exit_status;
        int term_signal;
        size_t queued;
        runtime_process *next_proc; /* in dk_engine.procs */
        bool listed;                /* in dk_engine.procs */
        bool oom_event;             /* the engine said oom */
        unsigned oom_events;        /* how many times (the kernel's OOM kills it relayed) */
        bool oom_killed;            /* the engine's State.OOMKilled at the end */
        bool die_event;             /* the engine said die */
        int die_code;               /* its exit code, -1 when it gave none */
        char buf[DOCKER_READ_BUF];
};

struct dk_call;

/* The answer to a call: json parsed when asked for (NULL on error), err
 * set when the engine could not be reached, timed out, or said 4xx/5xx. */
typedef void (*reply_fn)(runtime_process *p, long status, cJSON *json, const corral_error *err);

/* Frees p once it was freed by the supervisor and no handle or call of it
 * is left. */
void dk_maybe_release(runtime_process *p);
/* Closes one of p's libuv handles (NULL or closing: nothing). */
void dk_close_handle(uv_handle_t *h);
/* The process is over (setup failed, or the container stopped) with the
 * container's status: on_exit on the next loop turn. */
void dk_finish(runtime_process *p, int status);
/* Setup failed: exit_reason says why, service_lost whether the engine is to
 * blame (unreachable, 5xx, timeout). */
void dk_fail(runtime_process *p, const corral_error *err);

/* Starts METHOD /vAPI/PATH (path already escaped; unversioned when api is
 * NULL) on http; p NULL: detached (nobody gets the answer).  0 or < 0. */
int dk_engine_call(runtime_process *p, http_client *http, const char *sock, const char *api,
                   const char *method, const char *path, const char *body, unsigned timeout_ms,
                   bool json, reply_fn fn, http_request **ret, struct dk_call **ret_call);
/* The call of p's current step (p->req); fn gets the answer on a later
 * loop turn.  A call that cannot start fails the process. */
void dk_call_step(runtime_process *p, const char *method, const char *path, const char *body,
                  unsigned timeout_ms, bool json, bool allow_404, reply_fn fn);
/* A call nobody waits for (kill, remove), which may outlive p. */
int dk_call_detached(runtime_process *p, const char *method, const char *path);
/* A call of no process on the engine at sock (api NULL: unversioned); fn
 * (may be NULL) gets the parsed answer or the error.  0 or -1. */
typedef void (*dk_detached_fn)(void *ud, cJSON *json, const corral_error *err);
int dk_call_owned_by_none(const char *sock, const char *api, const char *method, const char *path,
                          dk_detached_fn fn, void *ud);
/* This daemon run's id: the value of DOCKER_LABEL_RUN on its containers. */
const char *dk_run_id(void);
/* DELETE /containers/ID?force=1&v=1, detached. */
void dk_remove_detached(runtime_process *p, const char *id);

/* The engine's /events stream (docker_events.c), filtered by the store's
 * label: "oom" and "die" of our containers reach their processes without
 * polling.  Started with the first process, it reconnects after an end
 * (backoff 1 s doubling to 30 s) and goes with the engine client. */
void dk_events_ensure(const char *sock, const char *root_label);
/* Whether the stream is up (a request in flight). */
bool dk_events_live(void);
/* Cancels it (the client is going). */
void dk_events_stop(void);
/* p has a container id: events for it reach p (dk_proc_event); and no
 * longer. */
void dk_procs_add(runtime_process *p);
void dk_procs_remove(runtime_process *p);
/* In docker.c: the engine reported die (code, -1 unknown) or oom for p. */
void dk_proc_event(runtime_process *p, bool die, int code);
/* In docker.c: the events stream ended; processes waiting for a die event
 * fall back to asking the engine. */
void dk_events_lost(void);

/* Connects to the engine's socket and upgrades POST /containers/ID/attach
 * (p->id) on the loop; dk_attached() follows, or the process fails. */
void dk_attach_connect(runtime_process *p);
/* demux output of p's attach stream: stdout to on_stdout, stderr to
 * on_stderr. */
void dk_on_frame(void *ud, unsigned stream, const char *data, size_t n);
/* uvwrite completion for p's attach socket. */
void dk_on_written(void *owner, int status);
/* Half-closes the attach socket: the container's stdin ends (StdinOnce). */
void dk_shutdown_stdin(runtime_process *p);
/* In docker.c: the upgrade is done (rest: stream bytes that came with the
 * response head); and: the stream ended (the container stopped or the
 * engine went away). */
void dk_attached(runtime_process *p, const char *rest, size_t n);
void dk_stream_ended(runtime_process *p);
