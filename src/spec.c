/* Source specs (DESIGN.md, "Source specs"): pure string parsing, no I/O. */
#include <ctype.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/spec.h"

#define SPEC_MAX 4096    /* whole spec */
#define NPM_NAME_MAX 214 /* npm's own limit */
#define VERSION_MAX 256  /* ranges, tags, refs */
#define SERVER_NAME_MAX 48

static const char *const kind_names[] = {
        [SPEC_NPM] = "npm",
        [SPEC_SMITHERY] = "smithery",
        [SPEC_SMITHERY_HOSTED] = "smithery-hosted",
        [SPEC_REGISTRY] = "registry",
        [SPEC_GIT] = "git",
        [SPEC_DOCKER] = "docker",
        [SPEC_LOCAL] = "local",
        [SPEC_REMOTE] = "remote",
        [SPEC_MCPB] = "mcpb",
};

const char *spec_kind_name(spec_kind k)
{
        if ((unsigned)k >= ARRAY_SIZE(kind_names))
                return "unknown";
        return kind_names[k];
}

bool server_name_valid(const char *name)
{
        if (!name || !name[0] || strlen(name) > SERVER_NAME_MAX)
                return false;
        if (!islower((unsigned char)name[0]) && !isdigit((unsigned char)name[0]))
                return false;
        for (const char *p = name; *p; p++)
                if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
                        return false;
        /* "__" separates server and tool in the gateway; '_' is not allowed at
         * all, so this holds by construction. */
        return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
        size_t n = strlen(suffix);
        return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* One part of an npm name (scope or package): the characters npm accepts for
 * new packages, not starting with '.' or '_'. */
static bool npm_part_valid(const char *s, size_t n)
{
        if (n == 0 || s[0] == '.' || s[0] == '_')
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!islower(c) && !isdigit(c) && c != '-' && c != '.' && c != '_')
                        return false;
        }
        return true;
}

bool spec_npm_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > NPM_NAME_MAX)
                return false;
        if (name[0] == '@') {
                const char *slash = strchr(name, '/');
                if (!slash)
                        return false;
                return npm_part_valid(name + 1, (size_t)(slash - name - 1)) &&
                       npm_part_valid(slash + 1, strlen(slash + 1));
        }
        if (strcmp(name, "node_modules") == 0 || strcmp(name, "favicon.ico") == 0)
                return false;
        return npm_part_valid(name, n);
}

/* npm ranges ("^1.2.0", ">=1 <2 || 3.x") and dist-tags ("latest", "next"). */
static bool npm_range_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > VERSION_MAX || s[0] == ' ' || s[n - 1] == ' ')
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr(" .^~<>=|*+_-", *p))
                        return false;
        return true;
}

/* Git refs, registry versions: printable, no whitespace or shell/git-special
 * characters, no "..", not starting with '-' (never an option to git). */
static bool ref_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > VERSION_MAX || s[0] == '-' || s[0] == '/' || strstr(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("._-/+", *p))
                        return false;
        return true;
}

/* A relative path inside a repository: no "..", not absolute, no empty parts. */
static bool subdir_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > VERSION_MAX || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("._-/@+", *p))
                        return false;
        /* ".." as a whole component. */
        for (const char *c = s; c; c = strchr(c, '/')) {
                if (*c == '/')
                        c++;
                size_t clen = strcspn(c, "/");
                if ((clen == 2 && c[0] == '.' && c[1] == '.') || (clen == 1 && c[0] == '.'))
                        return false;
        }
        return true;
}

static bool charset_valid(const char *s, size_t n, const char *extra)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
                        return false;
        return true;
}

