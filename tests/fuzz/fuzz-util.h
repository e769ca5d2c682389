/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the libFuzzer harnesses share: a check that ends the run (so
 * libFuzzer keeps the input), the input as a file name for readers that
 * take a path, temporary directories removed at exit, a store to write
 * into, and the fix-ups that carry a mutated input past checksums a
 * mutation cannot guess (tar header sums), so the fuzzer reaches the
 * parsing behind them. Everything is static: each harness is one file. */

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: print it and abort, which libFuzzer reports as a crash. */
#define FUZZ_CHECK(cond)                                                                   \
        do {                                                                               \
                if (!(cond)) {                                                             \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                           \
                }                                                                          \
        } while (0)

/* Setup that cannot fail in a working environment. */
#define FUZZ_SETUP(expr)                                                                   \
        do {                                                                               \
                int _r_ = (expr);                                                          \
                if (_r_ < 0) {                                                             \
                        fprintf(stderr, "%s:%d: setup failed: %s: %s\n", __FILE__, __LINE__, #expr, \
                                strerror(-_r_));                                           \
                        abort();                                                           \
                }                                                                          \
        } while (0)

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static inline void fuzz_rm_rf(const char *path) {
        nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *fuzz_dirs[8];

static inline void fuzz_remove_dirs(void) {
        for (size_t i = 0; i < ELEMENTSOF(fuzz_dirs) && fuzz_dirs[i]; i++)
                fuzz_rm_rf(fuzz_dirs[i]);
}

/* A new directory "$TMPDIR/isle-fuzz-NAME.XXXXXX", removed when the
 * process exits normally (libFuzzer exits after a run; a crash leaves it). */
static inline const char *fuzz_temp_dir(const char *name) {
        const char *base = getenv("TMPDIR");
        char *p;
        if (asprintf(&p, "%s/isle-fuzz-%s.XXXXXX", base && *base ? base : "/tmp", name) < 0 || !mkdtemp(p)) {
                perror("fuzz: cannot make a temporary directory");
                abort();
        }
        size_t i = 0;
        while (i < ELEMENTSOF(fuzz_dirs) && fuzz_dirs[i])
                i++;
        FUZZ_CHECK(i < ELEMENTSOF(fuzz_dirs));
        if (i == 0)
                atexit(fuzz_remove_dirs);
        fuzz_dirs[i] = p;
        return p;
}

/* The input in a memfd, rewound; the fd stays the process's, reused by
 * every call. *ret_path names it for readers that open a path. */
static inline int fuzz_input_fd(const void *data, size_t size, const char **ret_path) {
        static int fd = -1;
        static char path[64];
        if (fd < 0) {
                fd = memfd_create("fuzz-input", MFD_CLOEXEC);
                FUZZ_CHECK(fd >= 0);
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        }
        FUZZ_CHECK(ftruncate(fd, 0) == 0);
        FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t) size);
        FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
        if (ret_path)
                *ret_path = path;
        return fd;
}

/* A fresh store at DIR/store, open for writing. */
static inline Store *fuzz_store_new(const char *dir) {
        _cleanup_free_ char *path = path_join(dir, "store");
        FUZZ_CHECK(path);
        fuzz_rm_rf(path);
        FUZZ_SETUP(store_init(path));
        Store *s;
        FUZZ_SETUP(store_open(path, true, &s));
        return s;
}

static inline uint64_t fuzz_tar_octal(const uint8_t *p, size_t n) {
        uint64_t v = 0;
        size_t i = 0;
        while (i < n && p[i] == ' ')
                i++;
        for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
                v = v * 8 + (uint64_t) (p[i] - '0');
        return v;
}

/* Rewrites the checksum of every tar header reached by walking header
 * sizes from the start (a plain tar only: compressed input is left alone),
 * so a mutated header is parsed rather than refused as damaged. */
static inline void fuzz_tar_fix_checksums(uint8_t *p, size_t n) {
        static const uint8_t zero[512];
        size_t off = 0;
        while (n - off >= 512) {
                uint8_t *h = p + off;
                if (memcmp(h, zero, sizeof zero) == 0)
                        break;
                memset(h + 148, ' ', 8);
                unsigned sum = 0;
                for (size_t i = 0; i < 512; i++)
                        sum += h[i];
                char field[8];
                snprintf(field, sizeof field, "%06o", sum & 0777777);
                memcpy(h + 148, field, 7); /* six digits and a NUL; the space stays */
                uint64_t size = (h[124] & 0x80) ? 0 : fuzz_tar_octal(h + 124, 12);
                if (size > n || 512 + ((size + 511) & ~UINT64_C(511)) > n - off)
                        break;
                off += 512 + (size_t) ((size + 511) & ~UINT64_C(511));
        }
}
