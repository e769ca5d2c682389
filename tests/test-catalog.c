/* SPDX-License-Identifier: Apache-2.0 */
/* The catalog: objects put/get/del/foreach, revisions and generations in
 * their documented order, meta values, transaction isolation (a reader does
 * not see uncommitted writes, abort discards), persistence across reopen. */
#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "object-id.h"
#include "object-location.h"
#include "pack-format.h"
#include "tap.h"
#include "test-util.h"

static ObjectId random_id(uint64_t *state) {
        ObjectId id;
        fill_random(state, id.bytes, OBJECT_ID_SIZE);
        return id;
}

static ObjectLocation random_location(uint64_t *state) {
        return (ObjectLocation) {
                .pack = (uint32_t) (1 + splitmix64(state) % 1000),
                .offset = splitmix64(state) % (UINT64_C(1) << 40),
                .stored_size = (uint32_t) (splitmix64(state) % RECORD_PAYLOAD_MAX),
                .raw_size = (uint32_t) (splitmix64(state) % RECORD_PAYLOAD_MAX),
                .type = (uint8_t) (1 + splitmix64(state) % (_OBJECT_TYPE_MAX - 1)),
                .compression = (uint8_t) (splitmix64(state) % 2),
                .size = splitmix64(state) >> 8,
        };
}

static bool location_equal(const ObjectLocation *a, const ObjectLocation *b) {
        return a->pack == b->pack && a->offset == b->offset && a->stored_size == b->stored_size &&
               a->raw_size == b->raw_size && a->type == b->type && a->compression == b->compression &&
               a->size == b->size;
}

#define N_OBJECTS 2000

typedef struct Obj {
        ObjectId id;
        ObjectLocation loc;
        bool deleted;
} Obj;

static Obj objs[N_OBJECTS];

static int cmp_obj(const void *a, const void *b) {
        return object_id_compare(&((const Obj *) a)->id, &((const Obj *) b)->id);
}

typedef struct ObjWalk {
        size_t n;
        bool ordered, known;
        ObjectId last;
        size_t stop_after;
} ObjWalk;

static int obj_walk(const ObjectId *id, const ObjectLocation *loc, void *u) {
        ObjWalk *w = u;
        if (w->n > 0 && object_id_compare(&w->last, id) >= 0)
                w->ordered = false;
        w->last = *id;
        Obj key = { .id = *id };
        Obj *o = bsearch(&key, objs, N_OBJECTS, sizeof(Obj), cmp_obj);
        if (!o || o->deleted || !location_equal(&o->loc, loc))
                w->known = false;
        w->n++;
        if (w->stop_after && w->n == w->stop_after)
                return -ECANCELED;
        return 0;
}

