/* SPDX-License-Identifier: Apache-2.0 */
#include "object-location.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

#define FLAG_SIZE 0x20u
#define TYPE_MASK 0x07u
#define COMPRESSION_SHIFT 3
#define COMPRESSION_MASK 0x03u
static_assert(_OBJECT_TYPE_MAX - 1 <= TYPE_MASK, "object types fit in 3 bits");
static_assert(_PACK_COMPRESSION_MAX - 1 <= COMPRESSION_MASK, "compressions fit in 2 bits");

static size_t varint_put(uint8_t *out, uint64_t v) {
        size_t n = 0;
        for (; v >= 0x80; v >>= 7)
                out[n++] = (uint8_t) (v | 0x80);
        out[n++] = (uint8_t) v;
        return n;
}

/* Reads one canonical varint of at most `max` bits. */
static int varint_get(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *ret) {
        uint64_t v = 0;
        for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
                uint8_t b = *(*p)++;
                uint64_t part = b & 0x7f;
                if (shift > 0 && b == 0)
                        return -EBADMSG; /* overlong: a trailing zero group */
                if (shift >= max || (max - shift < 7 && part >> (max - shift)))
                        return -EBADMSG; /* more bits than the field has */
                v |= part << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

size_t object_location_encode(const ObjectLocation *l, uint8_t out[static OBJECT_LOCATION_MAX_SIZE]) {
        bool has_size = l->size != l->raw_size;
        size_t n = 0;
        out[n++] = (uint8_t) ((l->type & TYPE_MASK) | (unsigned) (l->compression & COMPRESSION_MASK) << COMPRESSION_SHIFT |
                              (has_size ? FLAG_SIZE : 0));
        n += varint_put(out + n, l->pack);
        n += varint_put(out + n, l->offset);
        n += varint_put(out + n, l->stored_size);
        n += varint_put(out + n, l->raw_size);
        if (has_size)
                n += varint_put(out + n, l->size);
        return n;
}

int object_location_decode(const void *p, size_t n, ObjectLocation *ret) {
        const uint8_t *b = p, *end = b + n;
        if (n < 1)
                return -EBADMSG;
        uint8_t head = *b++;
        ObjectLocation l = {
                .type = head & TYPE_MASK,
                .compression = (head >> COMPRESSION_SHIFT) & COMPRESSION_MASK,
        };
        if (l.type == 0 || l.type >= _OBJECT_TYPE_MAX || l.compression >= _PACK_COMPRESSION_MAX ||
            (head & ~(TYPE_MASK | COMPRESSION_MASK << COMPRESSION_SHIFT | FLAG_SIZE)))
                return -EBADMSG;
        uint64_t pack, stored, raw;
        if (varint_get(&b, end, 32, &pack) < 0 || varint_get(&b, end, 64, &l.offset) < 0 ||
            varint_get(&b, end, 32, &stored) < 0 || varint_get(&b, end, 32, &raw) < 0)
                return -EBADMSG;
        l.pack = (uint32_t) pack;
        l.stored_size = (uint32_t) stored;
        l.raw_size = (uint32_t) raw;
        l.size = raw;
        if (head & FLAG_SIZE) {
                if (varint_get(&b, end, 64, &l.size) < 0 || l.size == raw)
                        return -EBADMSG; /* a size that equals raw_size is never written */
        }
        if (b != end)
                return -EBADMSG;
        *ret = l;
        return 0;
}

const char *object_type_to_string(uint8_t type) {
        static const char *const names[_OBJECT_TYPE_MAX] = {
                [OBJECT_CHUNK] = "chunk",
                [OBJECT_RECIPE] = "recipe",
                [OBJECT_TREE] = "tree",
                [OBJECT_RECORD] = "record",
                [OBJECT_STATE] = "state",
        };
        return type < _OBJECT_TYPE_MAX && names[type] ? names[type] : "unknown";
}
