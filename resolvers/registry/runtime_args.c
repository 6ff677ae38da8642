/* A registry package's runtimeArguments (server.schema.json: "arguments
 * passed to the package's runtime command, such as docker or npx"), mapped
 * onto what corral runs: node's own options for npm packages (corral runs
 * the package's bin with node, not npx), the container's configuration for
 * oci packages (corral makes the container through the Engine API, not
 * `docker run`).  What cannot be honoured is refused, named; what means
 * nothing to corral is left out with a note. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral/docker_run.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/registry.h"
#include "corral/strbuf.h"

extern char **environ;

#define MAX_RUNTIME_ARGS 128

/* Adds "what" to the list b ("a, b, c"). */
static void list_add(strbuf *b, const char *what)
{
        (void)strbuf_appendf(b, "%s%.80s", b->len ? ", " : "", what);
}

/* "$$" → "$": a value as registry_args_append() wrote it, for corral's own
 * use (a path, a number) rather than the server's command line. */
static char *unescape(const char *s)
{
        char *out = xstrdup(s), *w = out;
        for (const char *c = s; *c; c++) {
                *w++ = *c;
                if (c[0] == '$' && c[1] == '$')
                        c++;
        }
        *w = '\0';
        return out;
}

/* ---- npm: node's options ----------------------------------------------- */

/* node options a package may ask for: they tune the runtime (heap, stack,
 * warnings, TLS, experimental features) without changing what runs.  Those
 * that run other code or open ports (-e, -p, -r, --import, --loader,
 * --inspect, --env-file, --watch, --test, …) are not here. */
static const struct {
        const char *name;
        bool value;  /* takes a value (given as NAME=VALUE or NAME VALUE) */
        bool prefix; /* every option starting with name */
} node_options[] = {
        {"--max-old-space-size", true, false},
        {"--max-semi-space-size", true, false},
        {"--stack-size", true, false},
        {"--stack-trace-limit", true, false},
        {"--unhandled-rejections", true, false},
        {"--dns-result-order", true, false},
        {"--disable-warning", true, false},
        {"--title", true, false},
        {"--max-http-header-size", true, false},
        {"--conditions", true, false},
        {"--tls-cipher-list", true, false},
        {"--secure-heap", true, false},
        {"--secure-heap-min", true, false},
        {"--heapsnapshot-near-heap-limit", true, false},
        {"--network-family-autoselection-attempt-timeout", true, false},
        {"--enable-source-maps", false, false},
        {"--no-warnings", false, false},
        {"--no-deprecation", false, false},
        {"--trace-warnings", false, false},
        {"--trace-deprecation", false, false},
        {"--trace-uncaught", false, false},
        {"--throw-deprecation", false, false},
        {"--pending-deprecation", false, false},
        {"--expose-gc", false, false},
        {"--no-addons", false, false},
        {"--preserve-symlinks", false, false},
        {"--preserve-symlinks-main", false, false},
        {"--openssl-legacy-provider", false, false},
        {"--use-openssl-ca", false, false},
        {"--use-bundled-ca", false, false},
        {"--tls-min-v1.0", false, false},
        {"--tls-min-v1.1", false, false},
        {"--tls-min-v1.2", false, false},
        {"--tls-min-v1.3", false, false},
        {"--tls-max-v1.2", false, false},
        {"--tls-max-v1.3", false, false},
        {"--abort-on-uncaught-exception", false, false},
        {"--frozen-intrinsics", false, false},
        {"--jitless", false, false},
        {"--no-network-family-autoselection", false, false},
        {"--experimental-", false, true},
        {"--no-experimental-", false, true},
        {"--harmony", false, true},
};

/* npx's own options: they say how npx fetches the package, which corral
 * has already done. */
static const char *const npx_ignored[] = {
        "-y", "--yes", "-q", "--quiet", "--silent", "--prefer-offline", "--prefer-online",
        "--no-install", "--ignore-existing", "--no-update-notifier", "--no-fund", "--no-audit",
};

