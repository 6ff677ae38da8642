/* Resolver dispatch: a source spec becomes an installed server.  Each kind has
 * its own module under resolvers/; kinds not built yet fail with -EX_UNAVAILABLE
 * and a message naming the kind. */
#pragma once

#include <stdbool.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/spec.h"
#include "corral/store.h"

typedef struct install_options {
        const char *spec;      /* as typed */
        const char *name;      /* --name, or NULL to derive from the spec */
        char **command;        /* argv after "--", or NULL */
        char **env;            /* KEY=VALUE list from --env, or NULL */
        bool remote;           /* --remote */
        bool force;            /* --force: replace an installed server of the same name */
        const char *sandbox;   /* --sandbox PROFILE or NULL */
} install_options;

/* Resolves, fetches into staging, writes the manifest and commits it to the
 * store (holding the store lock).  On success *ret (optional) receives the
 * installed manifest.  On failure nothing is left in the store. */
int resolver_install(store *s, const install_options *opt, manifest **ret, corral_error *err);

/* Local directories (resolvers/local.c): copies spec->name into pkg_dir and
 * fills m->command: the explicit command when given, else `node <bin>` from
 * package.json's "bin" (a string, or the entry named after the package), else
 * the bin of the single dependency that has one (a directory where
 * `npm install PKG` was run).  -EX_NOINPUT, -EX_DATAERR or -EX_USAGE. */
int resolver_local_fetch(const source_spec *spec, char *const *command, const char *pkg_dir,
                         manifest *m, corral_error *err);
