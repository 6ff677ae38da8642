/* Permission level names (include/corral/level.h). */
#include <stddef.h>
#include <string.h>

#include "corral/level.h"

static const char *const names[] = {"public", "trusted", "anchor"};

const char *corral_level_name(corral_level level)
{
        return (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : "?";
}

int corral_level_parse(const char *name, corral_level *ret_level)
{
        for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0) {
                        *ret_level = (corral_level)i;
                        return 0;
                }
        return -1;
}
