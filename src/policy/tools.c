/* Tool allow/deny lists (include/corral/policy.h). */
#include <fnmatch.h>
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/policy.h"

/* Names that say a tool runs commands, writes, deletes or kills.  Matched on
 * SERVER__TOOL, so each starts with the server wildcard and "__". */
const char *const POLICY_DEFAULT_DENYLIST[] = {
        "*__*exec*",  "*__*shell*",  "*__*command*", "*__*terminal*", "*__*eval*",
        "*__*write*", "*__*delete*", "*__*remove*",  "*__*kill*",     "*__*spawn*",
        NULL,
};

static void rules_done(policy_rules *r)
{
        strv_free(r->allow);
        strv_free(r->deny);
        *r = (policy_rules){0};
}

static int load_list(const cJSON *obj, const char *key, const char *where, char ***ret,
                     corral_error *err)
{
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
        char **out = NULL;

        if (!arr)
                return 0;
        if (!cJSON_IsArray(arr))
                return corral_error_set(err, EX_CONFIG, "%s.%s: must be an array of patterns",
                                        where, key);
        if (cJSON_GetArraySize(arr) > POLICY_MAX_PATTERNS)
                return corral_error_set(err, EX_CONFIG, "%s.%s: more than %d patterns", where,
                                        key, POLICY_MAX_PATTERNS);
        out = xcalloc(1, sizeof(char *));
        cJSON_ArrayForEach(it, arr)
        {
                if (!cJSON_IsString(it) || !it->valuestring[0] ||
                    strlen(it->valuestring) > POLICY_MAX_PATTERN_BYTES) {
                        strv_free(out);
                        return corral_error_set(err, EX_CONFIG,
                                                "%s.%s: each pattern is a string of 1 to %d "
                                                "bytes",
                                                where, key, POLICY_MAX_PATTERN_BYTES);
                }
                out = strv_push(out, it->valuestring);
        }
        *ret = out;
        return 0;
}

static int load_rules(const cJSON *obj, const char *where, const char *const *extra_keys,
                      policy_rules *ret, corral_error *err)
{
        policy_rules r = {0};
        const cJSON *it;
        int rc;

        if (!cJSON_IsObject(obj))
                return corral_error_set(err, EX_CONFIG, "%s: must be an object", where);
        cJSON_ArrayForEach(it, obj)
        {
                bool known = strcmp(it->string, "allow") == 0 || strcmp(it->string, "deny") == 0;
                for (size_t i = 0; extra_keys && extra_keys[i]; i++)
                        known |= strcmp(it->string, extra_keys[i]) == 0;
                if (!known)
                        return corral_error_set(err, EX_CONFIG, "%s: unknown key '%.64s'", where,
                                                it->string);
        }
        if ((rc = load_list(obj, "allow", where, &r.allow, err)) < 0 ||
            (rc = load_list(obj, "deny", where, &r.deny, err)) < 0) {
                rules_done(&r);
                return rc;
        }
        *ret = r;
        return 0;
}

int tool_policy_load(const cJSON *config, tool_policy *ret, corral_error *err)
{
        static const char *const site_keys[] = {"default_denylist", "users", NULL};
        const cJSON *tools = config ? cJSON_GetObjectItemCaseSensitive(config, "tools") : NULL;
        const cJSON *users, *u, *dd;
        tool_policy p = {.default_denylist = true};
        int r;

        if (!tools) {
                *ret = p;
                return 0;
        }
        r = load_rules(tools, "tools", site_keys, &p.site, err);
        if (r < 0)
                return r;
        dd = cJSON_GetObjectItemCaseSensitive(tools, "default_denylist");
        if (dd && !cJSON_IsBool(dd)) {
                tool_policy_done(&p);
                return corral_error_set(err, EX_CONFIG,
                                        "tools.default_denylist: must be true or false");
        }
        if (dd)
                p.default_denylist = cJSON_IsTrue(dd);
        users = cJSON_GetObjectItemCaseSensitive(tools, "users");
        if (users && (!cJSON_IsObject(users) || cJSON_GetArraySize(users) > POLICY_MAX_USERS)) {
                tool_policy_done(&p);
                return corral_error_set(err, EX_CONFIG,
                                        "tools.users: must be an object of at most %d users",
                                        POLICY_MAX_USERS);
        }
        if (users) {
                p.users = xcalloc((size_t)cJSON_GetArraySize(users) + 1, sizeof(*p.users));
                cJSON_ArrayForEach(u, users)
                {
                        char where[128];
                        snprintf(where, sizeof(where), "tools.users.%.64s", u->string);
                        r = load_rules(u, where, NULL, &p.users[p.n_users].rules, err);
                        if (r < 0) {
                                tool_policy_done(&p);
                                return r;
                        }
                        p.users[p.n_users++].user = xstrdup(u->string);
                }
        }
        *ret = p;
        return 0;
}

void tool_policy_done(tool_policy *p)
{
        if (!p)
                return;
        rules_done(&p->site);
        for (size_t i = 0; i < p->n_users; i++) {
                free(p->users[i].user);
                rules_done(&p->users[i].rules);
        }
        free(p->users);
        *p = (tool_policy){0};
}

static bool any_match(char *const *patterns, const char *name)
{
        for (size_t i = 0; patterns && patterns[i]; i++)
                if (fnmatch(patterns[i], name, 0) == 0)
                        return true;
        return false;
}

static const policy_rules *user_rules(const tool_policy *p, const char *user)
{
        for (size_t i = 0; p && user && i < p->n_users; i++)
                if (strcmp(p->users[i].user, user) == 0)
                        return &p->users[i].rules;
        return NULL;
}

bool tool_policy_allows(const tool_policy *p, const char *user, bool admin, const char *server,
                        const char *tool)
{
        const policy_rules *ur = user_rules(p, user);
        char name[512];
        bool allowed_by_name = false;

        if ((size_t)snprintf(name, sizeof(name), "%s__%s", server, tool) >= sizeof(name))
                /* Past any sane name: only a list that matches everything applies. */
                name[sizeof(name) - 1] = '\0';
        if (p && (any_match(p->site.deny, name) || (ur && any_match(ur->deny, name))))
                return false;
        if (p && p->site.allow && p->site.allow[0]) {
                if (!any_match(p->site.allow, name))
                        return false;
                allowed_by_name = true;
        }
        if (ur && ur->allow && ur->allow[0]) {
                if (!any_match(ur->allow, name))
                        return false;
                allowed_by_name = true;
        }
        if (!admin && (!p || p->default_denylist) && !allowed_by_name)
                return !any_match((char *const *)POLICY_DEFAULT_DENYLIST, name);
        return true;
}