static void test_objects(Catalog *c, uint64_t *state) {
        for (size_t i = 0; i < N_OBJECTS; i++)
                objs[i] = (Obj) { .id = random_id(state), .loc = random_location(state) };

        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin(write)");
        bool put = true;
        for (size_t i = 0; i < N_OBJECTS; i++)
                put = put && catalog_put_object(t, &objs[i].id, &objs[i].loc) == 0;
        check(put, "put %d objects", N_OBJECTS);
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        if (catalog_begin(c, false, &t) < 0)
                tap_bail_out("catalog_begin(read)");
        bool got = true;
        for (size_t i = 0; i < N_OBJECTS; i++) {
                ObjectLocation loc;
                got = got && catalog_get_object(t, &objs[i].id, &loc) == 0 && location_equal(&loc, &objs[i].loc);
        }
        check(got, "every object reads back with its location, every field intact");
        ObjectId missing = random_id(state);
        ObjectLocation loc;
        check_eq(catalog_get_object(t, &missing, &loc), -ENOENT, "an unknown id is -ENOENT");
        uint64_t count = 0;
        check(catalog_count_objects(t, &count) == 0 && count == N_OBJECTS, "count is %d (got %" PRIu64 ")",
              N_OBJECTS, count);

        qsort(objs, N_OBJECTS, sizeof(Obj), cmp_obj);
        ObjWalk w = { .ordered = true, .known = true };
        check(catalog_foreach_object(t, obj_walk, &w) == 0 && w.n == N_OBJECTS && w.ordered && w.known,
              "foreach visits every object once in id order (%zu, ordered %d, known %d)", w.n, w.ordered, w.known);
        w = (ObjWalk) { .ordered = true, .known = true, .stop_after = 10 };
        check(catalog_foreach_object(t, obj_walk, &w) == -ECANCELED && w.n == 10,
              "foreach stops when fn returns < 0 and returns that error");
        t = catalog_abort(t);

        /* Delete every third, and a put overwrites. */
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin(write)");
        bool del = true;
        size_t n_deleted = 0;
        for (size_t i = 0; i < N_OBJECTS; i += 3) {
                del = del && catalog_del_object(t, &objs[i].id) == 0;
                objs[i].deleted = true;
                n_deleted++;
        }
        check(del, "delete %zu objects", n_deleted);
        check_eq(catalog_del_object(t, &objs[0].id), -ENOENT, "deleting an absent object is -ENOENT");
        objs[1].loc = random_location(state);
        check_eq(catalog_put_object(t, &objs[1].id, &objs[1].loc), 0, "put over an existing id");
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        if (catalog_begin(c, false, &t) < 0)
                tap_bail_out("catalog_begin(read)");
        bool gone = true, kept = true;
        for (size_t i = 0; i < N_OBJECTS; i++) {
                int r = catalog_get_object(t, &objs[i].id, &loc);
                if (objs[i].deleted)
                        gone = gone && r == -ENOENT;
                else
                        kept = kept && r == 0 && location_equal(&loc, &objs[i].loc);
        }
        check(gone, "deleted objects are -ENOENT");
        check(kept, "the others keep their (latest) locations");
        check(catalog_count_objects(t, &count) == 0 && count == N_OBJECTS - n_deleted, "count is %zu",
              N_OBJECTS - n_deleted);
        w = (ObjWalk) { .ordered = true, .known = true };
        check(catalog_foreach_object(t, obj_walk, &w) == 0 && w.n == N_OBJECTS - n_deleted && w.ordered && w.known,
              "foreach after deletes visits exactly the remaining objects, in order");
}

typedef struct RevRow {
        char bundle[32];
        uint32_t rev;
        ObjectId id;
} RevRow;

typedef struct RevWalk {
        RevRow rows[32];
        size_t n;
} RevWalk;

static int rev_walk(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        RevWalk *w = u;
        if (w->n >= ELEMENTSOF(w->rows))
                return -E2BIG;
        RevRow *r = &w->rows[w->n++];
        snprintf(r->bundle, sizeof r->bundle, "%s", bundle);
        r->rev = rev;
        r->id = *id;
        return 0;
}

static ObjectId id_of(const char *s) {
        ObjectId id;
        object_id_hash(s, strlen(s), &id);
        return id;
}

