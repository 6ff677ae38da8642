/* Users, admins and what a non-admin may install (include/corral/users.h). */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/config.h"
#include "corral/jsonutil.h"
#include "corral/users.h"

#define NSS_BUF 16384
#define MAX_GROUPS 1024

static const char *const all_profiles[] = {"default", "strict", "log", "none"};
static const char *const all_networks[] = {"none", "host"};
static const spec_kind default_sources[] = {SPEC_NPM, SPEC_REGISTRY, SPEC_SMITHERY, SPEC_GIT,
                                            SPEC_DOCKER};

static bool in_list(const char *const *list, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], s) == 0)
                        return true;
        return false;
}

static int kind_of(const char *name, spec_kind *ret)
{
        for (int k = SPEC_NPM; k <= SPEC_REMOTE; k++)
                if (strcmp(spec_kind_name((spec_kind)k), name) == 0) {
                        *ret = (spec_kind)k;
                        return 0;
                }
        return -1;
}

/* A list of strings under key: each checked by ok(); NULL entry list when
 * the key is absent (*ret untouched). */
static int get_strings(const cJSON *site, const char *key, const char *const *allowed,
                       size_t n_allowed, char ***ret, corral_error *err)
{
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(site, key), *it;
        _cleanup_strv_ char **out = xcalloc(1, sizeof(char *));

        if (!arr)
                return 0;
        if (!cJSON_IsArray(arr))
                return corral_error_set(err, EX_CONFIG, "site.%s: must be an array of strings",
                                        key);
        if (cJSON_GetArraySize(arr) > USERS_MAX_LIST)
                return corral_error_set(err, EX_CONFIG, "site.%s: more than %d entries", key,
                                        USERS_MAX_LIST);
        cJSON_ArrayForEach(it, arr)
        {
                spec_kind k;
                if (!cJSON_IsString(it))
                        return corral_error_set(err, EX_CONFIG,
                                                "site.%s: must be an array of strings", key);
                if (allowed ? !in_list(allowed, n_allowed, it->valuestring)
                            : kind_of(it->valuestring, &k) < 0)
                        return corral_error_set(err, EX_CONFIG, "site.%s: unknown value '%.64s'",
                                                key, it->valuestring);
                out = strv_push(out, it->valuestring);
        }
        *ret = steal_pointer(&out);
        return 0;
}

static int get_bool(const cJSON *site, const char *key, bool *ret, corral_error *err)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(site, key);
        if (!j)
                return 0;
        if (!cJSON_IsBool(j))
                return corral_error_set(err, EX_CONFIG, "site.%s: must be true or false", key);
        *ret = cJSON_IsTrue(j);
        return 0;
}

static int get_uint(const cJSON *site, const char *key, unsigned max, unsigned *ret,
                    corral_error *err)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(site, key);
        if (!j)
                return 0;
        if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > max ||
            j->valuedouble != (double)(unsigned)j->valuedouble)
                return corral_error_set(err, EX_CONFIG, "site.%s: must be an integer 0..%u", key,
                                        max);
        *ret = (unsigned)j->valuedouble;
        return 0;
}

static int get_group(const cJSON *site, const char *key, char **ret, corral_error *err)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(site, key);
        if (!j)
                return 0;
        if (!cJSON_IsString(j) || !j->valuestring[0] || strlen(j->valuestring) > 64)
                return corral_error_set(err, EX_CONFIG, "site.%s: must be a group name", key);
        free(*ret);
        *ret = xstrdup(j->valuestring);
        return 0;
}

