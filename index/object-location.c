/* SPDX-License-Identifier: Apache-2.0 */
#include "object-location.h"

#include <errno.h>
#include <stddef.h>

#include "macro.h"

void object_location_encode(const ObjectLocation *l, uint8_t out[static OBJECT_LOCATION_DISK_SIZE]) {
        le32_write(out + 0, l->pack);
        le32_write(out + 4, l->stored_size);
        le64_write(out + 8, l->offset);
        le32_write(out + 16, l->raw_size);
        out[20] = l->type;
        out[21] = l->compression;
        out[22] = out[23] = 0;
        le64_write(out + 24, l->size);
}

int object_location_decode(const void *p, size_t n, ObjectLocation *ret) {
        const uint8_t *b = p;
        if (n != OBJECT_LOCATION_DISK_SIZE)
                return -EBADMSG;
        ObjectLocation l = {
                .pack = le32_read(b + 0),
                .stored_size = le32_read(b + 4),
                .offset = le64_read(b + 8),
                .raw_size = le32_read(b + 16),
                .type = b[20],
                .compression = b[21],
                .size = le64_read(b + 24),
        };
        /* Reserved bytes are zero: anything else is damage, or a newer
         * format this code would misread. */
        if (l.type == 0 || l.type >= _OBJECT_TYPE_MAX || l.compression >= _PACK_COMPRESSION_MAX || b[22] || b[23])
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
