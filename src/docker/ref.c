/* Image references: the reference grammar of distribution/reference
 * (github.com/distribution/reference, "reference.go"), normalised as the
 * engine does for docker.io names. */
#include <ctype.h>
#include <string.h>

#include "corral/docker.h"

#define REF_MAX 512  /* the whole reference; the grammar allows 255 for the name */
#define TAG_MAX 128

static bool has_prefix(const char *s, const char *p)
{
        return strncmp(s, p, strlen(p)) == 0;
}

static bool digest_valid(const char *d)
{
        if (!has_prefix(d, "sha256:") || strlen(d) != 7 + 64)
                return false;
        for (const char *p = d + 7; *p; p++)
                if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
                        return false;
        return true;
}

/* A path component: lower-case alphanumerics joined by '.', '_', "__" or
 * dashes, starting and ending with an alphanumeric. */
static bool component_valid(const char *s, size_t n)
{
        if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
                        return false;
                if (c == '.' && (s[i + 1] == '.' || s[i + 1] == '_' || s[i + 1] == '-'))
                        return false;
        }
        return true;
}

static bool host_valid(const char *s, size_t n)
{
        size_t colons = 0;

        if (n == 0 || n > 255 || s[0] == '-' || s[0] == '.' || s[0] == ':')
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == ':') {
                        colons++;
                        if (i + 1 == n)
                                return false;
                        for (size_t j = i + 1; j < n; j++)
                                if (!isdigit((unsigned char)s[j]))
                                        return false;
                        break;
                }
                if (!(isalnum(c) || c == '.' || c == '-'))
                        return false;
        }
        return colons <= 1;
}

static bool tag_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > TAG_MAX || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
                        return false;
        return true;
}

void docker_ref_done(docker_ref *r)
{
        if (!r)
                return;
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (docker_ref){0};
}

int docker_ref_parse(docker_ref *ret, const char *s, corral_error *err)
{
        _cleanup_free_ char *ref = NULL, *registry = NULL, *repo = NULL, *tag = NULL,
                            *digest = NULL;
        char *at, *slash, *colon, *path;

        if (!s || !*s)
                return corral_error_set(err, EX_USAGE, "invalid image reference: empty");
        if (strlen(s) > REF_MAX)
                return corral_error_set(err, EX_USAGE, "invalid image reference: longer than %d",
                                        REF_MAX);
        ref = xstrdup(s);
        at = strchr(ref, '@');
        if (at) {
                *at++ = '\0';
                if (!digest_valid(at))
                        return corral_error_set(err, EX_USAGE,
                                                "invalid image digest '%s': expected sha256: and "
                                                "64 lower-case hex digits",
                                                at);
                digest = xstrdup(at);
        }
        slash = strrchr(ref, '/');
        colon = strchr(slash ? slash : ref, ':');
        if (colon) {
                *colon++ = '\0';
                if (!tag_valid(colon))
                        return corral_error_set(err, EX_USAGE, "invalid image tag '%s'", colon);
                tag = xstrdup(colon);
        }

        path = ref;
        slash = strchr(ref, '/');
        if (slash) {
                size_t first = (size_t)(slash - ref);
                if (memchr(ref, '.', first) || memchr(ref, ':', first) ||
                    (first == 9 && memcmp(ref, "localhost", 9) == 0)) {
                        if (!host_valid(ref, first))
                                return corral_error_set(err, EX_USAGE,
                                                        "invalid registry host '%.*s'",
                                                        (int)first, ref);
                        registry = xstrndup(ref, first);
                        path = slash + 1;
                }
        }
        if (!registry || strcmp(registry, "index.docker.io") == 0 ||
            strcmp(registry, "registry-1.docker.io") == 0) {
                free(registry);
                registry = xstrdup("docker.io");
        }
        for (const char *p = path;;) {
                size_t n = strcspn(p, "/");
                if (!component_valid(p, n))
                        return corral_error_set(err, EX_USAGE, "invalid image name '%s'", ref);
                if (!p[n])
                        break;
                p += n + 1;
        }
        if (strcmp(registry, "docker.io") == 0 && !strchr(path, '/'))
                repo = xasprintf("library/%s", path);
        else
                repo = xstrdup(path);
        if (!tag && !digest)
                tag = xstrdup("latest");

        ret->registry = steal_pointer(&registry);
        ret->repository = steal_pointer(&repo);
        ret->tag = steal_pointer(&tag);
        ret->digest = steal_pointer(&digest);
        return 0;
}

char *docker_ref_name(const docker_ref *r)
{
        return xasprintf("%s/%s", r->registry, r->repository);
}

char *docker_ref_tagged(const docker_ref *r)
{
        if (r->tag)
                return xasprintf("%s/%s:%s", r->registry, r->repository, r->tag);
        return xasprintf("%s/%s@%s", r->registry, r->repository, r->digest);
}

char *docker_ref_pinned(const docker_ref *r, const char *digest)
{
        return xasprintf("%s/%s@%s", r->registry, r->repository, digest);
}

bool docker_ref_matches_repo_digest(const docker_ref *r, const char *entry,
                                    const char **ret_digest)
{
        _cleanup_(docker_ref_done) docker_ref e = {0};
        const char *at = entry ? strrchr(entry, '@') : NULL;

        if (!at || docker_ref_parse(&e, entry, NULL) < 0 || !e.digest)
                return false;
        if (strcmp(e.registry, r->registry) != 0 || strcmp(e.repository, r->repository) != 0)
                return false;
        if (ret_digest)
                *ret_digest = at + 1;
        return true;
}