int users_site_load(const cJSON *config, users_site *ret, corral_error *err)
{
        const cJSON *site = config ? cJSON_GetObjectItemCaseSensitive(config, "site") : NULL;
        users_site s = {
                .admin_group = xstrdup(USERS_DEFAULT_ADMIN_GROUP),
                .socket_group = xstrdup(USERS_DEFAULT_SOCKET_GROUP),
                .user_installs = true,
                .max_servers = 16,
                .max_memory_mb = 8192,
        };
        _cleanup_strv_ char **sources = NULL, **networks = NULL;
        int r = 0;

        for (size_t i = 0; i < ARRAY_SIZE(default_sources); i++)
                s.sources |= 1u << default_sources[i];
        s.profiles = strv_push(strv_push(xcalloc(1, sizeof(char *)), "default"), "strict");
        if (site && !cJSON_IsObject(site))
                r = corral_error_set(err, EX_CONFIG, "site: must be an object");
        if (r == 0)
                r = config_check_object(site, "site", config_object_keys("site"), err);
        if (r == 0 && site) {
                char **profiles = NULL;
                if ((r = get_group(site, "admin_group", &s.admin_group, err)) < 0 ||
                    (r = get_group(site, "socket_group", &s.socket_group, err)) < 0 ||
                    (r = get_bool(site, "user_installs", &s.user_installs, err)) < 0 ||
                    (r = get_bool(site, "user_mounts", &s.mounts, err)) < 0 ||
                    (r = get_uint(site, "user_max_servers", 100000, &s.max_servers, err)) < 0 ||
                    (r = get_uint(site, "user_max_memory_mb", 1u << 30, &s.max_memory_mb, err)) <
                            0 ||
                    (r = get_strings(site, "user_sources", NULL, 0, &sources, err)) < 0 ||
                    (r = get_strings(site, "user_profiles", all_profiles,
                                     ARRAY_SIZE(all_profiles), &profiles, err)) < 0 ||
                    (r = get_strings(site, "user_network", all_networks,
                                     ARRAY_SIZE(all_networks), &networks, err)) < 0) {
                        strv_free(profiles);
                } else if (profiles) {
                        strv_free(s.profiles);
                        s.profiles = profiles;
                }
        }
        if (r < 0) {
                users_site_done(&s);
                return r;
        }
        if (sources) {
                s.sources = 0;
                for (size_t i = 0; sources[i]; i++) {
                        spec_kind k;
                        if (kind_of(sources[i], &k) == 0)
                                s.sources |= 1u << k;
                }
        }
        for (size_t i = 0; networks && networks[i]; i++)
                if (strcmp(networks[i], "host") == 0)
                        s.network_host = true;
        *ret = s;
        return 0;
}

void users_site_done(users_site *s)
{
        if (!s)
                return;
        free(s->admin_group);
        free(s->socket_group);
        strv_free(s->profiles);
        *s = (users_site){0};
}

char *users_name_of_uid(uid_t uid)
{
        struct passwd pw, *res = NULL;
        _cleanup_free_ char *buf = xmalloc(NSS_BUF);

        if (getpwuid_r(uid, &pw, buf, NSS_BUF, &res) != 0 || !res || !res->pw_name)
                return NULL;
        return xstrdup(res->pw_name);
}

/* Whether the passwd user name (primary group gid) is in group. */
static bool in_group(const char *name, gid_t primary, const char *group)
{
        struct group gr, *res = NULL;
        _cleanup_free_ char *buf = xmalloc(NSS_BUF);
        gid_t groups[MAX_GROUPS];
        int n = MAX_GROUPS;

        if (getgrnam_r(group, &gr, buf, NSS_BUF, &res) != 0 || !res)
                return false;
        if (res->gr_gid == primary)
                return true;
        if (getgrouplist(name, primary, groups, &n) < 0)
                return false; /* more than MAX_GROUPS: not worth a guess */
        for (int i = 0; i < n; i++)
                if (groups[i] == res->gr_gid)
                        return true;
        return false;
}

static bool passwd_is_admin(const users_site *site, const struct passwd *pw)
{
        const char *group = site && site->admin_group ? site->admin_group
                                                      : USERS_DEFAULT_ADMIN_GROUP;
        if (pw->pw_uid == 0)
                return true;
        return in_group(pw->pw_name, pw->pw_gid, group);
}

bool users_uid_is_admin(const users_site *site, uid_t uid)
{
        struct passwd pw, *res = NULL;
        _cleanup_free_ char *buf = NULL;

        if (uid == 0)
                return true;
        buf = xmalloc(NSS_BUF);
        if (getpwuid_r(uid, &pw, buf, NSS_BUF, &res) != 0 || !res)
                return false;
        return passwd_is_admin(site, res);
}

