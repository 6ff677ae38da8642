/* Registry credentials for pulls (the X-Registry-Auth header of POST
 * /images/create): the docker CLI's config file (~/.docker/config.json or
 * $DOCKER_CONFIG/config.json: "credHelpers" per registry, else
 * "credsStore", else "auths"), then Podman's auth.json ($REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json).  A credential helper is the
 * program docker-credential-NAME, run with "get" and the server URL on its
 * stdin; it answers {"ServerURL", "Username", "Secret"} on stdout
 * (https://github.com/docker/docker-credential-helpers, "protocol"). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "docker/internal.h"

#define CONFIG_MAX (1u << 20)      /* a config or auth file */
#define HELPER_OUT_MAX (64u << 10) /* a helper's answer */
#define HELPER_TIMEOUT_MS 10000u
#define DOCKER_HUB_SERVER "https://index.docker.io/v1/"

static void b64url(const unsigned char *in, size_t n, char **ret)
{
        char *out = xmalloc(4 * ((n + 2) / 3) + 1);

        (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
        for (char *p = out; *p; p++)
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        *ret = out;
}

/* auths and credHelpers keys are "host", "https://host", or
 * "https://index.docker.io/v1/" for Docker Hub. */
static bool auth_key_matches(const char *key, const char *registry)
{
        const char *k = key;
        size_t n = strlen(registry);

        if (strcmp(registry, "docker.io") == 0 &&
            (strstr(key, "index.docker.io") || strcmp(key, "docker.io") == 0))
                return true;
        if (strncmp(k, "https://", 8) == 0)
                k += 8;
        else if (strncmp(k, "http://", 7) == 0)
                k += 7;
        return strncmp(k, registry, n) == 0 && (k[n] == '\0' || k[n] == '/');
}

static const cJSON *find_entry(const cJSON *obj, const char *registry)
{
        const cJSON *it;

        cJSON_ArrayForEach(it,
                           obj) if (it->string && auth_key_matches(it->string, registry)) return it;
        return NULL;
}

/* The header value for user/secret ("<token>" as the user: an identity
 * token, as the docker CLI reads helpers' answers). */
static void header_for(const char *user, const char *secret, const char *registry, char **ret)
{
        _cleanup_json_ cJSON *out = cJSON_CreateObject();
        _cleanup_free_ char *json = NULL;

        if (strcmp(user, "<token>") == 0) {
                cJSON_AddStringToObject(out, "identitytoken", secret);
        } else {
                cJSON_AddStringToObject(out, "username", user);
                cJSON_AddStringToObject(out, "password", secret);
                cJSON_AddStringToObject(out, "serveraddress", registry);
        }
        json = json_print(out);
        b64url((const unsigned char *)json, strlen(json), ret);
}

/* An "auths" entry: {"auth": base64(user:password)} or {"identitytoken"};
 * *ret stays NULL for an entry without either. */
static int entry_header(const cJSON *entry, const char *registry, const char *path, char **ret,
                        corral_error *err)
{
        const char *token = json_get_string(entry, "identitytoken");
        const char *auth = json_get_string(entry, "auth");
        _cleanup_free_ char *decoded = NULL;
        size_t alen;
        char *colon;
        int dn;

        if (token && *token) {
                header_for("<token>", token, registry, ret);
                return 0;
        }
        if (!auth || !*auth)
                return 0;
        alen = strlen(auth);
        if (alen > 8192)
                return corral_error_set(err, EX_CONFIG, "%s: auth for %s is too long", path,
                                        registry);
        decoded = xcalloc(1, alen + 1);
        dn = EVP_DecodeBlock((unsigned char *)decoded, (const unsigned char *)auth, (int)alen);
        if (dn < 0)
                return corral_error_set(err, EX_CONFIG, "%s: auth for %s is not base64", path,
                                        registry);
        decoded[dn] = '\0';
        colon = strchr(decoded, ':');
        if (!colon)
                return corral_error_set(err, EX_CONFIG, "%s: auth for %s is not user:password",
                                        path, registry);
        *colon = '\0';
        header_for(decoded, colon + 1, registry, ret);
        return 0;
}

/* 0 with *ret NULL when path does not exist. */
static int load_json(const char *path, cJSON **ret, corral_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        r = read_file(path, CONFIG_MAX, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return corral_error_errno(err, EX_CONFIG, -r, "cannot read %s", path);
        *ret = cJSON_ParseWithLength(text, len);
        if (!*ret || !cJSON_IsObject(*ret)) {
                cJSON_Delete(*ret);
                *ret = NULL;
                return corral_error_set(err, EX_CONFIG, "%s: not a JSON object", path);
        }
        return 0;
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int docker_cred_helper_get(const char *helper, const char *server, unsigned timeout_ms,
                           char **ret_user, char **ret_secret, corral_error *err)
{
        _cleanup_free_ char *prog = NULL;
        _cleanup_json_ cJSON *j = NULL;
        int in[2] = {-1, -1}, out[2] = {-1, -1}, status = 0, r = 0;
        char buf[HELPER_OUT_MAX + 1];
        size_t len = 0;
        long long deadline;
        pid_t pid;
        bool timed_out = false;

        *ret_user = *ret_secret = NULL;
        if (!*helper || strspn(helper, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._-") != strlen(helper))
                return corral_error_set(err, EX_CONFIG,
                                        "credential helper name '%.100s' is not "
                                        "a plain name",
                                        helper);
        prog = xasprintf("docker-credential-%s", helper);
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                r = corral_error_errno(err, EX_OSERR, errno, "cannot run %s", prog);
                goto done;
        }
        pid = fork();
        if (pid < 0) {
                r = corral_error_errno(err, EX_OSERR, errno, "cannot run %s", prog);
                goto done;
        }
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
                    (devnull >= 0 && dup2(devnull, 2) < 0))
                        _exit(127);
                execlp(prog, prog, "get", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        in[0] = out[1] = -1;
        /* The server URL on stdin, then EOF (a few bytes: the pipe holds them). */
        (void)!write(in[1], server, strlen(server));
        close(in[1]);
        in[1] = -1;
        deadline = now_ms() + timeout_ms;
        for (;;) {
                struct pollfd pfd = {.fd = out[0], .events = POLLIN};
                long long left = deadline - now_ms();
                ssize_t n;
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                r = poll(&pfd, 1, (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == 0) {
                        timed_out = true;
                        break;
                }
                n = read(out[0], buf + len, HELPER_OUT_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len == HELPER_OUT_MAX)
                        break;
        }
        r = 0;
        if (timed_out)
                (void)kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        buf[len] = '\0';
        if (timed_out) {
                r = corral_error_set(err, EX_TEMPFAIL, "%s get: no answer after %u ms", prog,
                                     timeout_ms);
                goto done;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && len == 0) {
                r = corral_error_set(err, EX_CONFIG,
                                     "credential helper %s is not installed (not on PATH)", prog);
                goto done;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* "credentials not found in native keychain": none, anonymous. */
                if (strstr(buf, "credentials not found"))
                        goto done;
                r = corral_error_set(err, EX_CONFIG, "%s get failed: %.200s", prog,
                                     len ? buf : "no output");
                goto done;
        }
        j = cJSON_ParseWithLength(buf, len);
        if (!j || !json_get_string(j, "Username") || !json_get_string(j, "Secret")) {
                r = corral_error_set(err, EX_CONFIG,
                                     "%s get: the answer is not {\"Username\", \"Secret\"}", prog);
                goto done;
        }
        *ret_user = xstrdup(json_get_string(j, "Username"));
        *ret_secret = xstrdup(json_get_string(j, "Secret"));
done:
        for (int i = 0; i < 2; i++) {
                if (in[i] >= 0)
                        close(in[i]);
                if (out[i] >= 0)
                        close(out[i]);
        }
        explicit_bzero(buf, sizeof(buf));
        return r;
}

static int registry_auth(const char *registry, bool helpers, char **ret, corral_error *err)
{
        const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
        const char *authfile = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *path = NULL, *podman = NULL;
        _cleanup_json_ cJSON *cfg = NULL, *pcfg = NULL;
        const char *paths[2] = {NULL, NULL};
        int r;

        *ret = NULL;
        if (dir && *dir)
                path = path_join(dir, "config.json");
        else if (home && *home)
                path = xasprintf("%s/.docker/config.json", home);
        if (path) {
                const cJSON *h;
                const char *helper = NULL;
                r = load_json(path, &cfg, err);
                if (r < 0)
                        return r;
                h = find_entry(json_get_object(cfg, "credHelpers"), registry);
                helper = cJSON_IsString(h) ? h->valuestring : json_get_string(cfg, "credsStore");
                if (helper && *helper && helpers) {
                        _cleanup_free_ char *user = NULL, *secret = NULL;
                        const char *server =
                                strcmp(registry, "docker.io") == 0 ? DOCKER_HUB_SERVER : registry;
                        r = docker_cred_helper_get(helper, server, HELPER_TIMEOUT_MS, &user,
                                                   &secret, err);
                        if (r < 0)
                                return r;
                        if (user) {
                                header_for(user, secret, registry, ret);
                                explicit_bzero(secret, strlen(secret));
                                return 0;
                        }
                }
                r = entry_header(find_entry(json_get_object(cfg, "auths"), registry), registry,
                                 path, ret, err);
                if (r < 0 || *ret)
                        return r;
        }
        /* Podman's: the file the site names, else the login's. */
        if (authfile && *authfile)
                paths[0] = authfile;
        else if (xdg && *xdg)
                paths[0] = podman = xasprintf("%s/containers/auth.json", xdg);
        for (size_t i = 0; i < 2 && paths[i]; i++) {
                r = load_json(paths[i], &pcfg, err);
                if (r < 0)
                        return r;
                r = entry_header(find_entry(json_get_object(pcfg, "auths"), registry), registry,
                                 paths[i], ret, err);
                cJSON_Delete(pcfg);
                pcfg = NULL;
                if (r < 0 || *ret)
                        return r;
        }
        return 0;
}

int docker_registry_auth(const char *registry, char **ret, corral_error *err)
{
        return registry_auth(registry, true, ret, err);
}

int docker_registry_auth_static(const char *registry, char **ret, corral_error *err)
{
        return registry_auth(registry, false, ret, err);
}
