/* The importer's modules: importer.c (documents, entries, values, names),
 * command.c (npx, node/python scripts, uvx), docker_run.c (docker run),
 * envfile.c (VS Code's envFile), mcp_remote.c (npx mcp-remote). */
#pragma once

#include <stdlib.h>

#include "corral/importer.h"

/* Appends a note to e (printf-style). */
void import_note(import_entry *e, const char *fmt, ...) _printf_(2, 3);
/* Marks e refused or skipped with the reason (printf-style); returns 0. */
int import_refuse(import_entry *e, import_action action, const char *fmt, ...) _printf_(3, 4);
/* s with every "$" doubled, so that the start-time ${…} expansion of a
 * manifest (expand.h) gives s back.  Owned. */
char *import_escape(const char *s);
/* Appends import_escape(s) to *v. */
static inline void push_escaped(char ***v, const char *s)
{
        char *e = import_escape(s);
        *v = strv_push(*v, e);
        free(e);
}
/* Makes e a remote server at take_url (taken) over transport ("http",
 * "sse"). */
void import_set_remote(import_entry *e, char *take_url, const char *transport);
/* Adds KEY=VALUE to e's env, or to its secret env when secret. */
void import_add_env(import_entry *e, const char *key, const char *value, bool secret);

/* `docker|podman run …` (args after the program) → e (docker:IMAGE).
 * env_lookup gives the values of `-e NAME` (the entry's env, then the
 * caller's environment).  Refuses e on a malformed command line. */
typedef const char *(*import_env_fn)(void *ud, const char *name, bool *ret_secret);
void import_docker_run(import_entry *e, char *const *args, import_env_fn env_lookup, void *ud);

/* Maps the entry's command (after ${…} expansion) and arguments: npx,
 * node/python scripts, uvx/pipx.  base_dir resolves relative script paths. */
void import_command(import_entry *e, const char *command, char *const *args,
                    const char *base_dir, import_env_fn env_lookup, void *ud);

/* VS Code's "envFile": dotenv text (len bytes) → add(ud, KEY, VALUE) for each
 * assignment, in order.  Lines: blank, "# comment", or [export ]NAME=VALUE,
 * NAME letters, digits and '_'; VALUE unquoted (to a blank followed by '#',
 * trailing blanks off), '…' (literal) or "…" (\n \t \r \\ \" escapes),
 * each on one line.  Nothing is expanded.  0, or the 1-based number of the
 * first bad line with *why saying what is wrong (static). */
#define IMPORT_ENVFILE_MAX_BYTES (64u * 1024)
typedef void (*import_dotenv_fn)(void *ud, const char *key, const char *value);
size_t import_dotenv(const char *text, size_t len, import_dotenv_fn add, void *ud,
                     const char **why);

/* Whether a header of that name carries a credential (Authorization,
 * Proxy-Authorization, or a secret-looking name). */
bool import_header_is_secret(const char *name);

/* Whether `command args` runs npx's mcp-remote proxy. */
bool import_runs_mcp_remote(const char *command, const cJSON *args);

/* npx mcp-remote's n resolved arguments (args[i] a secret when secret[i])
 * → e becomes the remote server it proxies: URL, --header (secret ones
 * apart), --transport; options corral does itself are dropped with a note,
 * others refuse e. */
void import_mcp_remote(import_entry *e, char *const *args, const bool *secret, size_t n);