static bool node_option_known(const char *arg, bool *ret_value)
{
        size_t n = strcspn(arg, "=");
        *ret_value = false;
        if (strncmp(arg, "--experimental-loader", 21) == 0 ||
            strncmp(arg, "--experimental-policy", 21) == 0)
                return false; /* loads code from a path */
        for (size_t i = 0; i < ARRAY_SIZE(node_options); i++) {
                size_t k = strlen(node_options[i].name);
                if (node_options[i].prefix ? strncmp(arg, node_options[i].name, k) == 0 && n > k
                                           : n == k && strncmp(arg, node_options[i].name, k) == 0) {
                        *ret_value = node_options[i].value;
                        return true;
                }
        }
        return false;
}

/* Appends one node option (NAME or NAME=VALUE; *i moves past a separate
 * VALUE) to *flags, or its name to refused. */
static void node_option(char *const *rt, size_t *i, char ***flags, strbuf *refused)
{
        const char *a = rt[*i];
        bool value;

        if (!node_option_known(a, &value)) {
                /* Named with what looks like its value ("--require ./x.js"). */
                if (a[0] == '-' && !strchr(a, '=') && rt[*i + 1] && rt[*i + 1][0] != '-') {
                        _cleanup_free_ char *what = xasprintf("%s %s", a, rt[++*i]);
                        list_add(refused, what);
                        return;
                }
                list_add(refused, a);
                return;
        }
        if (value && !strchr(a, '=')) {
                if (!rt[*i + 1] || rt[*i + 1][0] == '-') {
                        _cleanup_free_ char *what = xasprintf("%s (without a value)", a);
                        list_add(refused, what);
                        return;
                }
                _cleanup_free_ char *joined = xasprintf("%s=%s", a, rt[++*i]);
                *flags = strv_push(*flags, joined);
                return;
        }
        if (!value && strchr(a, '=') && strncmp(a, "--experimental-", 15) != 0 &&
            strncmp(a, "--harmony", 9) != 0) {
                list_add(refused, a);
                return;
        }
        *flags = strv_push(*flags, a);
}

/* Whether this host's node takes flags: `node FLAGS --version` (node
 * refuses an option it does not know, "node: bad option", before anything
 * runs).  0, or -EX_UNAVAILABLE naming them. */
static int node_takes(char *const *flags, corral_error *err)
{
        _cleanup_strv_ char **argv = strv_push(NULL, "node");
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status = 0;

        for (size_t i = 0; flags[i]; i++)
                argv = strv_push(argv, flags[i]);
        argv = strv_push(argv, "--version");
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        int r = posix_spawnp(&pid, "node", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "node is not installed on this host");
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                strbuf b = STRBUF_INIT(1024);
                for (size_t i = 0; flags[i]; i++)
                        list_add(&b, flags[i]);
                r = corral_error_set(err, EX_UNAVAILABLE,
                                     "the package's runtimeArguments ask node for %s, which "
                                     "this host's node does not take",
                                     b.buf ? b.buf : "");
                strbuf_done(&b);
                return r;
        }
        return 0;
}