/* NAME[@RANGE] for npm; '@' at 0 belongs to the scope. */
static int parse_npm(source_spec *s, const char *body, corral_error *err)
{
        const char *at = strchr(body[0] == '@' ? body + 1 : body, '@');
        size_t nlen = at ? (size_t)(at - body) : strlen(body);
        _cleanup_free_ char *name = xstrndup(body, nlen);

        if (!spec_npm_name_valid(name))
                return corral_error_set(
                        err, EX_USAGE,
                        "invalid npm package name '%s' in '%s': lower-case letters, digits, "
                        "'-', '.', '_', an optional @scope/, at most 214 characters",
                        name, s->raw);
        if (at) {
                if (!npm_range_valid(at + 1))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid npm version range '%s' in '%s'", at + 1,
                                                s->raw);
                s->version = xstrdup(at + 1);
        }
        s->kind = SPEC_NPM;
        s->name = steal_pointer(&name);
        return 0;
}

/* Smithery qualified names: "name" or "@owner/name". */
static int parse_smithery(source_spec *s, const char *body, spec_kind kind, corral_error *err)
{
        const char *p = body[0] == '@' ? body + 1 : body;
        const char *slash = strchr(p, '/');
        bool ok = strlen(body) <= VERSION_MAX;
        if (ok && slash)
                ok = charset_valid(p, (size_t)(slash - p), "-._") &&
                     charset_valid(slash + 1, strlen(slash + 1), "-._");
        else if (ok)
                ok = body[0] != '@' && charset_valid(p, strlen(p), "-._");
        if (!ok)
                return corral_error_set(err, EX_USAGE, "invalid Smithery server name '%s' in '%s'",
                                        body, s->raw);
        s->kind = kind;
        s->name = xstrdup(body);
        return 0;
}

/* REVERSE.DNS/name[@VERSION], as the official MCP Registry names servers. */
static int parse_registry(source_spec *s, const char *body, corral_error *err)
{
        const char *slash = strchr(body, '/');
        const char *at = strchr(body, '@');
        size_t nlen = at ? (size_t)(at - body) : strlen(body);
        if (!slash || (at && at < slash) || nlen > VERSION_MAX ||
            !charset_valid(body, (size_t)(slash - body), "-.") ||
            !memchr(body, '.', (size_t)(slash - body)) || body[0] == '.' || body[0] == '-' ||
            !charset_valid(slash + 1, nlen - (size_t)(slash + 1 - body), "-._"))
                return corral_error_set(err, EX_USAGE,
                                        "invalid registry server name in '%s': expected "
                                        "registry:REVERSE.DNS/name[@VERSION]",
                                        s->raw);
        if (at) {
                if (!ref_valid(at + 1))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid registry version '%s' in '%s'", at + 1,
                                                s->raw);
                s->version = xstrdup(at + 1);
        }
        s->kind = SPEC_REGISTRY;
        s->name = xstrndup(body, nlen);
        return 0;
}

/* OWNER/REPO[@REF][#SUBDIR] on GitHub (after "github:" or "github.com/"). */
static int parse_github(source_spec *s, const char *body, corral_error *err)
{
        _cleanup_free_ char *copy = xstrdup(body);
        char *hash = strchr(copy, '#');
        if (hash) {
                *hash++ = '\0';
                if (!subdir_valid(hash))
                        return corral_error_set(err, EX_USAGE, "invalid subdirectory '%s' in '%s'",
                                                hash, s->raw);
        }
        char *at = strchr(copy, '@');
        if (at) {
                *at++ = '\0';
                if (!ref_valid(at))
                        return corral_error_set(err, EX_USAGE, "invalid git ref '%s' in '%s'", at,
                                                s->raw);
        }
        size_t len = strlen(copy);
        if (len > 0 && copy[len - 1] == '/')
                copy[--len] = '\0';
        if (has_suffix(copy, len, ".git"))
                copy[len -= 4] = '\0';

        char *slash = strchr(copy, '/');
        bool ok = slash && !strchr(slash + 1, '/');
        if (ok) {
                size_t olen = (size_t)(slash - copy), rlen = strlen(slash + 1);
                ok = olen <= 39 && copy[0] != '-' && charset_valid(copy, olen, "-") &&
                     rlen <= 100 && charset_valid(slash + 1, rlen, "-._") &&
                     strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
        }
        if (!ok)
                return corral_error_set(
                        err, EX_USAGE,
                        "invalid GitHub repository '%s' in '%s': expected OWNER/REPO", copy,
                        s->raw);
        s->kind = SPEC_GIT;
        s->github = true;
        s->name = xstrdup(copy);
        s->url = xasprintf("https://github.com/%s.git", copy);
        if (at)
                s->version = xstrdup(at);
        if (hash)
                s->subdir = xstrdup(hash);
        return 0;
}