static void test_revisions(Catalog *c) {
        /* Inserted out of order; 256 and 10 check big-endian numeric order,
         * "a", "a-b", "ab" that a bundle's prefix is not another bundle. */
        static const struct {
                const char *bundle;
                uint32_t rev;
        } ins[] = {
                { "b", 2 }, { "a", 256 }, { "ab", 1 }, { "a", 10 }, { "a", 2 }, { "b", 1 }, { "a-b", 7 }, { "a", 1 },
        };
        static const char *const order[] = { "a@1", "a@2", "a@10", "a@256", "a-b@7", "ab@1", "b@1", "b@2" };

        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        bool put = true;
        for (size_t i = 0; i < ELEMENTSOF(ins); i++) {
                char spec[64];
                snprintf(spec, sizeof spec, "%s@%u", ins[i].bundle, ins[i].rev);
                ObjectId id = id_of(spec);
                put = put && catalog_put_revision(t, ins[i].bundle, ins[i].rev, &id) == 0;
        }
        check(put, "put %zu revisions", ELEMENTSOF(ins));
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        if (catalog_begin(c, false, &t) < 0)
                tap_bail_out("catalog_begin");
        RevWalk w = {};
        int r = catalog_foreach_revision(t, NULL, rev_walk, &w);
        bool ordered = r == 0 && w.n == ELEMENTSOF(order);
        for (size_t i = 0; ordered && i < w.n; i++) {
                char spec[64];
                snprintf(spec, sizeof spec, "%s@%u", w.rows[i].bundle, w.rows[i].rev);
                ObjectId want = id_of(spec);
                if (strcmp(spec, order[i]) != 0 || !object_id_equal(&want, &w.rows[i].id)) {
                        tap_diag("position %zu: %s, expected %s", i, spec, order[i]);
                        ordered = false;
                }
        }
        check(ordered, "foreach(all) gives every revision in (bundle, number) order with its id");

        w = (RevWalk) {};
        r = catalog_foreach_revision(t, "a", rev_walk, &w);
        check(r == 0 && w.n == 4 && w.rows[0].rev == 1 && w.rows[1].rev == 2 && w.rows[2].rev == 10 &&
                      w.rows[3].rev == 256 && strcmp(w.rows[3].bundle, "a") == 0,
              "foreach(\"a\") gives a@1, a@2, a@10, a@256 and not a-b or ab (%zu rows)", w.n);
        w = (RevWalk) {};
        check(catalog_foreach_revision(t, "zz", rev_walk, &w) == 0 && w.n == 0, "foreach of an unknown bundle is empty");

        uint32_t latest = 0;
        check(catalog_latest_revision(t, "a", &latest) == 0 && latest == 256, "latest of a is 256 (got %u)", latest);
        check(catalog_latest_revision(t, "ab", &latest) == 0 && latest == 1, "latest of ab is 1 (got %u)", latest);
        check_eq(catalog_latest_revision(t, "zz", &latest), -ENOENT, "latest of an unknown bundle is -ENOENT");

        ObjectId id, want = id_of("a@10");
        check(catalog_get_revision(t, "a", 10, &id) == 0 && object_id_equal(&id, &want), "get a@10");
        check_eq(catalog_get_revision(t, "a", 3, &id), -ENOENT, "get a@3 (absent) is -ENOENT");
        check_eq(catalog_get_revision(t, "c", 1, &id), -ENOENT, "get c@1 (no such bundle) is -ENOENT");
        t = catalog_abort(t);

        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        check_eq(catalog_del_revision(t, "a", 256), 0, "delete a@256");
        check_eq(catalog_del_revision(t, "a", 256), -ENOENT, "delete a@256 again is -ENOENT");
        check(catalog_latest_revision(t, "a", &latest) == 0 && latest == 10, "latest of a is now 10 (got %u)",
              latest);
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");
}

typedef struct GenWalk {
        uint64_t gens[16];
        ObjectId ids[16];
        size_t n;
} GenWalk;

static int gen_walk(uint64_t gen, const ObjectId *id, void *u) {
        GenWalk *w = u;
        if (w->n >= ELEMENTSOF(w->gens))
                return -E2BIG;
        w->gens[w->n] = gen;
        w->ids[w->n++] = *id;
        return 0;
}

static ObjectId gen_id(uint64_t g) {
        char s[32];
        snprintf(s, sizeof s, "gen %" PRIu64, g);
        return id_of(s);
}