int registry_npm_runtime_args(char *const *rt, const char *hint, char ***ret_flags,
                              corral_error *err)
{
        _cleanup_strv_ char **flags = NULL;
        strbuf refused = STRBUF_INIT(2048), ignored = STRBUF_INIT(2048);
        bool npx = !hint || strcmp(hint, "npx") == 0;
        int r = 0;

        *ret_flags = NULL;
        if (strv_length(rt) == 0)
                return 0;
        if (strv_length(rt) > MAX_RUNTIME_ARGS)
                return corral_error_set(err, EX_DATAERR, "more than %d runtimeArguments",
                                        MAX_RUNTIME_ARGS);
        if (!npx && strcmp(hint, "node") != 0)
                return corral_error_set(err, EX_UNAVAILABLE,
                                        "the package's runtimeArguments are for %.32s; corral "
                                        "runs npm packages with node (runtimeHint npx or node)",
                                        hint);
        for (size_t i = 0; rt[i]; i++) {
                const char *a = rt[i];
                bool ign = false;
                for (size_t k = 0; npx && k < ARRAY_SIZE(npx_ignored); k++)
                        ign = ign || strcmp(a, npx_ignored[k]) == 0;
                if (ign || (npx && strncmp(a, "--loglevel", 10) == 0)) {
                        if (strcmp(a, "--loglevel") == 0 && rt[i + 1])
                                i++;
                        list_add(&ignored, a);
                        continue;
                }
                if (npx && (strcmp(a, "--node-options") == 0 ||
                            strncmp(a, "--node-options=", 15) == 0)) {
                        /* npm's node-options: node's options, blank-separated. */
                        const char *v = a[14] == '=' ? a + 15 : rt[i + 1];
                        if (!v) {
                                list_add(&refused, "--node-options (without a value)");
                                continue;
                        }
                        if (a[14] != '=')
                                i++;
                        _cleanup_free_ char *copy = xstrdup(v);
                        _cleanup_strv_ char **words = NULL;
                        for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w;
                             w = strtok_r(NULL, " \t", &save))
                                words = strv_push(words, w);
                        for (size_t k = 0; words && words[k]; k++)
                                node_option(words, &k, &flags, &refused);
                        continue;
                }
                if (a[0] != '-') {
                        list_add(&refused, a);
                        continue;
                }
                node_option(rt, &i, &flags, &refused);
        }
        if (refused.len) {
                r = corral_error_set(err, EX_UNAVAILABLE,
                                     "runtimeArguments corral cannot honour: %s (corral runs the "
                                     "package's bin with node and passes node only options that "
                                     "tune the runtime)",
                                     refused.buf);
                goto out;
        }
        if (flags && (r = node_takes(flags, err)) < 0)
                goto out;
        if (ignored.len)
                fprintf(stderr,
                        "corral: install: note: runtimeArguments %s left out (npx's own: "
                        "corral installs the package itself)\n",
                        ignored.buf);
        *ret_flags = steal_pointer(&flags);
out:
        strbuf_done(&refused);
        strbuf_done(&ignored);
        return r;
}

/* ---- oci: `docker run` options -------------------------------------------- */

/* What each `docker run` option (docker_run.h) means here; an option
 * without a row is refused. */
enum how {
        OCI_UNKNOWN = 0,
        OCI_ENV,
        OCI_VOLUME,
        OCI_MOUNT,
        OCI_NETWORK,
        OCI_MEMORY,
        OCI_CPUS,
        OCI_PIDS,
        OCI_IGNORE,   /* meaningless to corral: it attaches stdio, names and removes containers */
        OCI_ALREADY,  /* what corral's containers already are */
        OCI_REFUSE,   /* would weaken confinement or change what runs */
};

