/* A Docker Engine API client over the engine's unix socket (Engine API v1.41
 * and later: https://docs.docker.com/engine/api/v1.41/).  The socket is
 * $DOCKER_HOST when it is unix://PATH, else /var/run/docker.sock; the API
 * version is negotiated from GET /version (the engine's ApiVersion, capped at
 * DOCKER_API_MAX; engines below DOCKER_API_MIN are refused).
 *
 * Ordinary calls go through libcurl (CURLOPT_UNIX_SOCKET_PATH) and BLOCK the
 * caller, each with its own timeout; attach is a hand-written HTTP/1.1 upgrade
 * that hands back the connected socket for the caller's event loop.
 *
 * Error codes shared by every call: -EX_UNAVAILABLE when the engine cannot be
 * reached or answers 5xx (message starts "docker engine unavailable" for the
 * former), -EX_NOINPUT for 404 (no such image or container), -EX_DATAERR for
 * a reply that is not what the API documents, -EX_TEMPFAIL for a timeout,
 * -EX_SOFTWARE for other 4xx (the engine's "message" is in the error). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "corral/error.h"
#include "corral/manifest.h"
#include "corral/strbuf.h"

#define DOCKER_API_MIN "1.41"
#define DOCKER_API_MAX "1.45"
#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define PODMAN_ROOTFUL_SOCKET "/run/podman/podman.sock"
#define DOCKER_LABEL_SERVER "io.corral.server" /* = server name */
#define DOCKER_LABEL_ROOT "io.corral.root"     /* = the store's servers dir */
#define DOCKER_LABEL_RUN "io.corral.run"       /* = the daemon run that created it */

/* ---- image references (pure, no engine) -------------------------------- */

/* IMAGE[:TAG][@sha256:DIGEST] split and normalised as the engine does:
 * registry "docker.io" when the first path component is not a host (has no
 * '.' or ':' and is not "localhost"), "library/" added to one-component
 * docker.io repositories, tag "latest" when neither tag nor digest is given. */
typedef struct docker_ref {
        char *registry;   /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
        char *repository; /* "library/alpine", "x/y" */
        char *tag;        /* NULL only when a digest was given without a tag */
        char *digest;     /* "sha256:<64 hex>" or NULL */
} docker_ref;

/* Parses s (without the "docker:" prefix).  0, or -EX_USAGE naming what is
 * wrong.  Fields owned by ret; docker_ref_done(). */
int docker_ref_parse(docker_ref *ret, const char *s, corral_error *err);
void docker_ref_done(docker_ref *r);
/* "REGISTRY/REPOSITORY" (owned): the fromImage of a pull and the name half of
 * the references below.  docker.io names are written in full
 * ("docker.io/library/alpine"), which the engine accepts everywhere. */
char *docker_ref_name(const docker_ref *r);
/* "NAME:TAG" (or "NAME@DIGEST" when r has only a digest); owned. */
char *docker_ref_tagged(const docker_ref *r);
/* "NAME@digest" (owned): what pinned starts run.  digest "sha256:…". */
char *docker_ref_pinned(const docker_ref *r, const char *digest);
/* True when a RepoDigests entry ("NAME@sha256:…", any spelling the engine
 * uses, e.g. "alpine@…" for docker.io/library/alpine) names r's repository;
 * *ret_digest (borrowed, into entry) receives its digest. */
bool docker_ref_matches_repo_digest(const docker_ref *r, const char *entry,
                                    const char **ret_digest);

/* ---- site policy (pure) --------------------------------------------------- */

/* corral.json's "docker" object, checked before a docker: install:
 *   { "docker": { "require_digest": true } }
 * refuses a spec that names no digest (a tag only; the tag's digest at
 * install time would be whatever the registry said then) with -EX_NOPERM.
 * spec is the spec as given (for the message), digest its "sha256:…" or
 * NULL.  config may be NULL.  Unknown keys or a non-boolean
 * value: -EX_CONFIG (a typo must not loosen the policy).  Signature checks
 * (cosign, containers-policy.json) are not done here: README "Image trust"
 * says where a site plugs them in. */
int docker_policy_check(const cJSON *config, const char *spec, const char *digest,
                        corral_error *err);

