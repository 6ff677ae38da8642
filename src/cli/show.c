/* How the CLI shows a server to people (install's confirmation, info,
 * list): command lines, the sandbox policy, env keys, mounts. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/config.h"
#include "corral/docker.h"
#include "corral/jsonutil.h"
#include "corral/oauth_client.h"
#include "corral/resolver.h"
#include "corral/runtime.h"
#include "corral/strbuf.h"
#include "corral/users.h"


/* Command lines for people: words joined by spaces, quoted when needed. */
char *cli_shell_join(char *const *argv)
{
        strbuf b = STRBUF_INIT(0);
        for (size_t i = 0; argv && argv[i]; i++) {
                const char *a = argv[i];
                bool plain = a[0] != '\0';
                for (const char *p = a; *p && plain; p++)
                        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789@%+=:,./_-",
                                       *p) != NULL;
                if (i)
                        (void)strbuf_append(&b, " ", 1);
                if (plain) {
                        (void)strbuf_append(&b, a, strlen(a));
                        continue;
                }
                (void)strbuf_append(&b, "'", 1);
                for (const char *p = a; *p; p++) {
                        if (*p == '\'')
                                (void)strbuf_append(&b, "'\\''", 4);
                        else
                                (void)strbuf_append(&b, p, 1);
                }
                (void)strbuf_append(&b, "'", 1);
        }
        return strbuf_steal(&b);
}

bool cli_confined(const manifest *m)
{
        const runtime_backend *be = runtime_backend_find(m->backend);
        return be && be->confines && strcmp(m->profile, "none") != 0;
}

/* The SANDBOX column: the policy when a backend enforces it, else the truth. */
const char *cli_sandbox_label(const manifest *m)
{
        return cli_confined(m) ? m->profile : "unconfined";
}

void cli_print_sandbox_line(FILE *f, const char *label, const manifest *m)
{
        if (strcmp(m->profile, "none") == 0)
                fprintf(f, "%-10s none (the server runs unconfined)\n", label);
        else
                fprintf(f, "%-10s %s (memory %u MiB, %u pids, %g cpus)%s\n", label,
                        m->profile, m->memory_mb, m->pids, m->cpus,
                        cli_confined(m) ? ""
                                    : "; recorded, not enforced: the native backend does not "
                                      "confine servers yet");
}

/* The source and what it resolved to, as install's prompt and info show it. */
void cli_print_source_lines(FILE *f, const manifest *m)
{
        fprintf(f, "%-10s %s (%s)\n", "source:", m->spec, m->kind);
        if (m->resolved_url)
                fprintf(f, "%-10s %s\n", "from:", m->resolved_url);
        fprintf(f, "%-10s %s\n", "version:", m->resolved_version ? m->resolved_version : "-");
        if (m->resolved_integrity)
                fprintf(f, "%-10s %s\n", "integrity:", m->resolved_integrity);
}

void cli_print_env_keys(FILE *f, const char *label, const manifest *m)
{
        if (m->n_env == 0)
                return;
        fprintf(f, "%-10s ", label);
        for (size_t i = 0; i < m->n_env; i++)
                fprintf(f, "%s%s", i ? ", " : "", m->env[i].key);
        fprintf(f, " (values not shown)\n");
}

/* The host paths the server will see: its mounts, and the command's
 * arguments naming existing host paths, which are bound read-only. */
/* The absolute paths among a native server's command arguments that exist
 * on the host and have no mount of their own: the sandbox binds them
 * read-only.  Owned, NULL-terminated; NULL when there are none. */
char **cli_command_paths(const manifest *m)
{
        char **paths = NULL;

        if (strcmp(m->backend, "native") != 0)
                return NULL;
        for (size_t i = 1; m->command && m->command[i]; i++) {
                const char *a = m->command[i];
                bool listed = false;
                struct stat st;

                if (a[0] != '/' || stat(a, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
                        continue;
                for (size_t k = 0; m->mounts && m->mounts[k]; k++)
                        listed |= strncmp(m->mounts[k], a, strlen(a)) == 0 &&
                                  m->mounts[k][strlen(a)] == ':';
                if (!listed)
                        paths = strv_push(paths, a);
        }
        return paths;
}

void cli_print_run_as(FILE *f, const manifest *m)
{
        if (m->run_uid)
                fprintf(f, "%-10s uid %u gid %u (the owner of its read-write mounts, which cannot "
                           "be idmapped; --run-as-owner)\n",
                        "runs as:", m->run_uid, m->run_gid);
}

void cli_print_mount_lines(FILE *f, const manifest *m)
{
        _cleanup_strv_ char **paths = cli_command_paths(m);
        bool first = true;

        for (size_t i = 0; m->mounts && m->mounts[i]; i++, first = false)
                fprintf(f, "%-10s %s%s\n", first ? "mounts:" : "", m->mounts[i],
                        cli_mount_is_rw(m->mounts[i])
                                ? " (writes belong to the directory's owner; never chowned)"
                                : "");
        for (size_t i = 0; paths && paths[i]; i++, first = false)
                fprintf(f, "%-10s %s:ro (from the command; --mount %s:rw lets the server write "
                           "there)\n",
                        first ? "mounts:" : "", paths[i], paths[i]);
}