/* Host part of scheme://[user@]host[:port]/path: non-empty, sane characters. */
static bool url_valid(const char *url, const char **ret_path)
{
        const char *p = strstr(url, "://");
        if (!p)
                return false;
        p += 3;
        size_t hlen = strcspn(p, "/?#");
        if (hlen == 0)
                return false;
        for (size_t i = 0; i < hlen; i++)
                if (!isalnum((unsigned char)p[i]) && !strchr("-._:@[]%", p[i]))
                        return false;
        for (const char *q = p + hlen; *q; q++)
                if ((unsigned char)*q <= ' ' || *q == 0x7f)
                        return false;
        if (ret_path)
                *ret_path = p + hlen;
        return true;
}

/* Any git URL; "#REF" selects a ref, as in npm's git dependencies, and
 * "#REF:SUBDIR" (or "#:SUBDIR") a directory inside the repository (':' never
 * appears in a git ref).  file:// URLs name a repository on this host by an
 * absolute path (host empty or "localhost"). */
static int parse_git_url(source_spec *s, const char *url_in, corral_error *err)
{
        _cleanup_free_ char *url = xstrdup(url_in);
        char *hash = strchr(url, '#');
        char *sub = NULL;
        if (hash) {
                *hash++ = '\0';
                sub = strchr(hash, ':');
                if (sub) {
                        *sub++ = '\0';
                        if (!subdir_valid(sub))
                                return corral_error_set(err, EX_USAGE,
                                                        "invalid subdirectory '%s' in '%s'", sub,
                                                        s->raw);
                }
                if (!hash[0] && !sub)
                        return corral_error_set(err, EX_USAGE, "empty git ref in '%s'", s->raw);
                if (hash[0] && !ref_valid(hash))
                        return corral_error_set(err, EX_USAGE, "invalid git ref '%s' in '%s'", hash,
                                                s->raw);
        }

        const char *path;
        if (has_prefix(url, "git@")) {
                /* scp-like git@host:path */
                const char *colon = strchr(url, ':');
                if (!colon || colon == url + 4 ||
                    !charset_valid(url + 4, (size_t)(colon - url - 4), "-.") ||
                    !charset_valid(colon + 1, strlen(colon + 1), "-._/~"))
                        return corral_error_set(err, EX_USAGE, "invalid git URL '%s'", s->raw);
                path = colon + 1;
        } else if (has_prefix(url, "file://")) {
                path = url + strlen("file://");
                if (has_prefix(path, "localhost/"))
                        path += strlen("localhost");
                if (path[0] != '/')
                        return corral_error_set(err, EX_USAGE,
                                                "invalid git URL '%s': file:// needs an absolute "
                                                "path (file:///srv/repo.git)",
                                                s->raw);
        } else if (!url_valid(url, &path)) {
                return corral_error_set(err, EX_USAGE, "invalid git URL '%s'", s->raw);
        }

        /* name = repository path without ".git" and slashes at either end */
        while (*path == '/')
                path++;
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
                plen--;
        if (has_suffix(path, plen, ".git"))
                plen -= 4;
        if (plen == 0 || !charset_valid(path, plen, "-._/~") ||
            (has_prefix(url, "file://") && strstr(path, "/../")))
                return corral_error_set(err, EX_USAGE, "invalid git URL '%s': no repository path",
                                        s->raw);

        s->kind = SPEC_GIT;
        s->name = xstrndup(path, plen);
        s->url = steal_pointer(&url);
        if (hash && hash[0])
                s->version = xstrdup(hash);
        if (sub)
                s->subdir = xstrdup(sub);
        return 0;
}

