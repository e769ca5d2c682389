/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers the unit tests share: a reproducible pseudo-random generator, the
 * seed it starts from, and a temporary directory to work in.
 *
 *         uint64_t seed = test_seed(), state = seed;
 *         tap_diag("seed %" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);
 *         _cleanup_free_ char *dir = make_temp_dir("pack");
 *         fill_random(&state, buf, sizeof buf);
 *         ...
 *         rm_rf(dir);
 *
 * Setup failures end the run through tap_bail_out(). Everything is static
 * inline, so a test includes this header and uses what it needs; like
 * tap.h it belongs to the one .c file of a test executable. */

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* The next number of Vigna's splitmix64 sequence; *state is the whole
 * generator, any value is a valid start. */
static inline uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

/* Fills n bytes at p from the generator, one number (in host byte order)
 * per 8 bytes; a tail shorter than 8 takes the first bytes of one more. */
static inline void fill_random(uint64_t *state, void *p, size_t n) {
        uint8_t *b = p;

        for (size_t i = 0; i < n; i += 8) {
                uint64_t v = splitmix64(state);
                memcpy(b + i, &v, n - i < 8 ? n - i : 8);
        }
}

/* The seed of a randomized test: $ISLE_TEST_SEED when set (any base strtoull
 * accepts; anything else bails out), else the wall clock in nanoseconds
 * mixed with the pid. The caller prints it so a failure can be replayed. */
static inline uint64_t test_seed(void) {
        const char *e = getenv("ISLE_TEST_SEED");
        if (e && *e) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(e, &end, 0);
                if (errno != 0 || *end != '\0')
                        tap_bail_out("ISLE_TEST_SEED=%s is not a number", e);
                return v;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
        return s ^ ((uint64_t) getpid() << 32);
}

/* Makes a new empty directory "$TMPDIR/isle-test-<name>.XXXXXX" ($TMPDIR
 * defaulting to /tmp) and returns its path, which the caller frees. Bails
 * out on failure. */
static inline char *make_temp_dir(const char *name) {
        const char *base = getenv("TMPDIR");
        char *p;
        if (asprintf(&p, "%s/isle-test-%s.XXXXXX", base && *base ? base : "/tmp", name) < 0 || !mkdtemp(p))
                tap_bail_out("cannot make a temporary directory");
        return p;
}

static inline int rm_rf_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

/* Removes path and everything below it, without following symlinks; best
 * effort, errors are ignored. */
static inline void rm_rf(const char *path) {
        nftw(path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS);
}
