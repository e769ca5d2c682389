/* SPDX-License-Identifier: Apache-2.0 */
/* The mount daemon's shared cache (fs/object-cache.h) and its buffer pool
 * (fs/buffer-pool.h): hits, single flight under contention, eviction within
 * the capacity, pinned entries kept, failures (remembered only for damage). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer-pool.h"
#include "object-cache.h"
#include "tap.h"

static atomic_int loads, frees;

typedef struct Loader {
        int error;              /* returned instead of a value when < 0 */
        size_t charge;
        unsigned delay_ms;
} Loader;

static int load(const ObjectId *id, void *userdata, void **ret_value, size_t *ret_charge) {
        const Loader *l = userdata;
        atomic_fetch_add(&loads, 1);
        if (l->delay_ms)
                nanosleep(&(struct timespec) { .tv_nsec = (long) l->delay_ms * 1000000L }, NULL);
        if (l->error < 0)
                return l->error;
        ObjectId *copy = malloc(sizeof *copy);
        if (!copy)
                return -ENOMEM;
        *copy = *id;
        *ret_value = copy;
        *ret_charge = l->charge;
        return 0;
}

static void free_value(void *value, size_t charge, void *userdata) {
        atomic_fetch_add(&frees, 1);
        free(value);
}

static ObjectId id_of(unsigned n) {
        ObjectId id;
        object_id_hash(&n, sizeof n, &id);
        return id;
}

static void test_hit_and_miss(void) {
        ObjectCache *c;
        check(object_cache_new(1000, free_value, NULL, &c) == 0, "new");
        atomic_store(&loads, 0);
        Loader l = { .charge = 10 };
        ObjectId id = id_of(1);
        ObjectCacheEntry *a, *b;
        check(object_cache_get(c, &id, load, &l, &a) == 0, "first get loads");
        check(object_cache_get(c, &id, load, &l, &b) == 0, "second get hits");
        check(a == b && atomic_load(&loads) == 1, "one load, one entry");
        check(object_id_equal(object_cache_entry_value(a), &id), "the value is what was loaded");
        object_cache_release(c, a);
        object_cache_release(c, b);
        ObjectCacheStats st;
        object_cache_stats(c, &st);
        check(st.hits == 1 && st.misses == 1 && st.charge == 10 && st.entries == 1, "stats: 1 hit, 1 miss");
        atomic_store(&frees, 0);
        object_cache_free(c);
        check(atomic_load(&frees) == 1, "free frees the value");
}

typedef struct Racer {
        ObjectCache *cache;
        ObjectId id;
        const Loader *loader;
        void *value;
        int r;
} Racer;

static void *race(void *p) {
        Racer *x = p;
        ObjectCacheEntry *e;
        x->r = object_cache_get(x->cache, &x->id, load, (void *) x->loader, &e);
        if (x->r == 0) {
                x->value = object_cache_entry_value(e);
                object_cache_release(x->cache, e);
        }
        return NULL;
}

static void test_single_flight(void) {
        ObjectCache *c;
        check(object_cache_new(1 << 20, free_value, NULL, &c) == 0, "new");
        enum { N = 8 };
        Loader slow = { .charge = 100, .delay_ms = 100 };
        Racer racers[N];
        pthread_t threads[N];
        atomic_store(&loads, 0);
        for (int i = 0; i < N; i++) {
                racers[i] = (Racer) { .cache = c, .id = id_of(7), .loader = &slow };
                pthread_create(&threads[i], NULL, race, &racers[i]);
        }
        bool same = true;
        for (int i = 0; i < N; i++) {
                pthread_join(threads[i], NULL);
                same = same && racers[i].r == 0 && racers[i].value == racers[0].value;
        }
        check(atomic_load(&loads) == 1, "8 concurrent readers of one missing object: one load (%d)",
              atomic_load(&loads));
        check(same, "all 8 got the same value");

        /* The same with a failing load: everyone gets the error, one load. */
        Loader broken = { .error = -EIO, .delay_ms = 100 };
        atomic_store(&loads, 0);
        for (int i = 0; i < N; i++) {
                racers[i] = (Racer) { .cache = c, .id = id_of(8), .loader = &broken };
                pthread_create(&threads[i], NULL, race, &racers[i]);
        }
        bool all_failed = true;
        for (int i = 0; i < N; i++) {
                pthread_join(threads[i], NULL);
                all_failed = all_failed && racers[i].r == -EIO;
        }
        check(all_failed && atomic_load(&loads) == 1, "a failed load is shared by its waiters");
        object_cache_free(c);
}

