/* The daemon's hot reload (issue 16): inotify watches, through libuv's
 * uv_fs_event, on corral.json's directory, the store's servers/ directory
 * and each servers/NAME/ (a manifest rewritten by rename), debounced into
 * one call of the owner's change function. */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "corral/paths.h"

#define WATCH_DEBOUNCE_MS 200
#define WATCH_MAX_SERVERS 1024 /* servers/NAME/ watches; beyond, only servers/ */

typedef struct daemon_watch daemon_watch;

/* Called on the loop WATCH_DEBOUNCE_MS after the last event of a burst:
 * config when corral.json (or its directory entry) changed, store when
 * anything under servers/ did. */
typedef void (*daemon_watch_fn)(void *ud, bool config, bool store);

/* Starts the watches (a directory that cannot be watched is logged and
 * left out: the daemon works without hot reload, as before).  Owned;
 * paths borrowed for the watcher's life. */
daemon_watch *daemon_watch_new(uv_loop_t *loop, const corral_paths *p, daemon_watch_fn fn,
                               void *ud);
/* Watches exactly servers/NAME/ for each of names (NULL-terminated). */
void daemon_watch_servers(daemon_watch *w, char *const *names);
/* Runs fn again after delay_ms (a config read that found a half-written
 * file tries once more). */
void daemon_watch_again(daemon_watch *w, bool config, unsigned delay_ms);
/* Closes every handle (freed by the loop's close callbacks); NULL. */
daemon_watch *daemon_watch_free(daemon_watch *w);
