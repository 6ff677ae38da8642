/* The Engine API's streamed JSON (src/docker/stream.c): an image pull's
 * progress lines, split at any point across reads, each classified as
 * progress, ignored or an error, as src/docker/client.c reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corral/docker.h"
#include "corral/macro.h"
#include "corral/strbuf.h"

typedef struct state {
        size_t lines, progress, errors;
} state;

static bool on_line(void *ud, const char *text, size_t n)
{
        state *st = ud;
        cJSON *msg = NULL;
        char *e = NULL;

        if (n == 0 || text[n] != '\0' || memchr(text, '\n', n))
                abort();
        st->lines++;
        int r = docker_pull_message(text, n, 300, &msg, &e);
        if (r < 0) {
                if (!e || strlen(e) > 300 || msg)
                        abort();
                free(e);
                st->errors++;
                return false;
        }
        if (r > 0) {
                if (!msg)
                        abort();
                st->progress++;
        }
        cJSON_Delete(msg);
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        strbuf buf = STRBUF_INIT(1u << 20);
        state st = {0};
        size_t i = 0;
        bool go = true;

        /* Pieces whose sizes come from the data itself, as reads would split. */
        while (go && i < size) {
                size_t n = 1 + data[i] % 61;
                if (n > size - i)
                        n = size - i;
                if (strbuf_append(&buf, data + i, n) < 0)
                        break;
                i += n;
                go = docker_json_lines(&buf, false, on_line, &st);
        }
        if (go)
                (void)docker_json_lines(&buf, true, on_line, &st);
        if (st.errors > 1 || st.progress + st.errors > st.lines)
                abort();
        strbuf_done(&buf);
        return 0;
}
