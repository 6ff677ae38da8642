/* Source specs: the strings users pass to `corral install` (DESIGN.md,
 * "Source specs"), parsed into a tagged struct.  Parsing never touches the
 * network or the filesystem. */
#pragma once

#include <stdbool.h>

#include "corral/error.h"

typedef enum {
        SPEC_NPM,            /* npm:NAME[@RANGE], @scope/name[@range], name@range */
        SPEC_SMITHERY,       /* smithery:QUALIFIED_NAME */
        SPEC_SMITHERY_HOSTED,/* smithery-hosted:QUALIFIED_NAME */
        SPEC_REGISTRY,       /* registry:REVERSE.DNS/name[@VERSION] */
        SPEC_GIT,            /* github:OWNER/REPO[@REF][#SUBDIR], github.com/OWNER/REPO, git URLs
                                (URL[#REF[:SUBDIR]]), file:///PATH */
        SPEC_DOCKER,         /* docker:IMAGE[:TAG][@sha256:DIGEST] */
        SPEC_LOCAL,          /* ./path, ../path, /path */
        SPEC_REMOTE,         /* https://…/mcp with --remote */
        SPEC_MCPB,           /* mcpb:PATH_OR_URL, ./x.mcpb, /x.mcpb (url set for a URL) */
} spec_kind;

typedef struct source_spec {
        spec_kind kind;
        char *raw;     /* the spec as given */
        char *name;    /* npm package, smithery/registry name, image repository,
                          OWNER/REPO, local path (as given), remote URL */
        char *version; /* npm range or dist-tag, registry version, docker tag, git ref; NULL if none */
        char *digest;  /* docker "sha256:…"; NULL if none */
        char *subdir;  /* git #SUBDIR; NULL if none */
        char *url;     /* git clone URL or remote endpoint; NULL otherwise */
        bool github;   /* git: github:/github.com/ form; url is on the GitHub base
                          (spec_git_url() moves it to a configured one) */
} source_spec;

/* Parses s into *ret (fields owned by ret; free with spec_done()).  remote is
 * true when --remote was given (required for https://…/mcp endpoints).
 * Returns 0, or -EX_USAGE with a message naming what is wrong (empty spec,
 * bad npm name, bad digest, unknown prefix, URL without --remote, …). */
int spec_parse(source_spec *ret, const char *s, bool remote, corral_error *err);
void spec_done(source_spec *s);

/* The clone URL of a SPEC_GIT spec: for the github: and github.com/ forms,
 * github_base (e.g. "https://github.com", a mirror, or a test's git daemon;
 * trailing '/' ignored) + "/OWNER/REPO.git", the GitHub URL when github_base
 * is NULL or empty; for URL forms, the URL as given (without "git+" and the
 * fragment).  Owned; NULL when s is not a git spec. */
char *spec_git_url(const source_spec *s, const char *github_base);

/* "npm", "smithery", "smithery-hosted", "registry", "git", "docker", "local",
 * "remote": the `source.kind` values of manifest.json. */
const char *spec_kind_name(spec_kind k);

/* A server name derived from the spec (e.g. npm:@modelcontextprotocol/server-memory
 * → "memory", docker:ghcr.io/x/foo-mcp:1 → "foo-mcp", ./dir → basename),
 * lower-cased and mapped to [a-z0-9-]; owned, NULL when nothing valid remains. */
char *spec_default_name(const source_spec *s);

/* Server names: [a-z0-9][a-z0-9-]{0,47}, never containing "__" (DESIGN.md). */
bool server_name_valid(const char *name);

/* npm package names as npm accepts them for new packages: lower-case
 * [a-z0-9._-], an optional "@scope/", neither part starting with '.' or '_',
 * at most 214 characters.  Used for specs and for dependency names read from
 * package.json (which then never escape node_modules/). */
bool spec_npm_name_valid(const char *name);
