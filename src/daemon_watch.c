/* Hot reload's watches (src/daemon_watch.h). */
#include <stdlib.h>
#include <string.h>

#include "corral/fs.h"
#include "corral/log.h"
#include "daemon_watch.h"

typedef struct server_watch {
        char *name;
        uv_fs_event_t *h;
} server_watch;

struct daemon_watch {
        uv_loop_t *loop;
        const corral_paths *p;
        daemon_watch_fn fn;
        void *ud;
        char *config_dir, *config_base;
        uv_fs_event_t *config_h, *servers_h;
        server_watch *servers;
        size_t n_servers;
        uv_timer_t *timer;
        bool config_dirty, store_dirty;
};

static void free_handle(uv_handle_t *h)
{
        free(h);
}

static void close_event(uv_fs_event_t *h)
{
        if (h) {
                (void)uv_fs_event_stop(h);
                uv_close((uv_handle_t *)h, free_handle);
        }
}

static void on_timer(uv_timer_t *t)
{
        daemon_watch *w = t->data;
        bool config = w->config_dirty, store = w->store_dirty;

        w->config_dirty = w->store_dirty = false;
        if (config || store)
                w->fn(w->ud, config, store);
}

static void kick(daemon_watch *w, unsigned delay_ms)
{
        (void)uv_timer_start(w->timer, on_timer, delay_ms, 0);
}

static void on_config_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
        daemon_watch *w = h->data;

        /* Editors write a temp file and rename it over: the directory sees
         * the rename; others truncate and write: the file sees both. */
        if (status < 0 || (filename && strcmp(filename, w->config_base) != 0))
                return;
        w->config_dirty = true;
        kick(w, WATCH_DEBOUNCE_MS);
}

static void on_store_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
        daemon_watch *w = h->data;

        if (status < 0)
                return;
        /* The store's own lock and temp files are not changes; in a
         * server's directory only its manifest is (a remote unit's token
         * state, say, is written there while it runs). */
        if (filename && filename[0] == '.')
                return;
        if (h != w->servers_h && (!filename || strcmp(filename, "manifest.json") != 0))
                return;
        w->store_dirty = true;
        kick(w, WATCH_DEBOUNCE_MS);
}

static uv_fs_event_t *watch_dir(daemon_watch *w, const char *dir, uv_fs_event_cb cb)
{
        uv_fs_event_t *h = xcalloc(1, sizeof(*h));
        int r;

        if ((r = uv_fs_event_init(w->loop, h)) < 0) {
                free(h);
                log_warn("hot reload: cannot watch %s: %s", dir, uv_strerror(r));
                return NULL;
        }
        h->data = w;
        if ((r = uv_fs_event_start(h, cb, dir, 0)) < 0) {
                if (r != UV_ENOENT)
                        log_warn("hot reload: cannot watch %s: %s", dir, uv_strerror(r));
                uv_close((uv_handle_t *)h, free_handle);
                return NULL;
        }
        return h;
}

daemon_watch *daemon_watch_new(uv_loop_t *loop, const corral_paths *p, daemon_watch_fn fn,
                               void *ud)
{
        daemon_watch *w = xcalloc(1, sizeof(*w));
        char *slash;

        w->loop = loop;
        w->p = p;
        w->fn = fn;
        w->ud = ud;
        w->timer = xcalloc(1, sizeof(*w->timer));
        (void)uv_timer_init(loop, w->timer);
        w->timer->data = w;
        w->config_dir = xstrdup(p->config);
        slash = strrchr(w->config_dir, '/');
        if (slash) {
                *slash = '\0';
                w->config_base = xstrdup(slash + 1);
                /* The directory: a rename over corral.json replaces the inode
                 * a watch on the file itself would follow. */
                (void)mkdir_p(w->config_dir, 0755);
                w->config_h = watch_dir(w, w->config_dir[0] ? w->config_dir : "/", on_config_event);
        } else {
                w->config_base = xstrdup(p->config);
        }
        w->servers_h = watch_dir(w, p->servers, on_store_event);
        return w;
}

void daemon_watch_servers(daemon_watch *w, char *const *names)
{
        if (!w)
                return;
        /* Drop the watches of servers that are gone. */
        for (size_t i = 0; i < w->n_servers;) {
                bool keep = false;
                for (size_t k = 0; names && names[k] && !keep; k++)
                        keep = strcmp(names[k], w->servers[i].name) == 0;
                if (keep) {
                        i++;
                        continue;
                }
                close_event(w->servers[i].h);
                free(w->servers[i].name);
                w->servers[i] = w->servers[--w->n_servers];
        }
        for (size_t k = 0; names && names[k] && w->n_servers < WATCH_MAX_SERVERS; k++) {
                bool have = false;
                for (size_t i = 0; i < w->n_servers && !have; i++)
                        have = strcmp(names[k], w->servers[i].name) == 0;
                if (have)
                        continue;
                _cleanup_free_ char *dir = paths_server_dir(w->p, names[k]);
                uv_fs_event_t *h = watch_dir(w, dir, on_store_event);
                if (!h)
                        continue;
                w->servers = xrealloc(w->servers, (w->n_servers + 1) * sizeof(*w->servers));
                w->servers[w->n_servers++] = (server_watch){xstrdup(names[k]), h};
        }
}

void daemon_watch_again(daemon_watch *w, bool config, unsigned delay_ms)
{
        if (config)
                w->config_dirty = true;
        else
                w->store_dirty = true;
        kick(w, delay_ms);
}

daemon_watch *daemon_watch_free(daemon_watch *w)
{
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n_servers; i++) {
                close_event(w->servers[i].h);
                free(w->servers[i].name);
        }
        free(w->servers);
        close_event(w->config_h);
        close_event(w->servers_h);
        (void)uv_timer_stop(w->timer);
        uv_close((uv_handle_t *)w->timer, free_handle);
        free(w->config_dir);
        free(w->config_base);
        free(w);
        return NULL;
}
