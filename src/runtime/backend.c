/* Backend lookup by a manifest's runtime.backend. */
#include <string.h>

#include "corral/runtime.h"

const runtime_backend *runtime_backend_find(const char *name)
{
        static const runtime_backend *const backends[] = {&runtime_native, &runtime_docker,
                                                          &runtime_remote};

        if (!name)
                name = "native";
        for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
                if (strcmp(backends[i]->name, name) == 0)
                        return backends[i];
        return NULL;
}
