/* An entry's command → a source spec (importer.h): npx, docker run, node and
 * python scripts; uvx/pipx are listed as not installable. */
#include <string.h>
#include <sys/stat.h>

#include "corral/fs.h"
#include "corral/spec.h"
#include "internal.h"

#define SCRIPT_WALK_MAX 8 /* directories walked up from a script to its project */

/* Characters that mean a shell was expected to read the command. */
static bool has_shell_syntax(const char *s)
{
        return strpbrk(s, " \t\n;&|<>`$()\\'\"*?[]{}~!#") != NULL;
}

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static bool is_one_of(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

/* npx [-y|--yes|-q|--quiet]… PKG[@V] ARGS */
static void map_npx(import_entry *e, char *const *args)
{
        size_t i = 0;
        _cleanup_(spec_done) source_spec spec = {0};
        corral_error err = {0};

        for (; args && args[i] && args[i][0] == '-'; i++) {
                const char *a = args[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "-y") == 0 || strcmp(a, "--yes") == 0 || strcmp(a, "-q") == 0 ||
                    strcmp(a, "--quiet") == 0 || strcmp(a, "--silent") == 0 ||
                    strcmp(a, "--prefer-online") == 0 || strcmp(a, "--prefer-offline") == 0)
                        continue;
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "npx option '%.64s' is not one corral maps (it takes "
                                    "npx [-y] PKG[@VERSION] ARGS)",
                                    a);
                return;
        }
        if (!args || !args[i]) {
                (void)import_refuse(e, IMPORT_REFUSED, "npx names no package");
                return;
        }
        _cleanup_free_ char *s = xasprintf("npm:%s", args[i]);
        if (spec_parse(&spec, s, false, &err) < 0 || spec.kind != SPEC_NPM) {
                (void)import_refuse(e, IMPORT_REFUSED, "npx package '%.128s': %s", args[i],
                                    err.msg[0] ? err.msg : "not an npm package name");
                return;
        }
        free(e->spec);
        e->spec = steal_pointer(&s);
        free(e->kind);
        e->kind = xstrdup("npm");
        for (i++; args[i]; i++)
                push_escaped(&e->command, args[i]);
}

static bool dir_has(const char *dir, const char *const *files)
{
        for (; *files; files++) {
                _cleanup_free_ char *p = path_join(dir, *files);
                if (path_exists(p))
                        return true;
        }
        return false;
}

/* The project a script belongs to: the directory above the first
 * node_modules in its path, else the nearest of its ancestors holding one
 * of markers, else its own directory.  Owned. */
static char *script_project(const char *script, const char *const *markers)
{
        const char *nm = strstr(script, "/node_modules/");
        if (nm && nm > script)
                return xstrndup(script, (size_t)(nm - script));
        _cleanup_free_ char *dir = xstrdup(script);
        *strrchr(dir, '/') = '\0';
        if (!dir[0])
                return xstrdup("/");
        _cleanup_free_ char *cur = xstrdup(dir);
        for (int n = 0; n < SCRIPT_WALK_MAX && cur[0]; n++) {
                if (dir_has(cur, markers))
                        return steal_pointer(&cur);
                char *slash = strrchr(cur, '/');
                if (!slash || slash == cur)
                        break;
                *slash = '\0';
        }
        return steal_pointer(&dir);
}

/* node|python3 … /path/script ARGS → the script's project as a local
 * install that runs CMD relative/script ARGS. */
static void map_script(import_entry *e, const char *command, char *const *args,
                       const char *base_dir, bool python)
{
        static const char *const node_markers[] = {"package.json", NULL};
        static const char *const py_markers[] = {"pyproject.toml", "setup.py", "requirements.txt",
                                                 NULL};
        _cleanup_free_ char *script = NULL, *real = NULL, *project = NULL;
        const char *home = getenv("HOME");
        struct stat st;

        if (!args || !args[0] || args[0][0] == '-') {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "'%s %.64s…' runs no script file: corral imports '%s "
                                    "/path/to/script ARGS'",
                                    command, args && args[0] ? args[0] : "", command);
                return;
        }
        script = args[0][0] == '/' ? xstrdup(args[0])
                                   : path_join(base_dir ? base_dir : ".", args[0]);
        real = path_absolute(script);
        if (!real || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
                (void)import_refuse(e, IMPORT_REFUSED, "script %.256s: not a file on this host",
                                    script);
                return;
        }
        project = script_project(real, python ? py_markers : node_markers);
        if (strcmp(project, "/") == 0 || (home && strcmp(project, home) == 0)) {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "script %.256s: its project would be %s, which is not "
                                    "copied whole; put the server in a directory of its own",
                                    real, project);
                return;
        }
        free(e->spec);
        e->spec = xstrdup(project);
        free(e->kind);
        e->kind = xstrdup("local");
        e->command = strv_push(e->command, command);
        push_escaped(&e->command, real + strlen(project) + 1);
        for (size_t i = 1; args[i]; i++)
                push_escaped(&e->command, args[i]);
        import_note(e, "copies %s (the script's project) into the store", project);
        if (python)
                import_note(e, "python modules outside that directory are not copied (no PyPI "
                               "installs yet)");
}

void import_command(import_entry *e, const char *command, char *const *args,
                    const char *base_dir, import_env_fn env_lookup, void *ud)
{
        static const char *const node[] = {"node", "nodejs", NULL};
        static const char *const python[] = {"python", "python3", NULL};
        static const char *const pypi[] = {"uvx", "uv", "pipx", "pip", "pip3", NULL};
        const char *base = base_name(command);

        if (!command[0] || has_shell_syntax(command)) {
                (void)import_refuse(e, IMPORT_REFUSED,
                                    "command '%.128s' is shell syntax: corral runs programs "
                                    "without a shell (give the program in \"command\" and each "
                                    "argument in \"args\")",
                                    command);
                return;
        }
        if (strcmp(base, "npx") == 0)
                map_npx(e, args);
        else if (strcmp(base, "docker") == 0 || strcmp(base, "podman") == 0)
                import_docker_run(e, args, env_lookup, ud);
        else if (is_one_of(base, node))
                map_script(e, command, args, base_dir, false);
        else if (strncmp(base, "python3.", 8) == 0 || is_one_of(base, python))
                map_script(e, command, args, base_dir, true);
        else if (is_one_of(base, pypi))
                (void)import_refuse(e, IMPORT_SKIP,
                                    "%s runs a PyPI package: not installable yet (no PyPI "
                                    "registry is reachable from corral's hosts)",
                                    base);
        else
                (void)import_refuse(e, IMPORT_SKIP,
                                    "command '%.128s' is not one corral maps yet (npx, docker "
                                    "run, node or python3 with a script, or a url)",
                                    command);
}
