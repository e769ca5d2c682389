/* SPDX-License-Identifier: Apache-2.0 */
#include "id-set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "tap.h"
#include "test-util.h"

/* Ids are pseudo-random from a seed that is printed, and taken from
 * ISLE_TEST_SEED when set, so a failure can be replayed. */

#define N_IDS 3000000

static void random_id(uint64_t *state, ObjectId *ret) {
        fill_random(state, ret->bytes, OBJECT_ID_SIZE);
}

static void test_many(uint64_t seed) {
        ObjectId *ids = malloc((size_t) N_IDS * sizeof(ObjectId));
        if (!ids)
                tap_bail_out("out of memory");
        uint64_t state = seed;
        for (size_t i = 0; i < N_IDS; i++)
                random_id(&state, &ids[i]);

        _cleanup_(id_set_freep) IdSet *s = NULL;
        if (!check(id_set_new(&s) == 0, "id_set_new"))
                tap_bail_out("cannot create a set");
        check_eq(id_set_size(s), 0, "a new set is empty");
        check(!id_set_contains(s, &ids[0]), "a new set contains nothing");

        size_t added = 0, again = 0, found = 0;
        for (size_t i = 0; i < N_IDS; i++)
                added += id_set_add(s, &ids[i]) == 1;
        check_eq(added, N_IDS, "every new id is added (returns 1)");
        check_eq(id_set_size(s), N_IDS, "size counts every id");
        for (size_t i = 0; i < N_IDS; i++)
                again += id_set_add(s, &ids[i]) == 0;
        check_eq(again, N_IDS, "adding again returns 0");
        check_eq(id_set_size(s), N_IDS, "adding again does not change the size");
        for (size_t i = 0; i < N_IDS; i++)
                found += id_set_contains(s, &ids[i]);
        check_eq(found, N_IDS, "every added id is found");

        /* Ids never added: same generator, continued. */
        size_t false_hits = 0;
        for (size_t i = 0; i < N_IDS / 4; i++) {
                ObjectId other;
                random_id(&state, &other);
                false_hits += id_set_contains(s, &other);
        }
        check_eq(false_hits, 0, "ids that were never added are not found");

        /* Iteration yields each id exactly once: collect into a second set. */
        _cleanup_(id_set_freep) IdSet *seen = NULL;
        if (!check(id_set_new(&seen) == 0 && id_set_reserve(seen, N_IDS) == 0, "second set, reserved"))
                tap_bail_out("cannot create a set");
        size_t cursor = 0, yielded = 0, dup = 0, foreign = 0;
        ObjectId id;
        while (id_set_next(s, &cursor, &id)) {
                yielded++;
                dup += id_set_add(seen, &id) != 1;
                foreign += !id_set_contains(s, &id);
        }
        check_eq(yielded, N_IDS, "iteration yields size ids");
        check_eq(dup, 0, "iteration yields no id twice");
        check_eq(foreign, 0, "iteration yields only members");
        check(!id_set_next(s, &cursor, &id), "iteration stays finished");

        /* Remove every other id; the rest must stay reachable across the
         * shifted runs. */
        size_t removed = 0, kept = 0, gone = 0;
        for (size_t i = 0; i < N_IDS; i += 2)
                removed += id_set_remove(s, &ids[i]);
        check_eq(removed, N_IDS / 2, "remove returns true for members");
        check(!id_set_remove(s, &ids[0]), "remove returns false for a non-member");
        check_eq(id_set_size(s), N_IDS - N_IDS / 2, "size after removal");
        for (size_t i = 0; i < N_IDS; i++) {
                bool in = id_set_contains(s, &ids[i]);
                if (i % 2)
                        kept += in;
                else
                        gone += !in;
        }
        check_eq(kept, N_IDS - N_IDS / 2, "ids not removed are still found");
        check_eq(gone, N_IDS / 2, "removed ids are not found");
        free(ids);
}

/* Ids whose first 8 bytes (the hash) are equal or nearly so make long runs;
 * removal in the middle of a run that wraps around the table end must keep
 * the rest findable. */
static void test_collisions(uint64_t seed) {
        _cleanup_(id_set_freep) IdSet *s = NULL;
        if (!check(id_set_new(&s) == 0, "id_set_new for collisions"))
                return;
        enum { N = 600 };
        ObjectId ids[N];
        uint64_t state = seed ^ 0x5555;
        for (size_t i = 0; i < N; i++) {
                random_id(&state, &ids[i]);
                /* Homes at the last few slots of a 1024-slot table (and the
                 * same modulo any larger power of two's low bits). */
                uint64_t key = UINT64_C(0xABCDEF0000000000) | (1020 + i % 4);
                le64_write(ids[i].bytes, key);
        }
        size_t added = 0;
        for (size_t i = 0; i < N; i++)
                added += id_set_add(s, &ids[i]) == 1;
        check_eq(added, N, "colliding ids are all added");
        size_t removed = 0;
        for (size_t i = 0; i < N; i += 3)
                removed += id_set_remove(s, &ids[i]);
        check_eq(removed, (N + 2) / 3, "colliding ids are removed");
        size_t ok = 0;
        for (size_t i = 0; i < N; i++)
                ok += id_set_contains(s, &ids[i]) == (i % 3 != 0);
        check_eq(ok, N, "membership is right after removals inside wrapped runs");
        check_eq(id_set_size(s), N - (N + 2) / 3, "size after colliding removals");
}

static void test_zero_id(void) {
        _cleanup_(id_set_freep) IdSet *s = NULL;
        if (!check(id_set_new(&s) == 0, "id_set_new for the zero id"))
                return;
        ObjectId zero = {}, one = { .bytes = { 1 } };
        check(!id_set_contains(s, &zero), "the zero id is not in an empty set");
        check_eq(id_set_add(s, &zero), 1, "the zero id is added");
        check_eq(id_set_add(s, &zero), 0, "the zero id is added once");
        check(id_set_contains(s, &zero), "the zero id is found");
        check_eq(id_set_add(s, &one), 1, "another id beside it");
        check_eq(id_set_size(s), 2, "the zero id counts");
        size_t cursor = 0, n = 0, zeros = 0;
        ObjectId id;
        while (id_set_next(s, &cursor, &id)) {
                n++;
                zeros += object_id_equal(&id, &zero);
        }
        check(n == 2 && zeros == 1, "iteration yields the zero id once");
        check(id_set_remove(s, &zero) && !id_set_contains(s, &zero), "the zero id is removed");
        check(id_set_contains(s, &one), "the other id stays");
}

int main(void) {
        uint64_t seed = test_seed();
        tap_diag("seed=%" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);
        test_many(seed);
        test_collisions(seed);
        test_zero_id();
        return tap_done_testing();
}
