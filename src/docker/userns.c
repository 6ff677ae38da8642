/* User-namespace remapping of corral's containers: what the engine offers
 * (Docker's userns-remap from /info, Podman's UsernsMode "auto" when the
 * host has subordinate ids for it) and what a running container has (its
 * init's uid_map). */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "docker/internal.h"

#define SUBID_MIN 65536UL /* a whole 16-bit uid range, as "auto" sizes one */

bool docker_info_userns_remap(const cJSON *info)
{
        const cJSON *o;

        cJSON_ArrayForEach(o, json_get_array(info, "SecurityOptions"))
        {
                /* "name=userns" alone, or with ",key=value" after it. */
                if (cJSON_IsString(o) && strncmp(o->valuestring, "name=userns", 11) == 0 &&
                    (o->valuestring[11] == '\0' || o->valuestring[11] == ','))
                        return true;
        }
        return false;
}

/* Whether FILE (/etc/subuid or /etc/subgid: "NAME:START:COUNT" lines) gives
 * user at least SUBID_MIN ids. */
static bool has_subids(const char *file, const char *user)
{
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char line[512];
        size_t n = strlen(user);

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char *start, *end;
                unsigned long count;
                if (strncmp(line, user, n) != 0 || line[n] != ':')
                        continue;
                start = line + n + 1;
                end = strchr(start, ':');
                if (!end)
                        continue;
                count = strtoul(end + 1, NULL, 10);
                if (count >= SUBID_MIN)
                        return true;
        }
        return false;
}

const char *docker_podman_userns_mode(void)
{
        static int known = -1;

        if (known < 0) {
                const char *user = "containers";
                struct passwd *pw = NULL;
                if (geteuid() != 0) {
                        pw = getpwuid(geteuid());
                        user = pw ? pw->pw_name : NULL;
                }
                known = user && has_subids("/etc/subuid", user) && has_subids("/etc/subgid", user);
        }
        return known ? "auto" : NULL;
}

void docker_config_set_userns(cJSON *config, const char *mode)
{
        cJSON *hc = cJSON_GetObjectItem(config, "HostConfig");

        if (!hc || !mode)
                return;
        cJSON_DeleteItemFromObject(hc, "UsernsMode");
        cJSON_AddStringToObject(hc, "UsernsMode", mode);
}

bool docker_uid_map_is_identity(const char *uid_map, uint32_t *ret_host_uid)
{
        const char *l = uid_map;

        *ret_host_uid = UINT32_MAX;
        while (l && *l) {
                unsigned long inside, outside, count;
                if (sscanf(l, " %lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
                    count > 0) {
                        *ret_host_uid = (uint32_t)outside;
                        return outside == 0;
                }
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

static char *hint(bool podman)
{
        return xstrdup(podman ? "Podman remaps with UsernsMode auto once /etc/subuid and "
                                "/etc/subgid give 'containers' a range"
                              : "dockerd remaps with --userns-remap");
}

int docker_userns_report(const char *server, const char *root_label, bool *ret_remapped,
                         char **ret_text, corral_error *err)
{
        _cleanup_(docker_freep) docker *d = NULL;
        _cleanup_json_ cJSON *info = NULL, *c = NULL;
        _cleanup_free_ char *l1 = xasprintf("%s=%s", DOCKER_LABEL_SERVER, server);
        _cleanup_free_ char *l2 = xasprintf("%s=%s", DOCKER_LABEL_ROOT, root_label);
        _cleanup_free_ char *h = NULL;
        const char *labels[] = {l1, l2, NULL};
        _cleanup_strv_ char **ids = NULL;
        bool podman, offered;
        int r, pid = 0;

        r = docker_open(&d, err);
        if (r < 0)
                return r;
        podman = docker_is_podman(d);
        if (podman) {
                /* Its compat /info never says (and is slow: it sizes storage). */
                offered = docker_podman_userns_mode() != NULL;
        } else {
                r = docker_info(d, &info, err);
                if (r < 0)
                        return r;
                offered = docker_info_userns_remap(info);
        }
        h = hint(podman);
        if (docker_container_list(d, labels, &ids, err) == 0 && ids[0] &&
            docker_container_inspect(d, ids[0], &c, err) == 0)
                pid = (int)json_get_number(json_get_object(c, "State"), "Pid", 0);
        corral_error_clear(err);
        if (pid > 0) {
                _cleanup_free_ char *file = xasprintf("/proc/%d/uid_map", pid), *map = NULL;
                uint32_t host = UINT32_MAX;
                if (read_file(file, 4096, &map, NULL) == 0) {
                        if (docker_uid_map_is_identity(map, &host)) {
                                *ret_remapped = false;
                                *ret_text = xasprintf(
                                        "not remapped: uid 0 in the container is uid 0 on the "
                                        "host (the server still runs as a non-root user "
                                        "without capabilities; %s)",
                                        h);
                        } else {
                                *ret_remapped = true;
                                *ret_text = xasprintf(
                                        "remapped: uid 0 in the container is host uid %u (%s)",
                                        (unsigned)host,
                                        podman ? "Podman UsernsMode auto" : "Docker userns-remap");
                        }
                        return 0;
                }
        }
        *ret_remapped = offered;
        *ret_text = offered ? xasprintf("remapped (%s; no container running now)",
                                        podman ? "Podman UsernsMode auto" : "Docker userns-remap")
                            : xasprintf("not remapped: the engine offers no user-namespace "
                                        "remapping (%s)",
                                        h);
        return 0;
}