/* ---- attach stream demultiplexing (pure) -------------------------------- */

/* The multiplexed stream of a non-TTY attach or logs call: frames of an
 * 8-byte header {stream (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, big-endian
 * uint32 size} and size bytes of payload.  Headers and payloads may
 * be split across reads and several frames may arrive in one read. */
typedef struct docker_demux {
        unsigned char hdr[8];
        size_t hdr_len;     /* header bytes collected so far */
        unsigned stream;    /* of the current frame */
        uint32_t remaining; /* payload bytes of the current frame still to come */
} docker_demux;

typedef void (*docker_demux_fn)(void *ud, unsigned stream, const char *data, size_t n);

static inline void docker_demux_init(docker_demux *d)
{
        *d = (docker_demux){0};
}
/* Feeds n bytes; calls out(ud, stream, …) with payload pieces (stream 1
 * stdout, 2 stderr; 0 stdin is passed through too).  Returns 0, or -1 on a
 * header with an unknown stream byte (the stream is then unusable). */
int docker_demux_feed(docker_demux *d, const char *data, size_t n, docker_demux_fn out, void *ud);

/* ---- streamed JSON (pure) --------------------------------------------------- */

/* Streamed JSON of POST /images/create and GET /events: one JSON object per
 * line (LF, optionally CRLF).  Calls line(ud, text, n) for each complete
 * non-empty line in buf (text NUL-terminated for the call) and consumes it;
 * with final, a last unterminated line too.  Returns false when line asked
 * to stop (what follows stays in buf).  buf's size is capped by its owner. */
struct strbuf;
bool docker_json_lines(struct strbuf *buf, bool final,
                       bool (*line)(void *ud, const char *text, size_t n), void *ud);

/* One line of an image pull's stream: 1 with *ret_msg (owned) for progress,
 * 0 for a line that is not JSON (ignored, as the docker CLI does), or -1
 * with *ret_error (owned, at most max_error bytes) for an error
 * ("errorDetail.message", "error", or "message" without "status"). */
int docker_pull_message(const char *text, size_t n, size_t max_error, cJSON **ret_msg,
                        char **ret_error);

/* ---- container configuration (pure) ------------------------------------- */

/* The JSON body of POST /containers/create for manifest m (owned):
 *   Image = image; Entrypoint = m->command (Cmd unset, so the image's Cmd is
 *   not appended); Env from m->env; Labels io.corral.server=NAME and
 *   io.corral.root=root_label; OpenStdin, AttachStdin/Stdout/Stderr,
 *   StdinOnce, Tty false; User = image_user when the image sets one (its
 *   author's choice is kept), else "65534:65534" (nobody);
 *   HostConfig: CapDrop ["ALL"], SecurityOpt ["no-new-privileges",
 *   "seccomp=" docker_seccomp_profile(m->profile) (absent for profile
 *   "none": the engine's default profile)],
 *   ReadonlyRootfs, Tmpfs {"/tmp": "rw,noexec,nosuid,size=<SANDBOX_DEFAULT_TMP_MB>m",
 *   "/sys": an empty read-only one}, ShmSize SANDBOX_SHM_MB MiB (the native
 *   sandbox's sizes), MaskedPaths (Docker's defaults) and ReadonlyPaths
 *   (Docker's defaults and /proc/pressure),
 *   NetworkMode "none" (manifest network "none") or "bridge" (network
 *   "host": outgoing network through the engine's NAT, not the host's
 *   namespace), Memory = memory_mb MiB (MemorySwap the same: no swap),
 *   NanoCpus = cpus × 10^9, PidsLimit = pids, Init true, AutoRemove false
 *   (the exit status is read before the container is removed). */
cJSON *docker_container_config(const manifest *m, const char *image, const char *image_user,
                               const char *root_label);
/* Adds the manifest's sandbox.mounts ("SOURCE[:TARGET][:ro|:rw]", absolute
 * paths, neither /, read-only unless ":rw"; TARGET defaults to SOURCE) to a
 * docker_container_config() body as HostConfig.Mounts bind entries (Engine
 * API v1.41 Mount: Type "bind", Source, Target, ReadOnly, BindOptions
 * Propagation "rprivate").  The engine creates a missing target in the
 * container; files are reached as the container's user (no id mapping, unlike
 * the native sandbox's read-write mounts).  NULL or empty mounts add nothing.
 * 0, or -EX_DATAERR naming an entry that is not of that shape. */
