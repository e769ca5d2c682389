/* SPDX-License-Identifier: Apache-2.0 */
#include "buffer-pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>

/* Classes: 16, 20, 24, 28, 32, 40, 48, 56, 64 KiB, ... up to 4 MiB (at
 * most 25% above the request, 12% on average). Bigger buffers are mapped
 * and unmapped each time: no chunk is that big in practice. */
#define SMALL_MAX (16u << 10)
#define STEPS_PER_DOUBLING 4
#define N_CLASSES (8 * STEPS_PER_DOUBLING + 1) /* 16 KiB .. 4 MiB */

typedef struct FreeBuffer {
        struct FreeBuffer *next;
} FreeBuffer;

struct BufferPool {
        pthread_mutex_t lock;
        FreeBuffer *free[N_CLASSES];    /* protected by lock */
        uint64_t idle, max_idle;        /* protected by lock */
        size_t capacity[N_CLASSES];
};

int buffer_pool_new(uint64_t max_idle, BufferPool **ret) {
        BufferPool *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        p->max_idle = max_idle;
        for (size_t c = 0; c < N_CLASSES; c++) {
                size_t base = (size_t) SMALL_MAX << (c / STEPS_PER_DOUBLING);
                p->capacity[c] = base + base / STEPS_PER_DOUBLING * (c % STEPS_PER_DOUBLING);
        }
        *ret = p;
        return 0;
}

BufferPool *buffer_pool_free(BufferPool *p) {
        if (!p)
                return NULL;
        for (size_t c = 0; c < N_CLASSES; c++)
                for (FreeBuffer *b = p->free[c], *next; b; b = next) {
                        next = b->next;
                        munmap(b, p->capacity[c]);
                }
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

/* The smallest class that holds size, or N_CLASSES when none does. */
static size_t class_of(const BufferPool *p, size_t size) {
        size_t lo = 0, hi = N_CLASSES;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (p->capacity[mid] < size)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t page_round(size_t n) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        return (n + page - 1) / page * page;
}

void *buffer_pool_get(BufferPool *p, size_t size, size_t *ret_capacity) {
        if (size < SMALL_MAX) {
                *ret_capacity = size;
                return malloc(size ? size : 1);
        }
        size_t c = class_of(p, size);
        size_t cap = c < N_CLASSES ? p->capacity[c] : page_round(size);
        if (c < N_CLASSES) {
                pthread_mutex_lock(&p->lock);
                FreeBuffer *b = p->free[c];
                if (b) {
                        p->free[c] = b->next;
                        p->idle -= cap;
                }
                pthread_mutex_unlock(&p->lock);
                if (b) {
                        *ret_capacity = cap;
                        return b;
                }
        }
        /* Populated: the caller fills it at once, and one call is cheaper than
         * a page fault per page. */
        void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED)
                return NULL;
        *ret_capacity = cap;
        return m;
}

void buffer_pool_release(BufferPool *p, void *buf, size_t capacity) {
        if (!buf)
                return;
        if (capacity < SMALL_MAX) {
                free(buf);
                return;
        }
        size_t c = class_of(p, capacity);
        if (c < N_CLASSES && p->capacity[c] == capacity) {
                pthread_mutex_lock(&p->lock);
                bool keep = p->idle + capacity <= p->max_idle;
                if (keep) {
                        FreeBuffer *b = buf;
                        b->next = p->free[c];
                        p->free[c] = b;
                        p->idle += capacity;
                }
                pthread_mutex_unlock(&p->lock);
                if (keep)
                        return;
        }
        munmap(buf, capacity);
}

uint64_t buffer_pool_idle(BufferPool *p) {
        pthread_mutex_lock(&p->lock);
        uint64_t n = p->idle;
        pthread_mutex_unlock(&p->lock);
        return n;
}