static void test_generations(Catalog *c) {
        static const uint64_t ins[] = { 3, 256, 1, 2, UINT64_C(1) << 33, 255 };
        static const uint64_t order[] = { 1, 2, 3, 255, 256, UINT64_C(1) << 33 };
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        bool put = true;
        for (size_t i = 0; i < ELEMENTSOF(ins); i++) {
                ObjectId id = gen_id(ins[i]);
                put = put && catalog_put_generation(t, ins[i], &id) == 0;
        }
        check(put, "put %zu generations", ELEMENTSOF(ins));
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        if (catalog_begin(c, false, &t) < 0)
                tap_bail_out("catalog_begin");
        GenWalk w = {};
        bool ordered = catalog_foreach_generation(t, gen_walk, &w) == 0 && w.n == ELEMENTSOF(order);
        for (size_t i = 0; ordered && i < w.n; i++) {
                ObjectId want = gen_id(order[i]);
                if (w.gens[i] != order[i] || !object_id_equal(&w.ids[i], &want)) {
                        tap_diag("position %zu: generation %" PRIu64 ", expected %" PRIu64, i, w.gens[i], order[i]);
                        ordered = false;
                }
        }
        check(ordered, "foreach gives generations in numeric order with their ids");
        ObjectId id, want = gen_id(256);
        check(catalog_get_generation(t, 256, &id) == 0 && object_id_equal(&id, &want), "get generation 256");
        check_eq(catalog_get_generation(t, 4, &id), -ENOENT, "get generation 4 (absent) is -ENOENT");
        t = catalog_abort(t);

        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        check_eq(catalog_del_generation(t, 2), 0, "delete generation 2");
        check_eq(catalog_del_generation(t, 2), -ENOENT, "delete generation 2 again is -ENOENT");
        w = (GenWalk) {};
        check(catalog_foreach_generation(t, gen_walk, &w) == 0 && w.n == ELEMENTSOF(order) - 1 && w.gens[1] == 3,
              "foreach in the same write transaction no longer sees it");
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");
}

static void test_meta(Catalog *c) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        uint64_t v = 0;
        check_eq(catalog_get_u64(t, "current", &v), -ENOENT, "a missing meta value is -ENOENT");
        check_eq(catalog_put_u64(t, "current", 5), 0, "put current = 5");
        check_eq(catalog_put_u64(t, "pack-end", UINT64_MAX - 1), 0, "put pack-end = 2^64 - 2");
        check(catalog_get_u64(t, "current", &v) == 0 && v == 5, "the write transaction reads its own value");
        ObjectId id = id_of("state"), got;
        check_eq(catalog_get_id(t, "state", &got), -ENOENT, "a missing id value is -ENOENT");
        check_eq(catalog_put_id(t, "state", &id), 0, "put state id");
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        check(catalog_get_u64(t, "current", &v) == 0 && v == 5, "current reads 5");
        check(catalog_get_u64(t, "pack-end", &v) == 0 && v == UINT64_MAX - 1, "pack-end reads 2^64 - 2");
        check(catalog_get_id(t, "state", &got) == 0 && object_id_equal(&got, &id), "state id reads back");
        check_eq(catalog_get_u64(t, "state", &v), -EBADMSG, "reading an id value as a u64 is -EBADMSG");
        check_eq(catalog_get_id(t, "current", &got), -EBADMSG, "reading a u64 value as an id is -EBADMSG");
        check(catalog_put_u64(t, "current", 6) == 0 && catalog_get_u64(t, "current", &v) == 0 && v == 6,
              "put overwrites");
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");
}