static void test_eviction(void) {
        ObjectCache *c;
        /* Below the shard minimum: one shard of exactly this capacity. */
        check(object_cache_new(100, free_value, NULL, &c) == 0, "new");
        atomic_store(&frees, 0);
        Loader l = { .charge = 30 };
        for (unsigned i = 0; i < 10; i++) {
                ObjectId id = id_of(100 + i);
                ObjectCacheEntry *e;
                check(object_cache_get(c, &id, load, &l, &e) == 0, "load %u", i);
                object_cache_release(c, e);
        }
        ObjectCacheStats st;
        object_cache_stats(c, &st);
        check(st.charge <= 100 && st.entries == 3 && atomic_load(&frees) == 7,
              "10 x 30 through a capacity of 100: 3 kept, 7 freed (%" PRIu64 " kept, %d freed)", st.entries,
              atomic_load(&frees));
        /* The most recent survive. */
        atomic_store(&loads, 0);
        ObjectId newest = id_of(109), oldest = id_of(100);
        ObjectCacheEntry *e;
        check(object_cache_get(c, &newest, load, &l, &e) == 0 && atomic_load(&loads) == 0, "newest kept");
        object_cache_release(c, e);
        check(object_cache_get(c, &oldest, load, &l, &e) == 0 && atomic_load(&loads) == 1, "oldest evicted");
        object_cache_release(c, e);

        /* Pinned entries are never evicted, even beyond the capacity. */
        ObjectCacheEntry *pinned[5];
        for (unsigned i = 0; i < 5; i++) {
                ObjectId id = id_of(200 + i);
                check(object_cache_get(c, &id, load, &l, &pinned[i]) == 0, "pin %u", i);
        }
        bool intact = true;
        for (unsigned i = 0; i < 5; i++) {
                ObjectId id = id_of(200 + i);
                intact = intact && object_id_equal(object_cache_entry_value(pinned[i]), &id);
        }
        object_cache_stats(c, &st);
        check(intact && st.charge == 150, "5 pinned x 30 stay (charge %" PRIu64 ")", st.charge);
        for (unsigned i = 0; i < 5; i++)
                object_cache_release(c, pinned[i]);
        object_cache_stats(c, &st);
        check(st.charge <= 100, "released: back within the capacity (%" PRIu64 ")", st.charge);
        object_cache_free(c);
}

static void test_failures(void) {
        ObjectCache *c;
        check(object_cache_new(1000, free_value, NULL, &c) == 0, "new");
        ObjectCacheEntry *e;
        ObjectId id = id_of(300);
        Loader transient = { .error = -EIO }, ok = { .charge = 1 }, damaged = { .error = -EBADMSG };
        atomic_store(&loads, 0);
        check(object_cache_get(c, &id, load, &transient, &e) == -EIO, "-EIO from the load");
        check(object_cache_get(c, &id, load, &ok, &e) == 0 && atomic_load(&loads) == 2, "retried at once");
        object_cache_release(c, e);

        id = id_of(301);
        atomic_store(&loads, 0);
        check(object_cache_get(c, &id, load, &damaged, &e) == -EBADMSG, "-EBADMSG from the load");
        check(object_cache_get(c, &id, load, &ok, &e) == -EBADMSG && atomic_load(&loads) == 1,
              "damage is remembered: no second load");
        object_cache_free(c);
}

static void test_buffer_pool(void) {
        BufferPool *p;
        check(buffer_pool_new(1 << 20, &p) == 0, "pool");
        size_t cap;
        void *small = buffer_pool_get(p, 100, &cap);
        check(small && cap == 100, "small buffers are malloc'd as asked");
        buffer_pool_release(p, small, cap);
        void *a = buffer_pool_get(p, 70000, &cap);
        check(a && cap >= 70000 && cap <= 70000 + 70000 / 4, "70000 B -> a class of %zu", cap);
        memset(a, 0xab, cap);
        buffer_pool_release(p, a, cap);
        check(buffer_pool_idle(p) == cap, "released buffer kept idle");
        size_t cap2;
        void *b = buffer_pool_get(p, 69000, &cap2);
        check(b == a && cap2 == cap, "same class: reused");
        buffer_pool_release(p, b, cap2);
        void *big = buffer_pool_get(p, 9 << 20, &cap);
        check(big && cap >= (9u << 20), "beyond the classes: mapped for itself");
        buffer_pool_release(p, big, cap);
        check(buffer_pool_idle(p) == cap2, "oversized buffers are not kept");
        /* The idle bound. */
        void *many[40];
        size_t caps[40];
        for (int i = 0; i < 40; i++)
                many[i] = buffer_pool_get(p, 64 << 10, &caps[i]);
        for (int i = 0; i < 40; i++)
                buffer_pool_release(p, many[i], caps[i]);
        check(buffer_pool_idle(p) <= (1 << 20), "idle buffers stay within the bound (%" PRIu64 ")",
              buffer_pool_idle(p));
        buffer_pool_free(p);
}

int main(void) {
        test_hit_and_miss();
        test_single_flight();
        test_eviction();
        test_failures();
        test_buffer_pool();
        return tap_done_testing();
}
