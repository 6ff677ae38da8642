/* Users and site policy (issue 15; DESIGN.md "Gateway", Identity): who is on
 * the other end of an interface, who is an admin, and what a non-admin user
 * may install into a system store.
 *
 * Identity: unix peers by SO_PEERCRED uid → user name (passwd), `serve
 * --stdio` and `corral run` as the invoking user, HTTP by the bearer token's
 * user name.  Names are the identity: a server's manifest "owner" is a user
 * name, and an HTTP token for "alice" and the local user alice are the same
 * user.  Admins are root (uid 0 or the name "root") and the members of the
 * site's admin group (corral.json "site": {"admin_group"}, default
 * "corral-admin"; primary and supplementary membership both count).
 *
 * corral.json keys (all optional; unknown keys in "site" are refused so that
 * a typo cannot loosen the policy):
 *
 *   { "site": { "admin_group": "corral-admin",
 *               "socket_group": "corral",
 *               "user_installs": true,
 *               "user_sources": ["npm", "registry", "smithery", "git", "docker"],
 *               "user_profiles": ["default", "strict"],
 *               "user_network": ["none"],
 *               "user_mounts": false,
 *               "user_max_servers": 16,
 *               "user_max_memory_mb": 8192 } } */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/spec.h"

#define USERS_DEFAULT_ADMIN_GROUP "corral-admin"
#define USERS_DEFAULT_SOCKET_GROUP "corral"
#define USERS_MAX_LIST 64 /* entries in one of the lists above */

typedef struct users_site {
        char *admin_group;         /* group whose members are admins */
        char *socket_group;        /* group that may use the system sockets */
        bool user_installs;        /* non-admins may install at all */
        unsigned sources;          /* bit (1u << spec_kind) per kind users may install */
        char **profiles;           /* sandbox profiles users may choose (NULL-terminated) */
        bool network_host;         /* users may get network "host" */
        bool mounts;               /* users may give --mount and absolute command paths */
        unsigned max_servers;      /* per user; 0: none at all */
        unsigned max_memory_mb;    /* sum of memory_mb over a user's servers */
} users_site;

/* Fills *ret from config's "site" object (config may be NULL: the defaults
 * above).  0, or -EX_CONFIG naming the key that is wrong (unknown key, wrong
 * type, unknown source kind, profile or network, a list over USERS_MAX_LIST).
 * *ret is untouched on failure; users_site_done() frees it. */
int users_site_load(const cJSON *config, users_site *ret, corral_error *err);
void users_site_done(users_site *s);

/* The user name of uid from the passwd database (owned), or NULL when it has
 * none.  Reads /etc/passwd through NSS: call once per connection, not per
 * message. */
char *users_name_of_uid(uid_t uid);

/* Whether the local user is an admin: uid 0, or a member of
 * site->admin_group (site NULL: the default group).  users_uid_is_admin
 * looks the uid's name up; a uid without a passwd entry is an admin only when
 * it is 0.  users_name_is_admin: "root", or a passwd user in the group (a
 * name with no passwd entry is never an admin). */
bool users_uid_is_admin(const users_site *site, uid_t uid);
bool users_name_is_admin(const users_site *site, const char *name);

/* An interface's caller: uid (>= 0 for a unix peer, -1 otherwise) and user
 * name (NULL anonymous).  A uid is judged by users_uid_is_admin (the
 * daemon's own uid counts as root), a name alone by users_name_is_admin. */
bool users_identity_is_admin(const users_site *site, int64_t uid, const char *user);

/* Whether a user (not an admin) may see, call and manage a server owned by
 * owner (NULL: a global server, visible to everyone at its level). */
static inline bool users_owner_matches(const char *owner, const char *user)
{
        if (!owner)
                return true;
        return user && strcmp(owner, user) == 0;
}

/* Before anything is fetched: may a non-admin install this?  Checks
 * user_installs, the spec's kind against user_sources (and refuses git
 * file:// URLs and local paths, which the daemon would read with its own
 * rights), --remote, --mount entries and absolute or ".." paths in the
 * command unless user_mounts.  0, or -EX_NOPERM saying which rule refused. */
int users_check_spec(const users_site *site, const source_spec *spec, char *const *command,
                     char *const *mounts, corral_error *err);

/* After the code is fetched and the manifest filled, before the commit: the
 * sandbox profile and network against user_profiles/user_network, and the
 * user's quota: count is the number of servers the user already owns (not
 * counting the one being replaced), memory_mb the sum of their memory_mb.
 * 0, or -EX_NOPERM. */
int users_check_manifest(const users_site *site, const manifest *m, unsigned count,
                         unsigned memory_mb, corral_error *err);
