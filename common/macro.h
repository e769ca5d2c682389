/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The handful of macros every file uses: cleanup attributes and ownership
 * transfer in the style of systemd, sizes, and little-endian field access
 * for the on-disk formats. */

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership of a pointer or fd to someone else: the local is reset so
 * its cleanup attribute does nothing. */
#define TAKE_PTR(p)                                  \
        ({                                           \
                __typeof__(p) _took_ = (p);          \
                (p) = NULL;                          \
                _took_;                              \
        })
#define TAKE_FD(fd)                                  \
        ({                                           \
                int _took_ = (fd);                   \
                (fd) = -1;                           \
                _took_;                              \
        })

/* Declares x_freep() for a type whose x_free() returns NULL. */
#define DEFINE_FREEP(type, func)                     \
        static inline void func##p(type **p) {       \
                if (*p)                              \
                        func(*p);                    \
        }

static inline uint16_t le16_read(const void *p) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return le16toh(v);
}
static inline uint32_t le32_read(const void *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return le32toh(v);
}
static inline uint64_t le64_read(const void *p) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return le64toh(v);
}
static inline void le16_write(void *p, uint16_t v) {
        v = htole16(v);
        memcpy(p, &v, sizeof v);
}
static inline void le32_write(void *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof v);
}
static inline void le64_write(void *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, sizeof v);
}

static inline void *memdup(const void *p, size_t n) {
        void *q = malloc(n ? n : 1);
        if (q && n)
                memcpy(q, p, n);
        return q;
}

/* Grows *array (of *allocated elements of size elem) to hold need elements.
 * Returns 0 or -ENOMEM; on failure nothing changes. */
int grow_array(void **array, size_t *allocated, size_t need, size_t elem);
#define GROW(array, allocated, need) grow_array((void **) &(array), &(allocated), (need), sizeof(*(array)))
