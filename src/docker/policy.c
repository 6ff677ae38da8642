/* The site's image policy for docker: specs (corral.json "docker"). */
#include <string.h>

#include "corral/docker.h"
#include "corral/jsonutil.h"

int docker_policy_check(const cJSON *config, const char *spec, const char *digest,
                        corral_error *err)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(config, "docker"), *it;
        bool require_digest = false;

        if (!d)
                return 0;
        if (!cJSON_IsObject(d))
                return corral_error_set(err, EX_CONFIG, "corral.json: \"docker\" is not an object");
        cJSON_ArrayForEach(it, d)
        {
                /* A typo must not loosen the policy: unknown keys are refused. */
                if (strcmp(it->string, "require_digest") != 0)
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: docker: unknown key \"%.100s\"",
                                                it->string);
                if (!cJSON_IsBool(it))
                        return corral_error_set(err, EX_CONFIG,
                                                "corral.json: docker.require_digest is not "
                                                "true or false");
                require_digest = cJSON_IsTrue(it);
        }
        if (require_digest && !(digest && *digest))
                return corral_error_set(err, EX_NOPERM,
                                        "%.300s names no digest and the site policy "
                                        "(corral.json docker.require_digest) requires one: "
                                        "give IMAGE@sha256:DIGEST",
                                        spec);
        return 0;
}