/* Isolation: a read transaction sees a snapshot; abort discards. */
static void test_isolation(Catalog *c, uint64_t *state) {
        ObjectId a = random_id(state), b = random_id(state);
        ObjectLocation la = random_location(state), lb = random_location(state), got;

        _cleanup_(catalog_abortp) CatalogTxn *w = NULL, *r1 = NULL, *r2 = NULL, *r3 = NULL;
        if (catalog_begin(c, true, &w) < 0)
                tap_bail_out("catalog_begin(write)");
        check_eq(catalog_put_object(w, &a, &la), 0, "write transaction puts object A");
        check_eq(catalog_put_revision(w, "iso", 1, &a), 0, "and revision iso@1");
        check_eq(catalog_put_u64(w, "current", 99), 0, "and current = 99");
        check_eq(catalog_get_object(w, &a, &got), 0, "the writer sees A");

        check_eq(catalog_begin(c, false, &r1), 0, "a read transaction begins while the writer is open");
        uint64_t v = 0;
        ObjectId rid;
        check_eq(catalog_get_object(r1, &a, &got), -ENOENT, "the reader does not see uncommitted object A");
        check_eq(catalog_get_revision(r1, "iso", 1, &rid), -ENOENT, "the reader does not see uncommitted iso@1");
        check(catalog_get_u64(r1, "current", &v) == 0 && v == 6, "the reader sees the old current (6, got %" PRIu64 ")",
              v);

        check_eq(catalog_commit(TAKE_PTR(w)), 0, "the writer commits");
        check_eq(catalog_get_object(r1, &a, &got), -ENOENT, "the reader's snapshot still does not see A");
        check_eq(catalog_begin(c, false, &r2), 0, "a new read transaction");
        check(catalog_get_object(r2, &a, &got) == 0 && location_equal(&got, &la), "the new reader sees A");
        check(catalog_get_u64(r2, "current", &v) == 0 && v == 99, "the new reader sees current = 99");

        /* Abort discards. */
        if (catalog_begin(c, true, &w) < 0)
                tap_bail_out("catalog_begin(write)");
        check(catalog_put_object(w, &b, &lb) == 0 && catalog_del_object(w, &a) == 0 &&
                      catalog_put_u64(w, "current", 100) == 0 && catalog_put_generation(w, 77, &b) == 0,
              "a write transaction puts B, deletes A, sets current = 100, adds generation 77");
        w = catalog_abort(w);
        check_eq(catalog_begin(c, false, &r3), 0, "a read transaction after the abort");
        check_eq(catalog_get_object(r3, &b, &got), -ENOENT, "abort discarded the put of B");
        check_eq(catalog_get_object(r3, &a, &got), 0, "abort discarded the delete of A");
        check(catalog_get_u64(r3, "current", &v) == 0 && v == 99, "abort discarded current = 100");
        check_eq(catalog_get_generation(r3, 77, &rid), -ENOENT, "abort discarded generation 77");

        /* Writing through a read transaction fails and changes nothing. */
        check(catalog_put_u64(r3, "current", 1) < 0, "a put in a read transaction fails");
}

static void test_reopen_and_clear(const char *dir) {
        _cleanup_(catalog_freep) Catalog *c = NULL;
        check_eq(catalog_open(dir, false, &c), 0, "reopen the catalog without create");
        if (!c)
                return;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (catalog_begin(c, true, &t) < 0)
                tap_bail_out("catalog_begin");
        uint64_t count = 0, v = 0;
        uint32_t latest = 0;
        check(catalog_count_objects(t, &count) == 0 && count > 0 && catalog_get_u64(t, "current", &v) == 0 && v == 99 &&
                      catalog_latest_revision(t, "b", &latest) == 0 && latest == 2,
              "committed objects, meta and revisions persist across reopen");
        check_eq(catalog_clear(t), 0, "catalog_clear");
        ObjectId id;
        RevWalk rw = {};
        GenWalk gw = {};
        check(catalog_count_objects(t, &count) == 0 && count == 0 &&
                      catalog_foreach_revision(t, NULL, rev_walk, &rw) == 0 && rw.n == 0 &&
                      catalog_foreach_generation(t, gen_walk, &gw) == 0 && gw.n == 0 &&
                      catalog_get_u64(t, "current", &v) == -ENOENT && catalog_get_id(t, "state", &id) == -ENOENT,
              "after clear: no objects, revisions, generations or meta values");
        check_eq(catalog_commit(TAKE_PTR(t)), 0, "commit");

        uint64_t bytes = 0;
        check(catalog_size(c, &bytes) == 0 && bytes > 0, "catalog_size reports %" PRIu64 " bytes", bytes);

        _cleanup_(catalog_freep) Catalog *none = NULL;
        _cleanup_free_ char *missing = NULL;
        if (asprintf(&missing, "%s/does-not-exist", dir) < 0)
                tap_bail_out("oom");
        check_eq(catalog_open(missing, false, &none), -ENOENT, "opening a missing directory without create is -ENOENT");
}

