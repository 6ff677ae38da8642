/* The Docker seccomp profile of a docker-backend server: the syscall table
 * corral-sandbox compiles (include/corral/syscalls.h) written in the format
 * of moby's profiles/seccomp/default.json, which Docker and Podman read from
 * HostConfig.SecurityOpt "seccomp=<JSON>" and hand to runc/crun, which build
 * the filter with libseccomp as corral-sandbox does. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/fs.h"
#include "corral/jsonutil.h"
#include "corral/syscalls.h"

/* The engine runs containers of the host's architecture; only that one is
 * listed, so a foreign-architecture call (e.g. int 0x80 on x86-64) is killed
 * as in the native sandbox. */
#if defined(__x86_64__)
#define NATIVE_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define NATIVE_ARCH "SCMP_ARCH_AARCH64"
#elif defined(__i386__)
#define NATIVE_ARCH "SCMP_ARCH_X86"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH "SCMP_ARCH_PPC64LE"
#elif defined(__s390x__)
#define NATIVE_ARCH "SCMP_ARCH_S390X"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH "SCMP_ARCH_RISCV64"
#elif defined(__arm__)
#define NATIVE_ARCH "SCMP_ARCH_ARM"
#else
#error "no Docker seccomp architecture name for this target"
#endif

/* Consecutive unconditional rules with the same action share one entry, as in
 * Docker's own profile; every other rule is an entry of its own, in table
 * order (the order the launcher adds them to libseccomp). */
static cJSON *entry(cJSON *list, const syscall_rule *r)
{
        cJSON *e = cJSON_CreateObject();

        cJSON_AddArrayToObject(e, "names");
        if (r->errno_ret) {
                cJSON_AddStringToObject(e, "action", "SCMP_ACT_ERRNO");
                cJSON_AddNumberToObject(e, "errnoRet", r->errno_ret);
        } else {
                cJSON_AddStringToObject(e, "action", "SCMP_ACT_ALLOW");
        }
        if (r->has_arg) {
                cJSON *args = cJSON_AddArrayToObject(e, "args");
                cJSON *a = cJSON_CreateObject();
                /* SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum
                 * (runc's and crun's reading of the format). */
                cJSON_AddNumberToObject(a, "index", r->arg);
                cJSON_AddNumberToObject(a, "value", (double)r->mask);
                cJSON_AddNumberToObject(a, "valueTwo", (double)r->value);
                cJSON_AddStringToObject(a, "op", "SCMP_CMP_MASKED_EQ");
                cJSON_AddItemToArray(args, a);
        }
        cJSON_AddItemToArray(list, e);
        return e;
}

cJSON *docker_seccomp_profile(const char *profile)
{
        unsigned bit = syscall_profile_bit(profile);
        cJSON *p, *arches, *list, *last = NULL;
        int last_errno = -1;

        if (!bit)
                return NULL;
        p = cJSON_CreateObject();
        if (syscall_profile_logs(profile)) {
                cJSON_AddStringToObject(p, "defaultAction", "SCMP_ACT_LOG");
        } else {
                cJSON_AddStringToObject(p, "defaultAction", "SCMP_ACT_ERRNO");
                cJSON_AddNumberToObject(p, "defaultErrnoRet", EPERM);
        }
        arches = cJSON_AddArrayToObject(p, "architectures");
        cJSON_AddItemToArray(arches, cJSON_CreateString(NATIVE_ARCH));
        list = cJSON_AddArrayToObject(p, "syscalls");
        for (size_t i = 0; i < syscall_rules_n; i++) {
                const syscall_rule *r = &syscall_rules[i];

                if (!(r->profiles & bit))
                        continue;
                if (r->has_arg || !last || last_errno != r->errno_ret) {
                        last = entry(list, r);
                        last_errno = r->has_arg ? -1 : r->errno_ret;
                }
                cJSON_AddItemToArray(cJSON_GetObjectItem(last, "names"),
                                     cJSON_CreateString(r->name));
        }
        return p;
}

int docker_config_seccomp_file(cJSON *config, const char *dir, corral_error *err)
{
        cJSON *opts = cJSON_GetObjectItem(cJSON_GetObjectItem(config, "HostConfig"), "SecurityOpt");
        cJSON *o;

        cJSON_ArrayForEach(o, opts)
        {
                const char *text = cJSON_IsString(o) ? o->valuestring : "";
                unsigned char md[EVP_MAX_MD_SIZE];
                unsigned mdlen = 0;
                char hex[17];
                _cleanup_free_ char *path = NULL, *name = NULL;

                if (strncmp(text, "seccomp=", 8) != 0 || text[8] != '{')
                        continue;
                text += 8;
                if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
                        return corral_error_set(err, EX_SOFTWARE, "cannot hash a seccomp profile");
                for (size_t i = 0; i < 8; i++)
                        snprintf(hex + 2 * i, 3, "%02x", md[i]);
                name = xasprintf("seccomp-%s.json", hex);
                path = path_join(dir, name);
                if (!path_exists(path)) {
                        int r = mkdir_p(dir, 0755);
                        if (r >= 0)
                                r = write_file_atomic(path, text, strlen(text), 0644);
                        if (r < 0)
                                return corral_error_set(err, EX_CANTCREAT,
                                                        "cannot write the seccomp profile %s: %s",
                                                        path, strerror(-r));
                }
                {
                        _cleanup_free_ char *opt = xasprintf("seccomp=%s", path);
                        cJSON_ReplaceItemViaPointer(opts, o, cJSON_CreateString(opt));
                }
                return 0;
        }
        return 0;
}
