/* `docker run` options read as docker reads them (docker run --help; the
 * CLI's flag syntax is spf13/pflag's): one table of the options corral knows
 * — long name, short name, whether it takes a value — and the values of
 * -e/--env, -v/--volume and --mount split into small structs.
 *
 * It decides nothing.  Its two users keep their own policy of what each
 * option means to them: the registry resolver (an oci package's
 * runtimeArguments → the container, resolvers/registry/runtime_args.c) and
 * the importer (`docker run … IMAGE` in a client config → docker:IMAGE,
 * src/importer/docker_run.c).  An option not in the table is
 * DOCKER_RUN_UNKNOWN here; both users refuse it rather than guess whether it
 * takes a value. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The options of the table.  Several spellings may share one (--net and
 * --network); docker_run_arg.name says which was written. */
typedef enum docker_run_option {
        DOCKER_RUN_OPT_NONE = 0, /* not an option (see docker_run_kind) */
        DOCKER_RUN_OPT_ENV,
        DOCKER_RUN_OPT_VOLUME,
        DOCKER_RUN_OPT_MOUNT,
        DOCKER_RUN_OPT_NETWORK,
        DOCKER_RUN_OPT_MEMORY,
        DOCKER_RUN_OPT_CPUS,
        DOCKER_RUN_OPT_PIDS_LIMIT,
        DOCKER_RUN_OPT_INTERACTIVE,
        DOCKER_RUN_OPT_TTY,
        DOCKER_RUN_OPT_RM,
        DOCKER_RUN_OPT_DETACH,
        DOCKER_RUN_OPT_NAME,
        DOCKER_RUN_OPT_HOSTNAME,
        DOCKER_RUN_OPT_LABEL,
        DOCKER_RUN_OPT_PULL,
        DOCKER_RUN_OPT_PUBLISH,
        DOCKER_RUN_OPT_PUBLISH_ALL,
        DOCKER_RUN_OPT_EXPOSE,
        DOCKER_RUN_OPT_STOP_TIMEOUT,
        DOCKER_RUN_OPT_LOG_DRIVER,
        DOCKER_RUN_OPT_INIT,
        DOCKER_RUN_OPT_READ_ONLY,
        DOCKER_RUN_OPT_PRIVILEGED,
        DOCKER_RUN_OPT_CAP_ADD,
        DOCKER_RUN_OPT_SECURITY_OPT,
        DOCKER_RUN_OPT_DEVICE,
        DOCKER_RUN_OPT_PID,
        DOCKER_RUN_OPT_IPC,
        DOCKER_RUN_OPT_UTS,
        DOCKER_RUN_OPT_USERNS,
        DOCKER_RUN_OPT_CGROUPNS,
        DOCKER_RUN_OPT_GROUP_ADD,
        DOCKER_RUN_OPT_ENTRYPOINT,
        DOCKER_RUN_OPT_GPUS,
        DOCKER_RUN_OPT_USER,
        DOCKER_RUN_OPT_WORKDIR,
        DOCKER_RUN_OPT_ENV_FILE,
        DOCKER_RUN_OPT_ADD_HOST,
        DOCKER_RUN_OPT_DNS,
        DOCKER_RUN_OPT_PLATFORM,
        DOCKER_RUN_OPT_TMPFS,
        DOCKER_RUN_OPT_ULIMIT,
        DOCKER_RUN_OPT_SHM_SIZE,
        DOCKER_RUN_OPT_RESTART,
        DOCKER_RUN_OPT_COUNT_ /* sizes the users' policy tables */
} docker_run_option;

/* What one argument (with its value, when separate) is. */
typedef enum docker_run_kind {
        DOCKER_RUN_OPTION,        /* an option of the table: opt, name, value */
        DOCKER_RUN_FLAGS,         /* "-it": a bundle of value-less short options (flags) */
        DOCKER_RUN_MISSING_VALUE, /* an option that takes a value, last with none: opt, name */
        DOCKER_RUN_END,           /* "--": the options end */
        DOCKER_RUN_POSITIONAL,    /* no leading '-': the image, or what follows it */
        DOCKER_RUN_UNKNOWN,       /* "-", "--=x", "--frobnicate", "-ix", "-ite": not guessed */
} docker_run_kind;

typedef struct docker_run_arg {
        docker_run_kind kind;
        docker_run_option opt; /* OPTION, MISSING_VALUE; else DOCKER_RUN_OPT_NONE */
        const char *name;      /* its long name as the table spells it ("net"); static */
        /* OPTION: "--name=V", "-eV", "-e=V", or the next argument for an option
         * that takes a value; NULL for a flag written without "=".  A flag may
         * carry one ("--rm=false", "-i=x"): docker parses it as a boolean.
         * Points into argv. */
        const char *value;
        const char *flags; /* FLAGS: the letters, "it" of "-it"; points into argv */
} docker_run_arg;

/* Reads argv[*i] (not NULL) as `docker run` does and moves *i past it and
 * past its value when that is the next argument (which is taken whatever it
 * looks like, "-e -x" included, as docker does).  Forms: "--name=V",
 * "--name V", "-e V", "-eV", "-e=V", "-it" (every letter a value-less short
 * option).  Never fails: what it does not know is DOCKER_RUN_UNKNOWN, and
 * the caller names argv[the old *i] in its message. */
void docker_run_next(char *const *argv, size_t *i, docker_run_arg *ret);

/* The option whose short name is c, or DOCKER_RUN_OPT_NONE. */
docker_run_option docker_run_short(char c);

/* -e/--env KEY[=VALUE]: key (key_len bytes, not NUL-terminated: it points
 * into v) and value (after the first '=', or NULL: docker then takes KEY's
 * value from its own environment).  0, or -EINVAL for an empty KEY
 * ("=x", ""), which docker refuses. */
typedef struct docker_run_env {
        const char *key;
        size_t key_len;
        const char *value;
} docker_run_env;
int docker_run_env_parse(const char *v, docker_run_env *ret);

/* The read-only-ness a mount asked for. */
typedef enum docker_run_mode {
        DOCKER_RUN_MODE_DEFAULT = 0, /* neither: docker's default is read-write */
        DOCKER_RUN_MODE_RO,
        DOCKER_RUN_MODE_RW,
} docker_run_mode;

/* -v/--volume SRC:DST[:OPTS] or --mount KEY=VALUE,… split:
 *  -v: source before the first ':' (a host path when absolute, else a named
 *      volume; NULL for "-v DST", an anonymous volume, then target is v),
 *      target up to the second ':', OPTS comma-separated: "ro"/"readonly"
 *      and "rw" set mode (the last one wins); any other (z, rslave, nocopy,
 *      …) sets other.  bind is true.
 *  --mount: type (bind true for "type=bind"), source/src,
 *      target/dst/destination (the last of each wins, as in docker),
 *      readonly/ro[=BOOL] and rw[=BOOL] set mode ("=false" the opposite);
 *      any other field (bind-propagation=, consistency=, volume-opt=, …)
 *      sets other.  Fields are case-sensitive; docker's CSV quoting is not
 *      read (a quote is an ordinary byte).
 * Strings owned by ret: docker_run_mount_done().  Never fails. */
typedef struct docker_run_mount {
        char *source, *target; /* NULL when not given */
        bool bind;             /* --mount type=bind, or -v */
        docker_run_mode mode;
        bool other; /* an option or field beyond these, not interpreted */
} docker_run_mount;
void docker_run_mount_parse(const char *v, bool mount_syntax, docker_run_mount *ret);
void docker_run_mount_done(docker_run_mount *m);