int docker_config_mounts(cJSON *config, char *const *mounts, corral_error *err);
/* Podman's compat API ignores HostConfig.MaskedPaths and ReadonlyPaths:
 * adds their equivalent to a docker_container_config() body as one
 * SecurityOpt "mask=PATH:PATH…" (Docker's masked paths, and /proc/pressure,
 * which Docker makes read-only and Podman leaves writable). */
void docker_config_podman_paths(cJSON *config);
/* Containers run with HostConfig.Init, which needs the engine's init binary
 * (Podman: catatonit; Docker: docker-init).  For an engine error message
 * saying it is missing: one line naming the package to install (static);
 * NULL for any other message. */
const char *docker_init_hint(const char *message);

/* The Docker seccomp profile (the JSON of moby's profiles/seccomp/default.json:
 * defaultAction, defaultErrnoRet, architectures, syscalls with names, action,
 * errnoRet and args) for a corral profile name ("default", "strict", "log"),
 * translated from the table corral-sandbox compiles (corral/syscalls.h), so
 * both backends filter the same calls.  Only the host's architecture is
 * listed.  Owned; NULL for any other name ("none": the engine's own). */
cJSON *docker_seccomp_profile(const char *profile);
/* For engines that take SecurityOpt "seccomp=PATH" (Podman, whose compat API
 * reads the value as a file on the engine's host, unlike Docker's inline
 * JSON): rewrites config's inline "seccomp=<JSON>" entry, if any, into a file
 * under dir (created 0755; the file is named by the SHA-256 of its content,
 * mode 0644, written atomically) and the option into "seccomp=PATH".
 * 0 or -EX_CANTCREAT. */
int docker_config_seccomp_file(cJSON *config, const char *dir, corral_error *err);

/* ---- user namespaces ------------------------------------------------------ */

/* Whether a GET /info reply says the engine remaps container users into a
 * user namespace of their own: Docker's `userns-remap` (SecurityOptions has
 * an entry "name=userns").  Podman's compat /info never says so; corral asks
 * it per container (docker_podman_userns_mode()). */
bool docker_info_userns_remap(const cJSON *info);
/* The HostConfig.UsernsMode corral gives Podman containers: "auto" (a
 * range of host uids/gids of its own per container, taken from
 * /etc/subuid and /etc/subgid entries of the user Podman allocates from:
 * "containers" when the daemon runs as root, else the daemon's user) when
 * both files give that user a range of at least 65536 ids; NULL otherwise
 * (Podman then refuses "auto", so nothing is asked).  Not "keep-id": it
 * maps the daemon's own uid into the container, which is rootless Podman's
 * file-ownership convenience, not a separation.  Read once per process. */
const char *docker_podman_userns_mode(void);
/* Sets HostConfig.UsernsMode = mode in a docker_container_config() body. */
void docker_config_set_userns(cJSON *config, const char *mode);
/* Whether /proc/PID/uid_map (text) maps uid 0 to host uid 0 (no user
 * namespace, or one that does not remap); *ret_host_uid receives the host
 * uid that uid 0 inside maps to (UINT32_MAX when 0 is not mapped). */
bool docker_uid_map_is_identity(const char *uid_map, uint32_t *ret_host_uid);

/* For `corral info`: whether server's container (labels io.corral.server
 * and io.corral.root=root_label) runs with its users remapped, read from
 * its init's /proc/PID/uid_map when one runs, else what the engine offers
 * (docker_info_userns_remap(), docker_podman_userns_mode()).  *ret_text
 * (owned) is one line: "remapped: uid 0 in the container is host uid N
 * (…)" or "not remapped: … (how the engine would)".  Blocking calls (the
 * CLI's).  0, or docker_open()'s and docker_info()'s errors. */
int docker_userns_report(const char *server, const char *root_label, bool *ret_remapped,
                         char **ret_text, corral_error *err);