char *spec_git_url(const source_spec *s, const char *github_base)
{
        if (!s || s->kind != SPEC_GIT)
                return NULL;
        if (!s->github || !github_base || !github_base[0])
                return s->url ? xstrdup(s->url) : NULL;
        size_t n = strlen(github_base);
        while (n > 0 && github_base[n - 1] == '/')
                n--;
        return xasprintf("%.*s/%s.git", (int)n, github_base, s->name);
}

/* IMAGE[:TAG][@sha256:DIGEST] with IMAGE = [HOST[:PORT]/]PATH, checked with
 * the engine's reference grammar (docker_ref_parse(), the one the docker
 * resolver uses) but kept as typed, without docker.io normalisation, so the
 * spec and the default name read as the user wrote them. */
static int parse_docker(source_spec *s, const char *body, corral_error *err)
{
        docker_ref checked = {0};
        int r = docker_ref_parse(&checked, body, err);
        docker_ref_done(&checked);
        if (r < 0) {
                corral_error_prefix(err, "%s", s->raw);
                return r;
        }

        _cleanup_free_ char *ref = xstrdup(body);
        char *at = strchr(ref, '@');
        if (at) {
                *at++ = '\0';
                s->digest = xstrdup(at);
        }
        char *last_slash = strrchr(ref, '/');
        char *colon = strchr(last_slash ? last_slash : ref, ':');
        if (colon) {
                *colon++ = '\0';
                s->version = xstrdup(colon);
        }
        s->kind = SPEC_DOCKER;
        s->name = steal_pointer(&ref);
        return 0;
}

static bool is_local(const char *s)
{
        return strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || has_prefix(s, "./") ||
               has_prefix(s, "../") || s[0] == '/';
}

/* A "word:" prefix that names a kind: letters, digits, '+', '-', '.'. */
static size_t scheme_len(const char *s)
{
        size_t n = 0;
        if (!isalpha((unsigned char)s[0]))
                return 0;
        while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
                n++;
        return s[n] == ':' ? n : 0;
}

/* An MCP Bundle: a local file (mcpb:PATH, or a path ending in .mcpb) or an
 * https:// (http:// on loopback) URL. */
static int parse_mcpb(source_spec *s, const char *body, corral_error *err)
{
        if (has_prefix(body, "https://") || has_prefix(body, "http://")) {
                if (!url_valid(body, NULL))
                        return corral_error_set(err, EX_USAGE, "invalid bundle URL in '%s'",
                                                s->raw);
                s->url = xstrdup(body);
        }
        s->kind = SPEC_MCPB;
        s->name = xstrdup(body);
        return 0;
}