static const enum how oci_how[DOCKER_RUN_OPT_COUNT_] = {
        [DOCKER_RUN_OPT_ENV] = OCI_ENV,
        [DOCKER_RUN_OPT_VOLUME] = OCI_VOLUME,
        [DOCKER_RUN_OPT_MOUNT] = OCI_MOUNT,
        [DOCKER_RUN_OPT_NETWORK] = OCI_NETWORK,
        [DOCKER_RUN_OPT_MEMORY] = OCI_MEMORY,
        [DOCKER_RUN_OPT_CPUS] = OCI_CPUS,
        [DOCKER_RUN_OPT_PIDS_LIMIT] = OCI_PIDS,
        [DOCKER_RUN_OPT_INTERACTIVE] = OCI_IGNORE,
        [DOCKER_RUN_OPT_TTY] = OCI_IGNORE,
        [DOCKER_RUN_OPT_RM] = OCI_IGNORE,
        [DOCKER_RUN_OPT_DETACH] = OCI_IGNORE,
        [DOCKER_RUN_OPT_NAME] = OCI_IGNORE,
        [DOCKER_RUN_OPT_HOSTNAME] = OCI_IGNORE,
        [DOCKER_RUN_OPT_LABEL] = OCI_IGNORE,
        [DOCKER_RUN_OPT_PULL] = OCI_IGNORE,
        [DOCKER_RUN_OPT_PUBLISH] = OCI_IGNORE,
        [DOCKER_RUN_OPT_PUBLISH_ALL] = OCI_IGNORE,
        [DOCKER_RUN_OPT_EXPOSE] = OCI_IGNORE,
        [DOCKER_RUN_OPT_STOP_TIMEOUT] = OCI_IGNORE,
        [DOCKER_RUN_OPT_LOG_DRIVER] = OCI_IGNORE,
        [DOCKER_RUN_OPT_INIT] = OCI_ALREADY,
        [DOCKER_RUN_OPT_READ_ONLY] = OCI_ALREADY,
        [DOCKER_RUN_OPT_PRIVILEGED] = OCI_REFUSE,
        [DOCKER_RUN_OPT_CAP_ADD] = OCI_REFUSE,
        [DOCKER_RUN_OPT_SECURITY_OPT] = OCI_REFUSE,
        [DOCKER_RUN_OPT_DEVICE] = OCI_REFUSE,
        [DOCKER_RUN_OPT_PID] = OCI_REFUSE,
        [DOCKER_RUN_OPT_IPC] = OCI_REFUSE,
        [DOCKER_RUN_OPT_UTS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_USERNS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_CGROUPNS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_GROUP_ADD] = OCI_REFUSE,
        [DOCKER_RUN_OPT_ENTRYPOINT] = OCI_REFUSE,
        [DOCKER_RUN_OPT_GPUS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_USER] = OCI_REFUSE,
        [DOCKER_RUN_OPT_WORKDIR] = OCI_REFUSE,
        [DOCKER_RUN_OPT_ENV_FILE] = OCI_REFUSE,
        [DOCKER_RUN_OPT_ADD_HOST] = OCI_REFUSE,
        [DOCKER_RUN_OPT_DNS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_PLATFORM] = OCI_REFUSE,
        [DOCKER_RUN_OPT_TMPFS] = OCI_REFUSE,
        [DOCKER_RUN_OPT_ULIMIT] = OCI_REFUSE,
        [DOCKER_RUN_OPT_SHM_SIZE] = OCI_REFUSE,
        [DOCKER_RUN_OPT_RESTART] = OCI_REFUSE,
};

static bool has_env(const manifest *m, const char *key, size_t klen)
{
        for (size_t i = 0; i < m->n_env; i++)
                if (strlen(m->env[i].key) == klen && strncmp(m->env[i].key, key, klen) == 0)
                        return true;
        return false;
}

static void env_add(manifest *m, const char *key, size_t klen, const char *value)
{
        m->env = xrealloc(m->env, (m->n_env + 1) * sizeof(*m->env));
        m->env[m->n_env].key = xstrndup(key, klen);
        m->env[m->n_env].value = value ? xstrdup(value) : NULL;
        m->n_env++;
}

/* -e KEY=VALUE, -e KEY (the value the client would pass: an
 * environmentVariables entry or --env), or a secret argument's ${REF}
 * whose value is KEY=VALUE (moved to secrets[KEY], env null). */
static void oci_env(const char *v, cJSON *secrets, manifest *m, strbuf *refused)
{
        docker_run_env env;
        size_t vl = strlen(v);

        if (secrets && vl > 3 && v[0] == '$' && v[1] == '{' && v[vl - 1] == '}') {
                _cleanup_free_ char *ref = xstrndup(v + 2, vl - 3);
                cJSON *s = cJSON_GetObjectItemCaseSensitive(secrets, ref);
                const char *sv = cJSON_IsString(s) ? s->valuestring : NULL;
                const char *seq = sv ? strchr(sv, '=') : NULL;
                if (seq && seq > sv) {
                        size_t kl = (size_t)(seq - sv);
                        if (!has_env(m, sv, kl)) {
                                _cleanup_free_ char *key = xstrndup(sv, kl);
                                env_add(m, sv, kl, NULL);
                                cJSON_AddStringToObject(secrets, key, seq + 1);
                        }
                        cJSON_DeleteItemFromObjectCaseSensitive(secrets, ref);
                        return;
                }
        }
        if (docker_run_env_parse(v, &env) < 0) {
                _cleanup_free_ char *what = xasprintf("-e %s", v);
                list_add(refused, what);
                return;
        }
        if (!env.value) {
                if (!has_env(m, env.key, env.key_len)) {
                        _cleanup_free_ char *what =
                                xasprintf("-e %s (no value: not an environment variable of the "
                                          "server.json nor given with --env)",
                                          v);
                        list_add(refused, what);
                }
                return;
        }
        if (!has_env(m, env.key, env.key_len)) /* --env and environmentVariables win */
                env_add(m, env.key, env.key_len, env.value);
}

