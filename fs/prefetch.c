/* SPDX-License-Identifier: Apache-2.0 */
#include "prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* A ring of job pointers under one mutex: jobs are whole chunk loads
 * (tens of microseconds and more), so the lock is never the bottleneck. */
struct Prefetch {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        void **ring;                    /* protected by lock */
        size_t ring_max, head, n;       /* protected by lock */
        bool stopping;                  /* protected by lock */
        PrefetchFn run, drop;
        pthread_t *threads;
        unsigned n_threads;
};

static void *worker(void *userdata) {
        Prefetch *p = userdata;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (p->n == 0 && !p->stopping)
                        pthread_cond_wait(&p->wake, &p->lock);
                if (p->stopping)
                        break;
                void *job = p->ring[p->head];
                p->head = (p->head + 1) % p->ring_max;
                p->n--;
                pthread_mutex_unlock(&p->lock);
                p->run(job);
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int prefetch_new(unsigned threads, size_t queue_max, PrefetchFn run, PrefetchFn drop, Prefetch **ret) {
        _cleanup_(prefetch_freep) Prefetch *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->wake, NULL);
        p->run = run;
        p->drop = drop;
        p->ring_max = MAX(queue_max, (size_t) 1);
        p->ring = calloc(p->ring_max, sizeof *p->ring);
        p->threads = calloc(MAX(threads, 1u), sizeof *p->threads);
        if (!p->ring || !p->threads)
                return -ENOMEM;
        for (unsigned i = 0; i < MAX(threads, 1u); i++) {
                int r = pthread_create(&p->threads[i], NULL, worker, p);
                if (r != 0)
                        return -r;
                p->n_threads++;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

Prefetch *prefetch_free(Prefetch *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        for (; p->n > 0; p->n--) {
                p->drop(p->ring[p->head]);
                p->head = (p->head + 1) % p->ring_max;
        }
        free(p->threads);
        free(p->ring);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

bool prefetch_submit(Prefetch *p, void *job) {
        pthread_mutex_lock(&p->lock);
        bool taken = !p->stopping && p->n < p->ring_max;
        if (taken) {
                p->ring[(p->head + p->n) % p->ring_max] = job;
                p->n++;
                pthread_cond_signal(&p->wake);
        }
        pthread_mutex_unlock(&p->lock);
        return taken;
}
