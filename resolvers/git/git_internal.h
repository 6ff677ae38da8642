/* Shared between the files of resolvers/git/ only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/npm.h"
#include "corral/paths.h"
#include "corral/resolver.h"
#include "corral/store.h"

/* An unsigned cap from the environment ("1048576", "64M", "1G"), def when
 * unset, malformed or 0. */
uint64_t git_env_limit(const char *name, uint64_t def);
/* git_libgit2_init() with the user's and system's git config switched off;
 * every call is paired with git_lib_close(). */
void git_lib_open(void);
void git_lib_close(void);
/* libgit2's last error message (borrowed). */
const char *git_lib_message(void);
/* url without any user:password@ part, for messages (owned). */
char *git_url_display(const char *url);
/* CACHE/git/<first 128 bits of sha256(url) in hex>.git (owned). */
char *git_mirror_path(const char *cache_dir, const char *url);
/* Takes the mirror's flock (MIRROR.lock); returns the fd or a negative code. */
int git_mirror_lock(const char *mirror, corral_error *err);

/* ---- git.c and workspaces.c: the build of a checked-out tree ---------- */


/* dir/package.json parsed (owned), NULL when there is none (*rc 0) or on
 * an error (*rc negative, err set). */
cJSON *git_read_package_json(const char *dir, corral_error *err, int *rc);
/* Appends pkg's "dependencies", "optionalDependencies" and, when dev,
 * "devDependencies" to *deps (names and ranges borrowed from pkg), skipping
 * names already there and those skip() accepts.  0 or -EX_DATAERR. */
int git_package_deps(const cJSON *pkg, bool dev, bool (*skip)(const char *name, void *ud),
                     void *ud, npm_dep **deps, size_t *n, corral_error *err);
/* "build", else "prepare"; *ret_script its script (borrowed) or NULL.
 * NULL with err set when the script is too long. */
const char *git_build_event(const cJSON *pkg, const char **ret_script, corral_error *err);
/* Runs script (`sh -c`) in dir under corral-sandbox with the tree pkg_dir
 * writable (build_run()), then checks the tree (build_check_tree()). */
int git_run_script(store *s, const install_options *opt, const char *pkg_dir,
                   const char *dir, const cJSON *pkg, const char *event,
                   const char *script, const manifest *m, corral_error *err);
/* A root package.json with "workspaces" and no #SUBDIR: -EX_USAGE naming
 * the workspaces. */
int git_workspaces_refuse_root(const char *root, const cJSON *root_pkg,
                               corral_error *err);
/* resolvers/git/workspaces.c: when root's package.json declares workspaces
 * and subdir is one of them, installs and builds it (see the file's
 * comment) and returns 1; 0 when it is not a workspace build; negative
 * sysexits codes with err set. */
int git_workspaces_build(store *s, const install_options *opt, const char *root,
                         const char *subdir, manifest *m, corral_error *err);

/* ---- auth.c: credentials for http(s) fetches -------------------------- */

typedef struct git_auth git_auth;
struct git_credential;
/* Reads corral.json "git_auth" and finds ~/.git-credentials (see auth.c).
 * 0, or -EX_CONFIG for a bad "git_auth". */
int git_auth_load(const corral_paths *paths, git_auth **ret, corral_error *err);
git_auth *git_auth_free(git_auth *a);
static inline void git_auth_freep(git_auth **a)
{
        git_auth_free(*a);
}
/* A git_credential_acquire_cb; payload is the git_auth. */
int git_auth_credential(struct git_credential **out, const char *url,
                        const char *username_from_url, unsigned int allowed_types,
                        void *payload);
/* Before each fetch. */
void git_auth_reset(git_auth *a);
/* After a failed fetch: -EX_NOPERM with err set when it failed for
 * credentials (refused, or asked for and none configured), else 0. */
int git_auth_error(const git_auth *a, const char *shown, corral_error *err);

/* resolvers/git/dockerfile.c: builds dir (a tree with a Dockerfile) into an
 * image through the engine and makes m a docker server pinned by the image
 * id; 1 when done, negative sysexits codes with err set. */
int git_dockerfile_build(store *s, const install_options *opt, const char *dir,
                         const char *pkg_dir, manifest *m, corral_error *err);