static int parse(source_spec *s, const char *raw, bool remote, corral_error *err)
{
        if (!remote && is_local(raw) && has_suffix(raw, strlen(raw), ".mcpb"))
                return parse_mcpb(s, raw, err);
        if (has_prefix(raw, "mcpb:") && !remote) {
                if (!raw[5])
                        return corral_error_set(err, EX_USAGE, "empty bundle in '%s'", raw);
                return parse_mcpb(s, raw + 5, err);
        }
        if (is_local(raw)) {
                if (remote)
                        return corral_error_set(
                                err, EX_USAGE,
                                "--remote needs an https:// URL, not the local path '%s'", raw);
                s->kind = SPEC_LOCAL;
                s->name = xstrdup(raw);
                return 0;
        }
        if (has_prefix(raw, "https://") || has_prefix(raw, "http://")) {
                if (remote) {
                        if (!url_valid(raw, NULL))
                                return corral_error_set(err, EX_USAGE, "invalid URL '%s'", raw);
                        s->kind = SPEC_REMOTE;
                        s->name = xstrdup(raw);
                        s->url = xstrdup(raw);
                        return 0;
                }
                const char *frag = strchr(raw, '#');
                size_t n = frag ? (size_t)(frag - raw) : strlen(raw);
                if (has_suffix(raw, n, ".git") || has_suffix(raw, n, ".git/"))
                        return parse_git_url(s, raw, err);
                if (has_prefix(raw, "https://github.com/"))
                        return parse_github(s, raw + strlen("https://github.com/"), err);
                return corral_error_set(err, EX_USAGE,
                                        "'%s' is not a git repository URL: to install a remote MCP "
                                        "server, pass --remote",
                                        raw);
        }
        if (remote)
                return corral_error_set(err, EX_USAGE, "--remote needs an https:// URL, not '%s'",
                                        raw);

        if (has_prefix(raw, "git+https://") || has_prefix(raw, "git+http://") ||
            has_prefix(raw, "git+ssh://") || has_prefix(raw, "git+file://"))
                return parse_git_url(s, raw + 4, err);
        if (has_prefix(raw, "git://") || has_prefix(raw, "ssh://") || has_prefix(raw, "git@") ||
            has_prefix(raw, "file://"))
                return parse_git_url(s, raw, err);
        if (has_prefix(raw, "github.com/"))
                return parse_github(s, raw + strlen("github.com/"), err);

        static const struct {
                const char *prefix;
                int kind;
        } prefixes[] = {
                {"npm:", SPEC_NPM},
                {"smithery:", SPEC_SMITHERY},
                {"smithery-hosted:", SPEC_SMITHERY_HOSTED},
                {"registry:", SPEC_REGISTRY},
                {"github:", SPEC_GIT},
                {"docker:", SPEC_DOCKER},
        };
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
                if (!has_prefix(raw, prefixes[i].prefix))
                        continue;
                const char *body = raw + strlen(prefixes[i].prefix);
                if (!body[0])
                        return corral_error_set(err, EX_USAGE, "empty name in '%s'", raw);
                switch (prefixes[i].kind) {
                case SPEC_NPM:
                        return parse_npm(s, body, err);
                case SPEC_SMITHERY:
                case SPEC_SMITHERY_HOSTED:
                        return parse_smithery(s, body, prefixes[i].kind, err);
                case SPEC_REGISTRY:
                        return parse_registry(s, body, err);
                case SPEC_GIT:
                        return parse_github(s, body, err);
                default:
                        return parse_docker(s, body, err);
                }
        }

        size_t sl = scheme_len(raw);
        if (sl > 0) {
                _cleanup_free_ char *scheme = xstrndup(raw, sl);
                return corral_error_set(
                        err, EX_USAGE,
                        "unknown source kind '%s:' in '%s' (known: npm:, smithery:, "
                        "smithery-hosted:, registry:, github:, docker:, mcpb:, ./path, "
                        "/path, git URLs, file://, https:// with --remote)",
                        scheme, raw);
        }

        /* Bare npm forms: @scope/name[@range] or name@range.  A bare word is
         * refused rather than guessed: it is as likely a directory as a package. */
        if (raw[0] == '@' || strchr(raw, '@'))
                return parse_npm(s, raw, err);
        return corral_error_set(
                err, EX_USAGE,
                "ambiguous source spec '%s': use npm:%s for an npm package, or ./NAME "
                "for a local directory",
                raw, raw);
}

int spec_parse(source_spec *ret, const char *s, bool remote, corral_error *err)
{
        if (!s || !s[0])
                return corral_error_set(err, EX_USAGE, "empty source spec");
        if (strlen(s) > SPEC_MAX)
                return corral_error_set(err, EX_USAGE, "source spec too long (over %d bytes)",
                                        SPEC_MAX);
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                        return corral_error_set(err, EX_USAGE,
                                                "invalid source spec: control character at "
                                                "offset %zu",
                                                (size_t)(p - s));

        source_spec tmp = {.raw = xstrdup(s)};
        int r = parse(&tmp, s, remote, err);
        if (r < 0) {
                spec_done(&tmp);
                return r;
        }
        *ret = tmp;
        return 0;
}

void spec_done(source_spec *s)
{
        if (!s)
                return;
        free(s->raw);
        free(s->name);
        free(s->version);
        free(s->digest);
        free(s->subdir);
        free(s->url);
        *s = (source_spec){0};
}

