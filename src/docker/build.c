/* Image builds: POST /build (Engine API v1.41, "Build an image") with a tar
 * build context, its newline-delimited JSON answer read as it streams.
 * Used at install time by the CLI (blocking, never on the daemon's loop):
 * a git source whose tree has a Dockerfile and no package.json. */
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "corral/docker.h"
#include "corral/jsonutil.h"
#include "corral/strbuf.h"
#include "docker/internal.h"

#define BUILD_LINE_MAX (1u << 20)
#define BUILD_ERROR_MAX 1024u

typedef struct build_state {
        int fd;
        strbuf line;
        docker_build_output_fn out;
        void *ud;
        char *id;
        char *error;
        bool too_long;
} build_state;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
        build_state *b = ud;
        ssize_t n = read(b->fd, buf, size * nmemb);
        return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

static void on_message(build_state *b, const char *text, size_t len)
{
        _cleanup_json_ cJSON *msg = cJSON_ParseWithLength(text, len);
        const char *s;

        if (!cJSON_IsObject(msg))
                return;
        if ((s = json_get_string(msg, "stream")) && b->out)
                b->out(b->ud, s);
        if ((s = json_get_string(json_get_object(msg, "aux"), "ID")) && !b->id)
                b->id = xstrdup(s);
        if (((s = json_get_string(msg, "error")) ||
             (s = json_get_string(json_get_object(msg, "errorDetail"), "message")) ||
             (s = json_get_string(msg, "message"))) &&
            !b->error)
                b->error = xstrndup(s, BUILD_ERROR_MAX);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
        build_state *b = ud;
        size_t n = size * nmemb;

        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        if (b->line.len)
                                on_message(b, b->line.buf, b->line.len);
                        strbuf_reset(&b->line);
                } else if (strbuf_append(&b->line, data + i, 1) < 0) {
                        b->too_long = true;
                        return 0;
                }
        }
        return n;
}

int docker_image_build(docker *d, int context_fd, uint64_t context_len, const char *tag,
                       const cJSON *labels, unsigned timeout_ms, docker_build_output_fn out,
                       void *ud, char **ret_id, corral_error *err)
{
        build_state b = {.fd = context_fd, .line = STRBUF_INIT(BUILD_LINE_MAX), .out = out,
                         .ud = ud};
        _cleanup_free_ char *label_text = json_print(labels);
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char curl_err[CURL_ERROR_SIZE] = "";
        long status = 0;
        int r = 0;

        if (!c)
                return corral_error_set(err, EX_OSERR, "out of memory");
        char *et = curl_easy_escape(c, tag, 0), *el = curl_easy_escape(c, label_text, 0);
        _cleanup_free_ char *url =
                xasprintf("http://docker/v%s/build?t=%s&labels=%s&networkmode=none&rm=1&forcerm=1",
                          docker_api_version(d), et ? et : "", el ? el : "");
        curl_free(et);
        curl_free(el);
        h = curl_slist_append(h, "Content-Type: application/x-tar");
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, docker_socket_path(d));
        (void)curl_easy_setopt(c, CURLOPT_POST, 1L);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)context_len);
        (void)curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        (void)curl_easy_setopt(c, CURLOPT_READDATA, &b);
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        CURLcode cr = curl_easy_perform(c);
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (b.line.len)
                on_message(&b, b.line.buf, b.line.len);

        if (b.too_long)
                r = corral_error_set(err, EX_DATAERR, "docker engine: a build message over %u bytes",
                                     BUILD_LINE_MAX);
        else if (cr == CURLE_OPERATION_TIMEDOUT)
                r = corral_error_set(err, EX_TEMPFAIL, "the image build timed out after %u s",
                                     timeout_ms / 1000);
        else if (cr != CURLE_OK)
                r = corral_error_set(err, EX_UNAVAILABLE, "docker engine unavailable: %s",
                                     curl_err[0] ? curl_err : curl_easy_strerror(cr));
        else if (status >= 400 || b.error)
                r = corral_error_set(err, status >= 400 && status < 500
                                                  ? docker_status_code(status)
                                                  : EX_DATAERR,
                                     "the image build failed: %s",
                                     b.error ? b.error : "refused by the engine");
        else if (!b.id)
                r = corral_error_set(err, EX_DATAERR,
                                     "the image build ended without an image id");
        if (r >= 0)
                *ret_id = steal_pointer(&b.id);
        free(b.id);
        free(b.error);
        strbuf_done(&b.line);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return r;
}
