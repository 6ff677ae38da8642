/* A small pool of worker threads for the npm resolver's blocking work
 * (parsing packuments, hashing and extracting tarballs, linking packages
 * from the unpacked cache), so the thread that drives libcurl never stalls
 * the transfers.  A job's run() goes on a worker; its complete() comes back
 * on the main thread from npm_pool_reap(), in the order the jobs finished.
 * A finishing worker wakes the main thread out of curl_multi_poll(). */
#include <pthread.h>
#include <unistd.h>

#include "npm_internal.h"

#define POOL_MIN 2
#define POOL_MAX 8

static void *worker(void *arg)
{
        npm_pool *p = arg;
        pthread_mutex_lock(&p->mu);
        for (;;) {
                while (!p->urgent && !p->queue && !p->stop)
                        pthread_cond_wait(&p->cv, &p->mu);
                npm_job *j;
                if (p->urgent) {
                        j = p->urgent;
                        p->urgent = j->next;
                        if (!p->urgent)
                                p->urgent_tail = NULL;
                } else if (p->queue) {
                        j = p->queue;
                        p->queue = j->next;
                        if (!p->queue)
                                p->queue_tail = NULL;
                } else {
                        break;
                }
                pthread_mutex_unlock(&p->mu);
                j->run(j);
                pthread_mutex_lock(&p->mu);
                j->next = NULL;
                if (p->done_tail)
                        p->done_tail->next = j;
                else
                        p->done = j;
                p->done_tail = j;
                if (p->wake)
                        curl_multi_wakeup(p->wake);
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

int npm_pool_init(npm_pool *p, CURLM *wake, corral_error *err)
{
        *p = (npm_pool){.wake = wake};
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        /* Extraction waits on the file system as much as on the CPU: twice
         * the processors, within bounds. */
        size_t n = cpus > 0 ? (size_t)cpus * 2 : POOL_MIN;
        n = n < POOL_MIN ? POOL_MIN : n > POOL_MAX ? POOL_MAX : n;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->inited = true;
        p->threads = xcalloc(n, sizeof(*p->threads));
        for (size_t i = 0; i < n; i++) {
                int e = pthread_create(&p->threads[i], NULL, worker, p);
                if (e != 0) {
                        if (p->n_threads > 0)
                                break; /* fewer workers still work */
                        return corral_error_errno(err, EX_OSERR, e, "cannot start a thread");
                }
                p->n_threads++;
        }
        return 0;
}

void npm_pool_submit(npm_pool *p, npm_job *j)
{
        j->next = NULL;
        npm_job **head = j->urgent ? &p->urgent : &p->queue;
        npm_job **tail = j->urgent ? &p->urgent_tail : &p->queue_tail;
        pthread_mutex_lock(&p->mu);
        if (*tail)
                (*tail)->next = j;
        else
                *head = j;
        *tail = j;
        p->pending++;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

size_t npm_pool_reap(npm_pool *p, void *ud)
{
        if (!p->inited)
                return 0;
        pthread_mutex_lock(&p->mu);
        npm_job *j = p->done;
        p->done = p->done_tail = NULL;
        pthread_mutex_unlock(&p->mu);
        size_t n = 0;
        while (j) {
                npm_job *next = j->next;
                p->pending--;
                j->complete(ud, j);
                j = next;
                n++;
        }
        return n;
}

void npm_pool_done(npm_pool *p, void *ud)
{
        if (!p->inited)
                return;
        /* Jobs already running run to their end; those still queued are not
         * run.  All complete (the caller is closing), so each frees what it
         * owns. */
        pthread_mutex_lock(&p->mu);
        npm_job *skipped = p->queue;
        if (p->urgent) {
                p->urgent_tail->next = skipped;
                skipped = p->urgent;
        }
        p->urgent = p->urgent_tail = NULL;
        p->queue = p->queue_tail = NULL;
        p->stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        npm_pool_reap(p, ud);
        while (skipped) {
                npm_job *next = skipped->next;
                p->pending--;
                skipped->complete(ud, skipped);
                skipped = next;
        }
        free(p->threads);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        *p = (npm_pool){0};
}
