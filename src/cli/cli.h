/* The CLI's internal contract: one function per verb, dispatched by main.c. */
#pragma once

#include "corral/level.h"

#include <stdbool.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/store.h"

/* The exit code of a question answered "no" (not a sysexits code: nothing
 * failed, the user declined). */
#define CLI_EXIT_DECLINED 1

typedef struct cli_ctx {
        const char *verb;
        const char *root; /* --root DIR or NULL */
        bool json;        /* --json */
        bool yes;         /* --yes */
        bool quiet;       /* --quiet: no confirmation line */
        /* --as-user USER: act for USER (issue 15; the daemon passes it when a
         * user's request comes through the control socket).  NULL: the
         * invoking user, who is restricted the same way when the store is
         * not theirs to write (a system store opened by a non-root user). */
        const char *as_user;
} cli_ctx;

/* Every verb returns a sysexits code (0 on success) and prints its own
 * one-line error with cli_fail().  argv[0] is the verb; options may appear
 * anywhere before "--" (getopt_long with optind reset). */
typedef int (*cli_verb_fn)(cli_ctx *ctx, int argc, char **argv);

int cli_install(cli_ctx *ctx, int argc, char **argv);
int cli_uninstall(cli_ctx *ctx, int argc, char **argv);
int cli_list(cli_ctx *ctx, int argc, char **argv);
int cli_update(cli_ctx *ctx, int argc, char **argv);
/* The inputs `corral update` was given (--set KEY=VALUE, --config FILE):
 * they come before the values the install was given. */
typedef struct cli_update_inputs {
        char **sets;
        const char *config_file;
} cli_update_inputs;
/* `corral update` of a registry: install (src/cli/update_registry.c):
 * VERSION (or NULL: the latest) of the server from the registry m records. */
int cli_update_registry(cli_ctx *ctx, store *s, const manifest *m, const char *version,
                        const cli_update_inputs *in, bool dry_run);
/* `corral update` of an mcpb: or smithery: install: fetched again, and
 * installed again when what it gives changed (src/cli/update_registry.c). */
int cli_update_bundle(cli_ctx *ctx, store *s, const manifest *m, const cli_update_inputs *in,
                      bool dry_run);
/* For `corral outdated`: the installed and the fresh version (or digest) of
 * an mcpb: or smithery: install (all owned). */
int cli_bundle_available(store *s, const manifest *m, char **ret_current, char **ret_fresh,
                         corral_error *err);
/* `corral outdated` (src/cli/outdated.c): servers whose source has newer. */
int cli_outdated(cli_ctx *ctx, int argc, char **argv);
int cli_info(cli_ctx *ctx, int argc, char **argv);
int cli_enable(cli_ctx *ctx, int argc, char **argv);
int cli_disable(cli_ctx *ctx, int argc, char **argv);
int cli_start(cli_ctx *ctx, int argc, char **argv);
int cli_stop(cli_ctx *ctx, int argc, char **argv);
int cli_restart(cli_ctx *ctx, int argc, char **argv);
int cli_status(cli_ctx *ctx, int argc, char **argv);
int cli_tools(cli_ctx *ctx, int argc, char **argv);
int cli_call(cli_ctx *ctx, int argc, char **argv);
int cli_logs(cli_ctx *ctx, int argc, char **argv);
int cli_reload(cli_ctx *ctx, int argc, char **argv);
int cli_daemon(cli_ctx *ctx, int argc, char **argv);
int cli_serve(cli_ctx *ctx, int argc, char **argv);
/* `corral token create|list|revoke` (src/cli/token.c). */
int cli_token(cli_ctx *ctx, int argc, char **argv);
/* `corral auth start|complete|status|set-token|logout` (src/cli/auth.c). */
int cli_auth(cli_ctx *ctx, int argc, char **argv);
/* `corral probe URL|NAME` (src/cli/probe.c): an MCP client for debugging. */
int cli_probe(cli_ctx *ctx, int argc, char **argv);
/* Reads one line (a secret: never argv) from stdin into *ret (owned);
 * -EX_USAGE naming what when there is none (src/cli/probe.c). */
int cli_read_secret_line(const char *what, char **ret, corral_error *err);
/* `corral reset NAME` (src/cli/reset.c): discards the server's code overlay. */
int cli_reset(cli_ctx *ctx, int argc, char **argv);
int cli_access(cli_ctx *ctx, int argc, char **argv);
/* `corral search TEXT` (src/cli/search.c): the configured MCP registries. */
int cli_search(cli_ctx *ctx, int argc, char **argv);
/* `corral audit` and `corral metrics` (src/cli/audit.c, issue 15). */
int cli_audit(cli_ctx *ctx, int argc, char **argv);
int cli_metrics(cli_ctx *ctx, int argc, char **argv);
/* `corral limit set|list|clear` (src/cli/limit.c, issue 15): rate limits. */
int cli_limit(cli_ctx *ctx, int argc, char **argv);
/* `corral import FILE|-|--from CLIENT` (src/cli/import.c): a client's MCP
 * config (Claude Desktop, VS Code, Cursor, Claude Code) becomes installs. */
