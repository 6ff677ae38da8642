/* The caller's own cgroup from /proc/self/cgroup: shared by the launcher,
 * which makes each server's cgroup under it, and the daemon, which reads
 * that cgroup's OOM counter (include/corral/sandbox.h). */
#include <stdio.h>
#include <string.h>

#include "corral/macro.h"
#include "corral/sandbox.h"

char *sandbox_own_cgroup(const char *ctrl)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        /* Lines are "ID:CONTROLLERS:PATH" (cgroups(7)); v2's has ID 0 and no
         * controllers, a v1 line lists its controllers comma-separated. */
        while (f && fgets(line, sizeof(line), f)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                c2[1 + strcspn(c2 + 1, "\n")] = '\0';
                if (!ctrl) {
                        if (c1[1] == '\0')
                                return xstrdup(c2 + 1);
                        continue;
                }
                for (char *tok = c1 + 1; *tok;) {
                        size_t len = strcspn(tok, ",");
                        if (len == strlen(ctrl) && strncmp(tok, ctrl, len) == 0)
                                return xstrdup(c2 + 1);
                        tok += len;
                        tok += *tok == ',';
                }
        }
        return NULL;
}