/* -v SRC:DST[:OPTS] and --mount type=bind,source=,target=[,readonly|rw]:
 * a host path bound read-only unless the server.json says rw.  Options
 * beyond ro/rw (bind-propagation, z, …) are refused, not guessed. */
static void oci_volume(const char *raw, bool mount_syntax, manifest *m, strbuf *refused)
{
        _cleanup_free_ char *v = unescape(raw), *real = NULL;
        _cleanup_free_ char *what = xasprintf("%s %s", mount_syntax ? "--mount" : "-v", raw);
        docker_run_mount mnt;
        struct stat st;

        docker_run_mount_parse(v, mount_syntax, &mnt);
        const char *src = mnt.source, *dst = mnt.target;
        /* A named or anonymous volume is the engine's storage, not a path. */
        if (mnt.other || !mnt.bind || !src || !dst || src[0] != '/' || dst[0] != '/' ||
            strcmp(dst, "/") == 0 || strchr(dst, ':')) {
                list_add(refused, what);
        } else if (!(real = realpath(src, NULL)) || stat(real, &st) < 0 || strchr(real, ':') ||
                   strcmp(real, "/") == 0) {
                _cleanup_free_ char *why = xasprintf("%s (no such host path)", what);
                list_add(refused, why);
        } else {
                _cleanup_free_ char *entry = xasprintf(
                        "%s:%s:%s", real, dst, mnt.mode == DOCKER_RUN_MODE_RW ? "rw" : "ro");
                m->mounts = strv_push(m->mounts, entry);
        }
        docker_run_mount_done(&mnt);
}

/* docker's sizes: a number with an optional b, k, m, g suffix; in MiB. */
static bool parse_mib(const char *v, unsigned *ret)
{
        char *end = NULL;
        errno = 0;
        double n = strtod(v, &end);
        if (errno || !end || end == v || n <= 0)
                return false;
        double mult = 1.0 / (1024.0 * 1024.0);
        switch (*end ? end[0] | 0x20 : 'b') {
        case 'b': mult = 1.0 / (1024.0 * 1024.0); break;
        case 'k': mult = 1.0 / 1024.0; break;
        case 'm': mult = 1.0; break;
        case 'g': mult = 1024.0; break;
        default: return false;
        }
        if (*end && end[1] && !((end[1] | 0x20) == 'b' && !end[2]))
                return false;
        n *= mult;
        if (n < 6 || n > 1024.0 * 1024.0)
                return false;
        *ret = (unsigned)n;
        return true;
}