/* Lower-cases and maps to [a-z0-9-], collapsing runs of '-', trimming '-' at
 * both ends and cutting at the name length limit. */
static char *sanitize_name(const char *s, size_t n)
{
        char *out = xmalloc(n + 1);
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                char m = isalnum(c) ? (char)tolower(c) : '-';
                if (m == '-' && (len == 0 || out[len - 1] == '-'))
                        continue;
                out[len++] = m;
        }
        if (len > SERVER_NAME_MAX)
                len = SERVER_NAME_MAX;
        while (len > 0 && out[len - 1] == '-')
                len--;
        out[len] = '\0';
        if (len == 0 || !server_name_valid(out)) {
                free(out);
                return NULL;
        }
        return out;
}

/* Drops the conventional "this is an MCP server" affixes that say nothing
 * about the server: server-memory, mcp-server-fetch, github-mcp-server. */
static char *strip_affixes(char *name)
{
        static const char *const prefixes[] = {"mcp-server-", "server-"};
        static const char *const suffixes[] = {"-mcp-server"};
        if (!name)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
                size_t pl = strlen(prefixes[i]);
                if (has_prefix(name, prefixes[i]) && name[pl]) {
                        memmove(name, name + pl, strlen(name + pl) + 1);
                        break;
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
                size_t n = strlen(name), sl = strlen(suffixes[i]);
                if (n > sl && has_suffix(name, n, suffixes[i])) {
                        name[n - sl] = '\0';
                        break;
                }
        }
        return name;
}

/* Last '/'-separated component of s[0..n), ignoring trailing slashes. */
static const char *last_component(const char *s, size_t *n)
{
        while (*n > 0 && s[*n - 1] == '/')
                (*n)--;
        size_t start = *n;
        while (start > 0 && s[start - 1] != '/')
                start--;
        *n -= start;
        return s + start;
}

char *spec_default_name(const source_spec *s)
{
        const char *base = NULL;
        size_t n = 0;

        if (!s || !s->name)
                return NULL;
        switch (s->kind) {
        case SPEC_NPM:
        case SPEC_SMITHERY:
        case SPEC_SMITHERY_HOSTED:
        case SPEC_REGISTRY:
        case SPEC_DOCKER:
        case SPEC_LOCAL:
                n = strlen(s->name);
                base = last_component(s->name, &n);
                if (s->kind == SPEC_LOCAL &&
                    ((n == 1 && base[0] == '.') || (n == 2 && base[0] == '.' && base[1] == '.')))
                        return NULL; /* needs the cwd: the caller knows better */
                break;
        case SPEC_MCPB: {
                n = strcspn(s->name, "?#");
                base = last_component(s->name, &n);
                if (n > 5 && has_suffix(base, n, ".mcpb"))
                        n -= 5;
                break;
        }
        case SPEC_GIT:
                if (s->subdir) {
                        n = strlen(s->subdir);
                        base = last_component(s->subdir, &n);
                } else {
                        n = strlen(s->name);
                        base = last_component(s->name, &n);
                }
                break;
        case SPEC_REMOTE: {
                /* the organisation's label of the host: mcp.example.com → example */
                const char *h = strstr(s->name, "://");
                h = h ? h + 3 : s->name;
                const char *user = memchr(h, '@', strcspn(h, "/?#"));
                if (user)
                        h = user + 1;
                size_t hl = strcspn(h, ":/?#");
                const char *last_dot = NULL, *prev_dot = NULL;
                for (size_t i = 0; i < hl; i++)
                        if (h[i] == '.') {
                                prev_dot = last_dot;
                                last_dot = h + i;
                        }
                bool numeric = true;
                for (size_t i = 0; i < hl; i++)
                        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
                                numeric = false;
                if (last_dot && !numeric) {
                        base = prev_dot ? prev_dot + 1 : h;
                        n = (size_t)(last_dot - base);
                } else {
                        base = h;
                        n = hl;
                }
                break;
        }
        }
        return strip_affixes(sanitize_name(base, n));
}
