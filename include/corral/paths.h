/* Where corral keeps things: the system, user and --root layouts of DESIGN.md
 * ("Paths").  Every other module gets its directories from here. */
#pragma once

#include <stdbool.h>

#include "corral/error.h"

typedef enum { PATHS_SYSTEM, PATHS_USER, PATHS_ROOT } paths_mode;

typedef struct corral_paths {
        paths_mode mode;
        char *config;       /* corral.json (may not exist) */
        char *servers;      /* installed servers: servers/NAME/{manifest.json,pkg/} */
        char *data;         /* writable per-server data: data/NAME/ */
        char *staging;      /* install staging; leftovers removed at next start */
        char *cache;        /* download cache */
        char *log;          /* per-server logs: log/NAME.log */
        char *run;          /* sockets and the daemon lock */
        char *control_sock; /* run/control.sock */
        char *gateway_sock; /* run/mcp.sock */
} corral_paths;

/* Fills p for, in order of precedence: root (the --root option, may be NULL),
 * the store paths_choose_store() chose, $CORRAL_ROOT, system paths when euid
 * is 0 or the system daemon's control socket (/run/corral/control.sock) is
 * one the caller may connect to (a member of its group, on a machine where
 * it runs or is socket-activated), else the XDG user paths ($XDG_*_HOME with
 * the usual fallbacks under $HOME; sockets under $XDG_RUNTIME_DIR/corral or,
 * without it, the state dir's run/).  root is made absolute.  Returns 0, or
 * -EX_CONFIG (no HOME, bad root). */
int paths_init(corral_paths *p, const char *root, corral_error *err);

/* The global option --store system|user: every later paths_init() without a
 * root gives that layout, whatever $CORRAL_ROOT, the euid or the system
 * socket say.  Process-wide; called once by main() before any verb runs. */
void paths_choose_store(paths_mode mode);

/* Whether control_sock is a unix socket the caller may connect(2) to (write
 * permission on it, by access(2)). */
bool paths_system_daemon_reachable(const char *control_sock);

/* Fills p for an explicit mode, whatever the euid: PATHS_SYSTEM, PATHS_USER
 * (from $HOME/$XDG_* as above) or PATHS_ROOT (root required).  $CORRAL_ROOT
 * is not consulted.  paths_init is this with the mode its precedence picks.
 * Returns 0, or -EX_CONFIG (no HOME, bad root, unknown mode). */
int paths_init_mode(corral_paths *p, paths_mode mode, const char *root, corral_error *err);

/* Creates every directory (0755; run/ 0700 in user mode).  0 or -EX_CANTCREAT. */
int paths_ensure(const corral_paths *p, corral_error *err);

/* Owned path strings for one server: servers/NAME, servers/NAME/manifest.json,
 * servers/NAME/pkg, data/NAME, log/NAME.log. */
char *paths_server_dir(const corral_paths *p, const char *name);
char *paths_manifest(const corral_paths *p, const char *name);
char *paths_pkg_dir(const corral_paths *p, const char *name);
char *paths_data_dir(const corral_paths *p, const char *name);
char *paths_log_file(const corral_paths *p, const char *name);

void paths_done(corral_paths *p);