bool users_name_is_admin(const users_site *site, const char *name)
{
        struct passwd pw, *res = NULL;
        _cleanup_free_ char *buf = NULL;

        if (!name || !name[0])
                return false;
        if (strcmp(name, "root") == 0)
                return true;
        buf = xmalloc(NSS_BUF);
        if (getpwnam_r(name, &pw, buf, NSS_BUF, &res) != 0 || !res)
                return false;
        return passwd_is_admin(site, res);
}

bool users_identity_is_admin(const users_site *site, int64_t uid, const char *user)
{
        if (uid >= 0)
                return (uid_t)uid == geteuid() || users_uid_is_admin(site, (uid_t)uid);
        return users_name_is_admin(site, user);
}

static bool path_like(const char *a)
{
        return a[0] == '/' || strcmp(a, "..") == 0 || strncmp(a, "../", 3) == 0 ||
               strstr(a, "/../") != NULL || strstr(a, "=/") != NULL;
}

int users_check_spec(const users_site *site, const source_spec *spec, char *const *command,
                     char *const *mounts, corral_error *err)
{
        if (!site->user_installs)
                return corral_error_set(err, EX_NOPERM,
                                        "this site lets only admins install servers "
                                        "(corral.json site.user_installs)");
        if (!(site->sources & (1u << spec->kind)))
                return corral_error_set(err, EX_NOPERM,
                                        "%s sources are for admins on this site "
                                        "(corral.json site.user_sources)",
                                        spec_kind_name(spec->kind));
        if (spec->kind == SPEC_GIT && spec->url &&
            (strncmp(spec->url, "file:", 5) == 0 || spec->url[0] == '/' ||
             strncmp(spec->url, "./", 2) == 0 || strncmp(spec->url, "../", 3) == 0))
                return corral_error_set(err, EX_NOPERM,
                                        "a git repository on this host is for admins: the "
                                        "daemon would read it with its own rights");
        if (site->mounts)
                return 0;
        if (mounts && mounts[0])
                return corral_error_set(err, EX_NOPERM,
                                        "--mount is for admins on this site "
                                        "(corral.json site.user_mounts)");
        for (size_t i = 0; command && command[i]; i++)
                if (path_like(command[i]))
                        return corral_error_set(err, EX_NOPERM,
                                                "command argument '%.128s' names a host path: "
                                                "host paths are for admins on this site "
                                                "(corral.json site.user_mounts)",
                                                command[i]);
        return 0;
}

int users_check_manifest(const users_site *site, const manifest *m, unsigned count,
                         unsigned memory_mb, corral_error *err)
{
        bool profile_ok = false;

        for (size_t i = 0; site->profiles && site->profiles[i]; i++)
                profile_ok |= m->profile && strcmp(site->profiles[i], m->profile) == 0;
        if (!profile_ok)
                return corral_error_set(err, EX_NOPERM,
                                        "sandbox profile '%s' is for admins on this site "
                                        "(corral.json site.user_profiles)",
                                        m->profile ? m->profile : "?");
        if (m->network && strcmp(m->network, "none") != 0 && !site->network_host)
                return corral_error_set(err, EX_NOPERM,
                                        "network '%s' is for admins on this site "
                                        "(corral.json site.user_network)",
                                        m->network);
        if (count >= site->max_servers)
                return corral_error_set(err, EX_NOPERM,
                                        "quota: %u server%s per user on this site "
                                        "(corral.json site.user_max_servers)",
                                        site->max_servers, site->max_servers == 1 ? "" : "s");
        if ((uint64_t)memory_mb + m->memory_mb > site->max_memory_mb)
                return corral_error_set(err, EX_NOPERM,
                                        "quota: %u MiB of memory per user on this site, %u in "
                                        "use, this server asks %u "
                                        "(corral.json site.user_max_memory_mb)",
                                        site->max_memory_mb, memory_mb, m->memory_mb);
        return 0;
}
