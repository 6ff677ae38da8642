/* Credentials for private git repositories over http(s), handed to libgit2
 * only when the server asks (a 401), and only for the URL it asked about:
 *
 *   - corral.json "git_auth": {"https://git.example.com/org/": {"token_file":
 *     "/etc/corral/git-token", "username": "x-access-token"}}: the longest
 *     URL prefix that matches wins; the token is read from its file (so the
 *     config itself may stay world-readable) and sent as the password of
 *     HTTP Basic, the way GitHub and GitLab take tokens;
 *   - else the invoking user's ~/.git-credentials (git's "store" helper
 *     format: one https://USER:PASS@HOST[/PATH] per line, percent-encoded),
 *     matched by scheme, host and port, and path prefix when one is given.
 *
 * A refused credential is not offered again (libgit2 would ask forever).
 * Nothing of a credential reaches the manifest, the log or an error
 * message: those show git_url_display(). */
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "corral/config.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "git_internal.h"

#define MAX_AUTH_ENTRIES 256
#define MAX_SECRET 4096
#define MAX_CREDENTIALS_FILE (1u << 20)

typedef struct auth_entry {
        char *prefix; /* URL prefix */
        char *username;
        char *token_file;
} auth_entry;

struct git_auth {
        auth_entry *v;
        size_t n;
        char *credentials_file; /* ~/.git-credentials, or NULL */
        unsigned offered;       /* credentials handed out for this fetch */
        bool refused;           /* the server turned them down */
        bool missing;           /* the server asked and there were none */
        char *source;           /* where the last ones came from, for messages */
};

git_auth *git_auth_free(git_auth *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n; i++) {
                free(a->v[i].prefix);
                free(a->v[i].username);
                free(a->v[i].token_file);
        }
        free(a->v);
        free(a->credentials_file);
        free(a->source);
        free(a);
        return NULL;
}

int git_auth_load(const corral_paths *paths, git_auth **ret, corral_error *err)
{
        _cleanup_json_ cJSON *config = NULL;
        int r = config_load(paths, &config, err);
        if (r < 0)
                return r;
        git_auth *a = xcalloc(1, sizeof(*a));
        const cJSON *ga = config ? cJSON_GetObjectItemCaseSensitive(config, "git_auth") : NULL;
        if (ga && (!cJSON_IsObject(ga) || cJSON_GetArraySize(ga) > MAX_AUTH_ENTRIES)) {
                git_auth_free(a);
                return corral_error_set(err, EX_CONFIG,
                                        "%s: \"git_auth\" must be an object of at most %u URL "
                                        "prefixes",
                                        paths->config, MAX_AUTH_ENTRIES);
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, ga)
        {
                const char *file = json_get_string(e, "token_file");
                const char *user = json_get_string(e, "username");
                if (!file || file[0] != '/' ||
                    (strncmp(e->string, "https://", 8) != 0 && strncmp(e->string, "http://", 7))) {
                        git_auth_free(a);
                        return corral_error_set(err, EX_CONFIG,
                                                "%s: \"git_auth\": '%s' needs an http(s):// URL "
                                                "prefix and an absolute \"token_file\"",
                                                paths->config, e->string);
                }
                a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
                a->v[a->n++] = (auth_entry){.prefix = xstrdup(e->string),
                                            .username = xstrdup(user ? user : "x-access-token"),
                                            .token_file = xstrdup(file)};
        }
        const char *home = getenv("HOME");
        if (home && home[0] == '/')
                a->credentials_file = path_join(home, ".git-credentials");
        *ret = a;
        return 0;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Percent-decodes [s, s+n) (owned; NULL for a NUL byte or a bad escape). */
static char *pct_decode(const char *s, size_t n)
{
        char *out = xmalloc(n + 1), *o = out;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
                    hexval(s[i + 2]) >= 0) {
                        *o = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                        i += 2;
                } else {
                        *o = s[i];
                }
                if (*o++ == '\0') {
                        free(out);
                        return NULL;
                }
        }
        *o = '\0';
        return out;
}