int registry_oci_runtime_args(char *const *rt, cJSON *secrets, manifest *m, corral_error *err)
{
        strbuf refused = STRBUF_INIT(2048), ignored = STRBUF_INIT(2048);
        strbuf looser = STRBUF_INIT(1024);
        int r = 0;

        if (strv_length(rt) > MAX_RUNTIME_ARGS)
                return corral_error_set(err, EX_DATAERR, "more than %d runtimeArguments",
                                        MAX_RUNTIME_ARGS);
        for (size_t i = 0; rt && rt[i];) {
                const char *a = rt[i];
                docker_run_arg arg;
                docker_run_next(rt, &i, &arg);
                if (arg.kind == DOCKER_RUN_FLAGS) { /* -it */
                        bool ign = true;
                        for (const char *c = arg.flags; *c; c++)
                                ign = ign && (oci_how[docker_run_short(*c)] == OCI_IGNORE ||
                                              oci_how[docker_run_short(*c)] == OCI_ALREADY);
                        list_add(ign ? &ignored : &refused, a);
                        continue;
                }
                if (arg.kind == DOCKER_RUN_MISSING_VALUE) {
                        _cleanup_free_ char *what = xasprintf("%s (without a value)", a);
                        list_add(&refused, what);
                        continue;
                }
                if (arg.kind != DOCKER_RUN_OPTION || oci_how[arg.opt] == OCI_UNKNOWN) {
                        list_add(&refused, a);
                        continue;
                }
                const char *v = arg.value;
                _cleanup_free_ char *plain = v ? unescape(v) : NULL;
                _cleanup_free_ char *what =
                        v ? xasprintf("%s %s", a, strncmp(v, "${CORRAL_ARG_", 13) == 0 ? "(secret)" : v)
                          : xstrdup(a);
                switch (oci_how[arg.opt]) {
                case OCI_ENV:
                        oci_env(v, secrets, m, &refused);
                        break;
                case OCI_VOLUME:
                case OCI_MOUNT:
                        oci_volume(v, arg.opt == DOCKER_RUN_OPT_MOUNT, m, &refused);
                        break;
                case OCI_NETWORK:
                        /* corral's containers have none unless the sandbox
                         * policy says host; the server.json does not decide. */
                        if (strcmp(plain, "none") != 0 &&
                            !(m->network && strcmp(m->network, "host") == 0)) {
                                _cleanup_free_ char *why = xasprintf(
                                        "%s (the network is corral's sandbox policy: "
                                        "\"sandbox\": {\"network\": \"host\"} in corral.json)",
                                        what);
                                list_add(&refused, why);
                        }
                        break;
                case OCI_MEMORY: {
                        unsigned mib = 0;
                        if (!parse_mib(plain, &mib))
                                list_add(&refused, what);
                        else if (!m->memory_mb || mib <= m->memory_mb)
                                m->memory_mb = mib;
                        else
                                list_add(&looser, what);
                        break;
                }
                case OCI_CPUS: {
                        char *end = NULL;
                        double c = strtod(plain, &end);
                        if (!end || *end || end == plain || !(c >= 0.01 && c <= 1024))
                                list_add(&refused, what);
                        else if (m->cpus <= 0 || c <= m->cpus)
                                m->cpus = c;
                        else
                                list_add(&looser, what);
                        break;
                }
                case OCI_PIDS: {
                        char *end = NULL;
                        long p = strtol(plain, &end, 10);
                        if (!end || *end || end == plain || p < 1 || p > 1000000)
                                list_add(&refused, what);
                        else if (!m->pids || (unsigned)p <= m->pids)
                                m->pids = (unsigned)p;
                        else
                                list_add(&looser, what);
                        break;
                }
                case OCI_IGNORE:
                case OCI_ALREADY:
                        list_add(&ignored, what);
                        break;
                case OCI_UNKNOWN:
                case OCI_REFUSE:
                        list_add(&refused, what);
                        break;
                }
        }
        if (refused.len) {
                r = corral_error_set(err, EX_UNAVAILABLE,
                                     "runtimeArguments corral cannot honour: %s (corral maps -e, "
                                     "-v/--mount host paths, --network none, --memory, --cpus and "
                                     "--pids-limit onto its container)",
                                     refused.buf);
                goto out;
        }
        if (ignored.len)
                fprintf(stderr,
                        "corral: install: note: runtimeArguments %s left out (corral attaches "
                        "stdio, names and removes its containers itself, always with an init "
                        "and a read-only root)\n",
                        ignored.buf);
        if (looser.len)
                fprintf(stderr,
                        "corral: install: note: runtimeArguments %s ask for more than the "
                        "sandbox policy gives: its limits are kept (corral.json \"sandbox\" "
                        "memory_mb, cpus, pids)\n",
                        looser.buf);
out:
        strbuf_done(&refused);
        strbuf_done(&ignored);
        strbuf_done(&looser);
        return r;
}