int cli_import(cli_ctx *ctx, int argc, char **argv);
/* `corral export --format F [--per-server] [--http URL]` (src/cli/export.c):
 * a client config pointing at corral, on stdout; never secrets. */
int cli_export(cli_ctx *ctx, int argc, char **argv);
/* `corral config get|set|edit|validate` (src/cli/config_verbs.c): corral.json. */
int cli_config(cli_ctx *ctx, int argc, char **argv);
/* `corral cache info|clean [--all]` (src/cli/cache.c): the download cache. */
int cli_cache(cli_ctx *ctx, int argc, char **argv);
/* Sets the level a caller needs for server name (tool NULL) or one of its
 * tools, under the store lock.  0, or store_load()'s errors. */
int cli_set_access(store *s, const char *name, const char *tool, corral_level level,
                   corral_error *err);
/* `corral run NAME` (src/cli/run.c): execs corral-sandbox for one installed
 * native server on the caller's stdio; returns only on failure. */
int cli_run(cli_ctx *ctx, int argc, char **argv);

/* `corral mount NAME add|remove|list` (src/cli/mount.c). */
int cli_mount(cli_ctx *ctx, int argc, char **argv);
/* "HOST[:TARGET][:ro|rw]" → *ret (owned) "REALHOST[:TARGET]:ro|rw", HOST
 * resolved (realpath).  0, -EX_NOINPUT (HOST missing) or -EX_USAGE. */
int cli_mount_normalize(const char *spec, char **ret, corral_error *err);
/* Whether a normalized mount entry is read-write. */
bool cli_mount_is_rw(const char *mount);
/* For a read-write entry when running as root: whether the host path can
 * be idmapped (sandbox_idmap_tree); 0, or -EX_UNAVAILABLE with the
 * fallback (--run-as-owner) in the message.  run_uid: the server's
 * sandbox.run_as uid (0 = none); a path that uid owns needs no idmap. */
int cli_mount_check_idmap(const char *mount, unsigned run_uid, corral_error *err);
/* install --run-as-owner: the one owner (uid, gid) of every read-write
 * entry of mounts.  -EX_USAGE when there is no read-write entry, they have
 * different owners, the owner is root, or the caller is not root;
 * -EX_NOINPUT when a path is missing. */
int cli_mount_owner(char *const *mounts, unsigned *ret_uid, unsigned *ret_gid, corral_error *err);
/* Absolute-path arguments of a server's command (not for docker: specs)
 * must exist on the host.  0 or -EX_NOINPUT naming the first missing one. */
int cli_check_path_args(const char *spec, char *const *command, corral_error *err);