/* ---- the engine --------------------------------------------------------- */

typedef struct docker docker;

/* Connects to the engine named by $DOCKER_HOST, else $CONTAINER_HOST, else
 * the first socket that exists of /var/run/docker.sock, Podman's rootful
 * /run/podman/podman.sock and rootless $XDG_RUNTIME_DIR/podman/podman.sock,
 * and negotiates the API version.  -EX_CONFIG for a DOCKER_HOST that is not
 * unix://, -EX_UNAVAILABLE when the engine is unreachable or too old.
 * *ret owned; docker_free(). */
int docker_open(docker **ret, corral_error *err);
docker *docker_free(docker *d);
/* The engine's socket path as docker_open() finds it (owned), without
 * connecting.  -EX_CONFIG for a host that is not unix://ABSOLUTE. */
int docker_socket_resolve(char **ret, corral_error *err);
/* Whether a GET /version reply is Podman's (see docker_is_podman()). */
bool docker_version_is_podman(const cJSON *version);
/* Whether the engine is Podman (its compat API's /version names a "Podman
 * Engine" component): it reads SecurityOpt seccomp= as a file path. */
bool docker_is_podman(const docker *d);
const char *docker_socket_path(const docker *d);
const char *docker_api_version(const docker *d);

/* GET /_ping. */
int docker_ping(docker *d, corral_error *err);
/* GET /version; *ret owned. */
int docker_version(docker *d, cJSON **ret, corral_error *err);

/* GET /info (the engine's system information); *ret owned. */
int docker_info(docker *d, cJSON **ret, corral_error *err);

/* GET /images/{ref}/json; *ret owned.  -EX_NOINPUT when not present. */
int docker_image_inspect(docker *d, const char *ref, cJSON **ret, corral_error *err);

/* One progress message of a pull ({"status", "id", "progress", …}). */
typedef void (*docker_progress_fn)(void *ud, const cJSON *msg);
/* POST /images/create?fromImage=NAME&tag=TAG|DIGEST, with X-Registry-Auth from
 * ~/.docker/config.json ($DOCKER_CONFIG/config.json) when it has an entry for
 * the registry.  Reads the newline-delimited progress stream (each line capped
 * at 1 MiB) and calls progress (may be NULL) per message; an "errorDetail" or
 * "error" message mid-stream fails the pull with -EX_UNAVAILABLE, or
 * -EX_NOINPUT when it says the image or tag does not exist.  timeout_ms 0:
 * none. */
int docker_image_pull(docker *d, const docker_ref *ref, unsigned timeout_ms,
                      docker_progress_fn progress, void *ud, corral_error *err);

/* One "stream" text of a build's output (a line or part of one). */
typedef void (*docker_build_output_fn)(void *ud, const char *text);
/* POST /build with the tar build context of context_len bytes read from
 * context_fd (a Dockerfile at its top), tagged tag, with labels (an object
 * of strings), RUN steps without network (networkmode=none), intermediate
 * containers removed.  The streamed output goes to out (may be NULL).
 * *ret_id (owned) is the image id ("sha256:…").  -EX_DATAERR when the build
 * fails (the engine's message), -EX_TEMPFAIL past timeout_ms,
 * -EX_UNAVAILABLE when the engine is unreachable.  Blocking: the CLI's
 * install, never the daemon's loop. */
int docker_image_build(docker *d, int context_fd, uint64_t context_len, const char *tag,
                       const cJSON *labels, unsigned timeout_ms, docker_build_output_fn out,
                       void *ud, char **ret_id, corral_error *err);

/* X-Registry-Auth value (base64url of {"username","password","serveraddress"}
 * or {"identitytoken"}) for registry, the first that has an answer of:
 * the docker config file ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json): "credHelpers"[registry], else "credsStore" — the
 * helper docker-credential-NAME run as the caller's user with "get" (at most
 * 10 s; "credentials not found" is no answer) — else "auths"[registry]
 * (base64 "auth" = user:password, or "identitytoken"); then Podman's
 * auth.json ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
 * "auths" the same way).  *ret NULL when there is none.  0, or -EX_CONFIG
 * for a malformed file, a helper that is not installed or fails,
 * -EX_TEMPFAIL for a helper that does not answer in time.  BLOCKS while a
 * helper runs: the CLI's call. */
