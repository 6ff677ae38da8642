/* Git sources (resolvers/git/, issue 14): repositories fetched with libgit2
 * (no `git` binary at run time) into a cached bare mirror, a ref resolved to
 * a commit, and that commit checked out into staging.
 *
 * What never happens: hooks (libgit2 runs none), filters (checkout runs with
 * filters disabled, so no smudge/clean/ident/eol conversion, and the user's
 * and system git config are not read: no url.insteadOf, no filter drivers),
 * ssh or ext:: transports, submodules without --submodules, submodule URLs
 * other than https:// and git:// (never file://, ext::, ssh).  LFS pointer
 * files are left as they are, with a warning.
 *
 * Caps (environment overrides, bytes or counts): CORRAL_GIT_MAX_FETCH (pack
 * bytes received in one fetch, default 1 GiB), CORRAL_GIT_MAX_CHECKOUT (sum of
 * the file sizes of the checked-out tree, default 1 GiB; checked from the
 * object headers before anything is written), CORRAL_GIT_MAX_ENTRIES (tree
 * entries, default 200000), GIT_MAX_SUBMODULES submodules, GIT_MAX_DEPTH of
 * nesting.  A tree with a symlink that is absolute or leaves the tree is
 * refused. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "corral/error.h"
#include "corral/resolver.h"

#define GIT_DEFAULT_MAX_FETCH (1ull << 30)
#define GIT_DEFAULT_MAX_CHECKOUT (1ull << 30)
#define GIT_DEFAULT_MAX_ENTRIES 200000ull
#define GIT_MAX_SUBMODULES 64
#define GIT_MAX_DEPTH 4
#define GIT_MAX_REF 256

typedef struct git_source_opts {
        const char *cache_dir; /* the store's cache dir; mirrors live in CACHE/git/ */
        bool offline;          /* use the mirror as it is, never touch the network */
        bool submodules;       /* --submodules */
        bool progress;         /* one progress line on stderr (a TTY) */
        struct git_auth *auth; /* http(s) credentials (resolvers/git/auth.c), or NULL */
} git_source_opts;

/* What a ref resolved to. */
typedef struct git_resolution {
        char commit[41]; /* full hex id */
        char *ref;       /* the branch or tag it came from ("main", "v1.0"), or
                            the commit as given; owned */
} git_resolution;

/* Updates (or creates) the bare mirror of url and resolves ref: a tag, a
 * branch (tags win, as in git rev-parse) or a full 40-hex commit; NULL means
 * the remote's HEAD branch.  *ret filled on success (free ret->ref).
 * -EX_UNAVAILABLE (host unreachable, repository missing, --offline without a
 * mirror), -EX_NOINPUT (no such ref or commit), -EX_DATAERR (a cap),
 * -EX_CANTCREAT (cache).  Blocks for the duration of the fetch: call it from
 * the CLI, never from the daemon's loop. */
int git_source_resolve(const char *url, const char *ref, const git_source_opts *o,
                       git_resolution *ret, corral_error *err);

/* Checks out commit (already in url's mirror, e.g. after
 * git_source_resolve()) into dest, which must not exist: the tree is checked
 * against the caps and for escaping symlinks first, then written with
 * filters disabled.  With o->submodules, submodules are fetched into their
 * own mirrors and checked out at their recorded commits (https:// and
 * git:// URLs only, relative URLs against url); without it, a tree that has
 * submodules installs with their directories empty and a warning.
 * -EX_DATAERR (cap, symlink, refused submodule URL), -EX_NOINPUT (commit not
 * in the mirror), -EX_UNAVAILABLE (a submodule cannot be fetched),
 * -EX_CANTCREAT. */
int git_source_checkout(const char *url, const char *commit, const char *dest,
                        const git_source_opts *o, corral_error *err);

/* resolver_fetch_fn for SPEC_GIT (resolvers/git/git.c): the clone URL is
 * spec_git_url() with the GitHub base from $CORRAL_GITHUB_URL, else
 * corral.json's "github_url", else https://github.com.  Records the URL in
 * m->resolved_url, the ref in resolved_version and the commit in
 * resolved_commit; with opt->frozen, checks out the installed server's
 * commit again instead of resolving the ref.  The command: opt->command, else
 * `node BIN` from package.json's "bin" in the checked-out tree (or SUBDIR),
 * else its "main"; with SUBDIR the server's cwd is pkg/SUBDIR.  URLs with a
 * password are refused (credentials never reach the manifest). */
int resolver_git_fetch(store *s, const install_options *opt, const source_spec *spec,
                       const char *pkg_dir, manifest *m, corral_error *err);

/* The GitHub base URL for the store's configuration (owned): $CORRAL_GITHUB_URL,
 * else corral.json "github_url", else "https://github.com".  -EX_CONFIG when
 * the configured value is not a string. */
int git_github_base(const corral_paths *paths, char **ret, corral_error *err);

/* The command of a checked-out tree (dir, shown as where in messages) when
 * none was given: `node BIN` from package.json's "bin", else `node MAIN`.
 * Sets m->command.  -EX_USAGE (no package.json, no bin or main, several
 * bins), -EX_UNAVAILABLE (a Dockerfile, pyproject.toml, go.mod or
 * Cargo.toml tree: not built yet), -EX_DATAERR (bad package.json). */
int git_detect_command(const char *dir, const char *where, manifest *m, corral_error *err);

/* `corral update NAME` for a git server: fetches, resolves the spec's ref
 * again and, when it moved, reinstalls NAME at the new commit (same spec and
 * every setting, as install_options.update_from keeps them; a command given
 * at install is kept, a detected one is detected again).  ret_old / ret_new (owned) get the commits; equal
 * when nothing changed.  dry_run: only resolves (the mirror is fetched),
 * nothing is reinstalled and *ret is the installed manifest.  -EX_USAGE when
 * the spec pins a full commit, else the errors of resolver_git_fetch(). */
int git_update(store *s, const char *name, bool progress, bool dry_run, char **ret_old,
               char **ret_new, manifest **ret, corral_error *err);