/* Prints "corral: VERB: <msg>" on stderr and returns code (a sysexits code). */
int cli_fail(const cli_ctx *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints err the same way and returns err->code (EX_SOFTWARE when unset). */
int cli_fail_error(const cli_ctx *ctx, const corral_error *err);
/* Opens the store for ctx->root; on failure prints the error and returns NULL
 * with *ret_code set. */
store *cli_open_store(const cli_ctx *ctx, int *ret_code);
/* The user ctx acts for on the store at p: ctx->as_user, else, when the caller is
 * not root and cannot write p's servers dir, the caller's own user name (a
 * static buffer), else NULL (unrestricted).  cli_open_store() puts it in
 * s->as_user. */
const char *cli_acting_user(const cli_ctx *ctx, const corral_paths *p);
/* Issue 15, src/cli/forward.c: whether verb should go to the daemon of
 * ctx's store as a request (the caller is not root, cannot write the store,
 * and its control socket exists), and doing it: the daemon runs the verb
 * for the caller's user and the output and exit code are passed through.
 * argv is the verb's (argv[0] the verb). */
bool cli_should_forward(const cli_ctx *ctx, const char *verb);
int cli_forward(cli_ctx *ctx, int argc, char **argv);
/* Whether ctx's store is someone else's (a system store a non-root user
 * cannot write) and its daemon's control socket is there: its changes go
 * through corral/exec. */
bool cli_store_needs_daemon(const cli_ctx *ctx);
/* cli_forward() with input (may be NULL) as the child's stdin (at most 64
 * KiB: a token, a secret) and, when ret_stdout is set, its stdout returned
 * (owned) instead of printed.  Returns the child's exit code. */
int cli_forward_with(cli_ctx *ctx, int argc, char **argv, const char *input, char **ret_stdout);
/* Issue 15, src/cli/state_route.c: who writes p's state database for this
 * verb.  CLI_STATE_DAEMON: a daemon runs (its lock is held and its control
 * socket answers): ask it.  CLI_STATE_DIRECT: write it here; *ret_lock is
 * then the daemon's lock held (close it when done; -1 when it could not be
 * taken, or this process is the daemon's own child, which writes for it). */
enum { CLI_STATE_DIRECT = 0, CLI_STATE_DAEMON = 1 };
int cli_state_writer(const cli_ctx *ctx, const corral_paths *p, int *ret_lock);
/* Deletes every user's OAuth state of server name (uninstall): through the
 * daemon when one runs (corral/oauth_forget), else here.  A failure is a
 * warning on stderr, never the verb's error. */
void cli_state_forget_oauth(const cli_ctx *ctx, const corral_paths *p, const char *name);
/* Prints the usage text of ctx->verb on stdout (for VERB --help); returns 0. */
int cli_usage(const cli_ctx *ctx);
/* Prints a JSON value (pretty) on stdout. */
void cli_print_json(const cJSON *j);
/* Prints "corral: VERB: <what> (try 'corral VERB --help')" on stderr (usage
 * errors are one line, like every error); returns EX_USAGE. */
int cli_usage_error(const cli_ctx *ctx, const char *what);
/* The usage error for getopt's return c ('?' unknown option, ':' missing
 * value), naming the option from argv[optind - 1]; returns EX_USAGE. */
int cli_bad_option(const cli_ctx *ctx, int c, char **argv);
/* The one operand NAME after the options: 0 with *ret_name set, or the usage
 * error ("missing server name", "too many arguments") and EX_USAGE. */
int cli_name_operand(const cli_ctx *ctx, int argc, char **argv, const char **ret_name);
/* After a change to the store: asks a running daemon to reload (5 s timeout).
 * No daemon running is normal and silent; any other failure is a warning on
 * stderr, never an error of the verb. */
void cli_notify_daemon(const cli_ctx *ctx);

/* Cleanup attributes for the verbs' store and manifest pointers. */
static inline void cli_store_freep(store **s)
{
        store_free(*s);
}
#define _cleanup_store_ _cleanup_(cli_store_freep)
static inline void cli_manifest_freep(manifest **m)
{
        manifest_free(*m);
}
#define _cleanup_manifest_ _cleanup_(cli_manifest_freep)

/* Control-socket client (src/cli/rpc.c): one blocking JSON-RPC 2.0 request to
 * the daemon of ctx->root's store.  params consumed.  timeout_ms 0 = none.
 * notifications/progress received meanwhile are printed to stderr on a TTY.
 * Returns 0 with *ret_result owned, or: -EX_UNAVAILABLE "the daemon is not
 * running (no control socket at PATH)"; a JSON-RPC error becomes -EX_NOINPUT
 * when data.exit is 66, -EX_DATAERR for -32602, else -EX_UNAVAILABLE, with the
 * server's message. */
int cli_rpc(const cli_ctx *ctx, const char *method, cJSON *params, unsigned timeout_ms,
            cJSON **ret_result, corral_error *err);
/* cli_rpc() that also hands every other notification received before the
 * answer to on_notify(ud, method, params) (params may be NULL).  on_notify
 * returning < 0 ends the call at once: 0 with *ret_result NULL (the
 * connection is closed, which tells the daemon). */
typedef int (*cli_rpc_notify_fn)(void *ud, const char *method, const cJSON *params);
int cli_rpc_stream(const cli_ctx *ctx, const char *method, cJSON *params, unsigned timeout_ms,
                   cli_rpc_notify_fn on_notify, void *ud, cJSON **ret_result, corral_error *err);

/* ---- show.c: a server as people read it (install's confirmation, info, list) */
#include <stdio.h>
/* Words joined by spaces, single-quoted where a shell would need it; owned. */
char *cli_shell_join(char *const *argv);
/* Whether m's backend enforces its sandbox policy (and it is not "none"). */
bool cli_confined(const manifest *m);
/* The SANDBOX column: the profile when enforced, else what is true. */
const char *cli_sandbox_label(const manifest *m);
void cli_print_sandbox_line(FILE *f, const char *label, const manifest *m);
/* "source:", "from:", "version:", "integrity:" lines. */
void cli_print_source_lines(FILE *f, const manifest *m);
/* The env keys, never the values. */
void cli_print_env_keys(FILE *f, const char *label, const manifest *m);
/* Absolute host paths among a native server's command arguments with no
 * mount of their own (bound read-only); owned strv or NULL. */
char **cli_command_paths(const manifest *m);
/* "runs as:" when sandbox.run_as is set. */
void cli_print_run_as(FILE *f, const manifest *m);
/* The mounts, and the command's host paths as the read-only binds they are. */
void cli_print_mount_lines(FILE *f, const manifest *m);