int docker_registry_auth(const char *registry, char **ret, corral_error *err);
/* The same without running a helper (the daemon's loop must not wait for
 * one): "auths" and auth.json only. */
int docker_registry_auth_static(const char *registry, char **ret, corral_error *err);
/* Runs docker-credential-HELPER get with server on its stdin, at most
 * timeout_ms.  0 with *ret_user and *ret_secret owned, or both NULL when the
 * helper has none for server; -EX_CONFIG (not a plain name, not installed,
 * failed, or an answer that is not the protocol's JSON), -EX_TEMPFAIL
 * (killed after timeout_ms), -EX_OSERR. */
int docker_cred_helper_get(const char *helper, const char *server, unsigned timeout_ms,
                           char **ret_user, char **ret_secret, corral_error *err);

/* POST /containers/create?name=NAME (name may be NULL); config is the body.
 * *ret_id owned. */
int docker_container_create(docker *d, const char *name, const cJSON *config, char **ret_id,
                            corral_error *err);
int docker_container_start(docker *d, const char *id, corral_error *err);
/* GET /containers/{id}/json; *ret owned. */
int docker_container_inspect(docker *d, const char *id, cJSON **ret, corral_error *err);
/* POST /containers/{id}/wait?condition=not-running: blocks until the container
 * is not running (at most timeout_ms) and gives its StatusCode. */
int docker_container_wait(docker *d, const char *id, unsigned timeout_ms, int *ret_status,
                          corral_error *err);
/* POST /containers/{id}/kill?signal=N.  -EX_NOINPUT: gone; a container that
 * is not running gives -EX_SOFTWARE (409). */
int docker_container_kill(docker *d, const char *id, int sig, corral_error *err);
/* POST /containers/{id}/stop?t=SECONDS (SIGTERM, SIGKILL after t s). */
int docker_container_stop(docker *d, const char *id, unsigned timeout_s, corral_error *err);
/* DELETE /containers/{id}?force=…&v=1. */
int docker_container_remove(docker *d, const char *id, bool force, corral_error *err);
/* GET /containers/json?all=1&filters={"label":[label]}: ids (NULL-terminated,
 * owned; strv_free()).  label is "KEY" or "KEY=VALUE". */
int docker_container_list(docker *d, const char *const *labels, char ***ret_ids,
                          corral_error *err);
/* GET /containers/{id}/logs?stdout=1&stderr=1&tail=N, demultiplexed into out
 * and errout (either may be NULL; their caps apply, excess is dropped). */
int docker_container_logs(docker *d, const char *id, unsigned tail, strbuf *out, strbuf *errout,
                          corral_error *err);
/* GET /events?since=…&until=…&filters=…: calls fn for each event until the
 * engine ends the stream at `until` (a unix time; required, so the call
 * always ends) or fn returns false.  filters is a JSON object text or NULL. */
int docker_events(docker *d, long since, long until, const char *filters,
                  bool (*fn)(void *ud, const cJSON *event), void *ud, corral_error *err);

/* POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 with
 * "Connection: Upgrade, Upgrade: tcp" on a fresh connection, written and read
 * by hand because the engine hijacks it (101 Switching Protocols).  Waits at
 * most timeout_ms for the response.  Returns the connected socket (>= 0,
 * O_CLOEXEC, blocking; the caller owns it): stdin is written to it unframed
 * and shutdown(SHUT_WR) closes the container's stdin (StdinOnce); what it
 * reads is the multiplexed stream (docker_demux).  Bytes of that stream that
 * arrived with the response head are appended to early (capped). */
int docker_attach(docker *d, const char *id, unsigned timeout_ms, strbuf *early,
                  corral_error *err);

/* ---- helpers for the backend and the daemon ----------------------------- */

/* Removes (force) every container labelled io.corral.root=root_label: those
 * of an earlier daemon run of the same store.  Returns how many, 0 when there
 * is no engine (nothing can be left then), or a negative code for an engine
 * that answers wrongly. */
int docker_remove_leftovers(const char *root_label, corral_error *err);
