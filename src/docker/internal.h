/* Shared between the files of src/docker/ only. */
#pragma once

#include "corral/docker.h"

static inline void docker_freep(docker **d)
{
        docker_free(*d);
}

/* The sysexits code for an HTTP error status of the engine. */
int docker_status_code(long status);

/* s percent-escaped for a URL query or path segment (owned). */
char *docker_url_escape(const char *s);