/* scheme://host[:port] length of url, 0 when it has none. */
static size_t origin_len(const char *url)
{
        const char *p = strstr(url, "://");
        if (!p)
                return 0;
        return (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
}

/* Does the ~/.git-credentials line (scheme://user:pass@host[/path]) apply to
 * url?  Sets *user and *pass (owned) when it does. */
static bool line_matches(const char *line, const char *url, char **user, char **pass)
{
        const char *sep = strstr(line, "://");
        if (!sep)
                return false;
        const char *cred = sep + 3;
        size_t hl = strcspn(cred, "/");
        const char *at = memrchr(cred, '@', hl);
        if (!at)
                return false;
        const char *colon = memchr(cred, ':', (size_t)(at - cred));
        if (!colon)
                return false;
        /* The line without its credentials: scheme://host[/path]. */
        size_t scheme = (size_t)(cred - line);
        _cleanup_free_ char *bare = xasprintf("%.*s%s", (int)scheme, line, at + 1);
        size_t ol = origin_len(bare);
        if (ol != origin_len(url) || strncasecmp(bare, url, ol) != 0)
                return false;
        const char *path = bare + ol;
        if (*path && *path != '\n' && strncmp(url + ol, path, strlen(path)) != 0)
                return false;
        *user = pct_decode(cred, (size_t)(colon - cred));
        *pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
        if (*user && *pass)
                return true;
        free(*user);
        free(*pass);
        *user = *pass = NULL;
        return false;
}

static int from_credentials_file(git_auth *a, const char *url, char **user, char **pass)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (!a->credentials_file ||
            read_file(a->credentials_file, MAX_CREDENTIALS_FILE, &text, &len) < 0)
                return 0;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                line[strcspn(line, "\r")] = '\0';
                if (line_matches(line, url, user, pass)) {
                        free(a->source);
                        a->source = xstrdup(a->credentials_file);
                        return 1;
                }
        }
        return 0;
}

static int from_config(git_auth *a, const char *url, char **user, char **pass)
{
        const auth_entry *best = NULL;
        for (size_t i = 0; i < a->n; i++)
                if (strncmp(url, a->v[i].prefix, strlen(a->v[i].prefix)) == 0 &&
                    (!best || strlen(a->v[i].prefix) > strlen(best->prefix)))
                        best = &a->v[i];
        if (!best)
                return 0;
        _cleanup_free_ char *token = NULL;
        size_t len = 0;
        free(a->source);
        a->source = xasprintf("the token file %s", best->token_file);
        if (read_file(best->token_file, MAX_SECRET, &token, &len) < 0)
                return -1;
        while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' ||
                           token[len - 1] == ' '))
                token[--len] = '\0';
        if (len == 0 || memchr(token, '\0', len))
                return -1;
        *user = xstrdup(best->username);
        *pass = steal_pointer(&token);
        return 1;
}

int git_auth_credential(git_credential **out, const char *url, const char *username_from_url,
                        unsigned int allowed_types, void *payload)
{
        git_auth *a = payload;
        (void)username_from_url;
        if (!a || !(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
                return GIT_PASSTHROUGH;
        if (a->offered > 0) {
                /* What we offered was refused: asking again would loop. */
                a->refused = true;
                return GIT_EAUTH;
        }
        char *user = NULL, *pass = NULL;
        int r = from_config(a, url, &user, &pass);
        if (r == 0)
                r = from_credentials_file(a, url, &user, &pass);
        if (r <= 0) {
                if (r < 0)
                        a->refused = true; /* an unreadable or empty token file */
                else
                        a->missing = true;
                return r < 0 ? GIT_EAUTH : GIT_PASSTHROUGH;
        }
        a->offered++;
        r = git_credential_userpass_plaintext_new(out, user, pass);
        explicit_bzero(pass, strlen(pass));
        free(pass);
        free(user);
        return r;
}

void git_auth_reset(git_auth *a)
{
        if (a) {
                a->offered = 0;
                a->refused = a->missing = false;
        }
}

int git_auth_error(const git_auth *a, const char *shown, corral_error *err)
{
        if (a && a->refused)
                return corral_error_set(err, EX_NOPERM,
                                        "cannot fetch %s: authentication failed with the "
                                        "credentials from %s",
                                        shown, a->source);
        if (a && a->missing)
                return corral_error_set(err, EX_NOPERM,
                                        "cannot fetch %s: authentication required (add a token "
                                        "in corral.json \"git_auth\" or a ~/.git-credentials "
                                        "line)",
                                        shown);
        return 0;
}