/* The on-disk location value: round trip, one encoding per value, and
 * refusal of what it cannot be. */
static void test_location_encoding(uint64_t *state) {
        ObjectLocation l = { .pack = 7, .offset = 1ULL << 40, .stored_size = 1234, .raw_size = 4321,
                             .type = OBJECT_RECIPE, .compression = PACK_COMPRESSION_ZSTD, .size = 1ULL << 33 };
        uint8_t b[OBJECT_LOCATION_MAX_SIZE];
        size_t n = object_location_encode(&l, b);
        ObjectLocation got;
        check(object_location_decode(b, n, &got) == 0 && got.pack == l.pack && got.offset == l.offset &&
                      got.stored_size == l.stored_size && got.raw_size == l.raw_size && got.type == l.type &&
                      got.compression == l.compression && got.size == l.size,
              "a recipe's location round-trips through its %zu-byte encoding", n);
        bool short_refused = true;
        for (size_t k = 0; k < n; k++)
                short_refused &= object_location_decode(b, k, &got) == -EBADMSG;
        check(short_refused, "every cut-short location is refused");
        uint8_t longer[OBJECT_LOCATION_MAX_SIZE + 1];
        memcpy(longer, b, n);
        longer[n] = 0;
        check_eq(object_location_decode(longer, n + 1, &got), -EBADMSG, "a location with a byte left over is refused");

        /* A chunk: size is raw_size and not written; typical fields take
         * 13 bytes, not 32. */
        ObjectLocation c = { .pack = 3, .offset = 700u << 20, .stored_size = 60000, .raw_size = 131072,
                             .type = OBJECT_CHUNK, .compression = PACK_COMPRESSION_ZSTD, .size = 131072 };
        n = object_location_encode(&c, b);
        check(n == 13 && object_location_decode(b, n, &got) == 0 && got.size == c.raw_size && got.offset == c.offset,
              "a chunk's location takes %zu bytes and decodes with size = raw_size", n);

        /* Extremes round-trip. */
        ObjectLocation x = { .pack = UINT32_MAX, .offset = UINT64_MAX, .stored_size = UINT32_MAX,
                             .raw_size = UINT32_MAX, .type = OBJECT_STATE, .compression = PACK_COMPRESSION_PAGED,
                             .size = UINT64_MAX };
        n = object_location_encode(&x, b);
        check(n == OBJECT_LOCATION_MAX_SIZE && object_location_decode(b, n, &got) == 0 && got.pack == x.pack &&
                      got.offset == x.offset && got.stored_size == x.stored_size && got.raw_size == x.raw_size &&
                      got.size == UINT64_MAX,
              "the largest values take the %d bytes allowed and round-trip", OBJECT_LOCATION_MAX_SIZE);

        /* Encodings the encoder never makes. */
        const struct {
                const char *what;
                uint8_t bytes[8];
                size_t n;
        } bad[] = {
                { "type 0", { 0x00, 1, 2, 3, 4 }, 5 },
                { "type past the last", { _OBJECT_TYPE_MAX, 1, 2, 3, 4 }, 5 },
                { "compression past the last", { 0x01 | (_PACK_COMPRESSION_MAX << 3), 1, 2, 3, 4 }, 5 },
                { "a reserved bit", { 0x41, 1, 2, 3, 4 }, 5 },
                { "an overlong varint", { 0x01, 0x81, 0x00, 2, 3, 4 }, 6 },
                { "a pack number over 32 bits", { 0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 2, 3 }, 8 },
                { "a size flag with size = raw_size", { 0x21, 1, 2, 3, 4, 4 }, 6 },
                { "empty", { 0 }, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check_eq(object_location_decode(bad[i].bytes, bad[i].n, &got), -EBADMSG, "%s is refused", bad[i].what);

        /* Random locations: decode(encode(l)) == l, and every byte string
         * that decodes encodes back to itself. */
        bool all = true;
        for (int i = 0; i < 2000; i++) {
                uint64_t r = splitmix64(state);
                ObjectLocation v = {
                        .pack = (uint32_t) (splitmix64(state) >> (r & 31)),
                        .offset = splitmix64(state) >> (r >> 5 & 63),
                        .stored_size = (uint32_t) (splitmix64(state) >> (r >> 11 & 31)),
                        .raw_size = (uint32_t) (splitmix64(state) >> (r >> 16 & 31)),
                        .type = (uint8_t) (1 + r % (_OBJECT_TYPE_MAX - 1)),
                        .compression = (uint8_t) (r >> 24) % _PACK_COMPRESSION_MAX,
                };
                v.size = r & (1ULL << 40) ? splitmix64(state) : v.raw_size;
                uint8_t e[OBJECT_LOCATION_MAX_SIZE], e2[OBJECT_LOCATION_MAX_SIZE];
                size_t k = object_location_encode(&v, e);
                all &= object_location_decode(e, k, &got) == 0 && !memcmp(&got, &v, sizeof v) &&
                       object_location_encode(&got, e2) == k && !memcmp(e, e2, k);
        }
        check(all, "2000 random locations round-trip, each with one encoding");
}

/* The index records its format. An older one: a reader is refused with
 * -EMEDIUMTYPE, a writer empties it (a lost index, to rebuild); a newer one
 * is refused to both. */
static void test_format(const char *dir) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/format", dir) < 0)
                tap_bail_out("oom");
        ObjectId id = { .bytes = { 1, 2, 3 } };
        ObjectLocation l = { .pack = 1, .offset = 64, .stored_size = 10, .raw_size = 10, .type = OBJECT_CHUNK,
                             .size = 10 };
        uint64_t format = 0;
        {
                _cleanup_(catalog_freep) Catalog *c = NULL;
                _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
                if (catalog_open(path, true, &c) < 0 || catalog_begin(c, true, &t) < 0 ||
                    catalog_put_object(t, &id, &l) < 0 || catalog_get_u64(t, "format", &format) < 0 ||
                    catalog_put_u64(t, "format", format - 1) < 0 || catalog_commit(TAKE_PTR(t)) < 0)
                        tap_bail_out("cannot set up an index in an older format");
        }
        check(format >= 2, "a new index records its format (%" PRIu64 ")", format);
        Catalog *c = NULL;
        check_eq(catalog_open(path, false, &c), -EMEDIUMTYPE, "a reader refuses an index in an older format");
        {
                _cleanup_(catalog_freep) Catalog *w = NULL;
                _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
                ObjectLocation got;
                uint64_t now = 0;
                check(catalog_open(path, true, &w) == 0 && catalog_begin(w, true, &t) == 0 &&
                              catalog_get_object(t, &id, &got) == -ENOENT &&
                              catalog_get_u64(t, "format", &now) == 0 && now == format,
                      "a writer empties it and records the current format");
                if (t)
                        (void) catalog_put_u64(t, "format", format + 1), (void) catalog_commit(TAKE_PTR(t));
        }
        check_eq(catalog_open(path, false, &c), -EPROTONOSUPPORT, "a reader refuses a newer format");
        check_eq(catalog_open(path, true, &c), -EPROTONOSUPPORT, "a writer refuses a newer format");
}

int main(void) {
        uint64_t seed = test_seed(), state = seed;
        tap_diag("seed %" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);

        _cleanup_free_ char *dir = make_temp_dir("catalog");
        _cleanup_free_ char *index = NULL;
        if (asprintf(&index, "%s/index", dir) < 0)
                tap_bail_out("oom");
        {
                _cleanup_(catalog_freep) Catalog *c = NULL;
                if (catalog_open(index, true, &c) < 0)
                        tap_bail_out("catalog_open(%s, create) failed", index);
                test_objects(c, &state);
                test_revisions(c);
                test_generations(c);
                test_meta(c);
                test_isolation(c, &state);
        }
        test_reopen_and_clear(index);
        test_location_encoding(&state);
        test_format(dir);

        rm_rf(dir);
        return tap_done_testing();
}
