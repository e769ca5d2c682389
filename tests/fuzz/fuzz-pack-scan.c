/* SPDX-License-Identifier: Apache-2.0 */
/* pack_scan() over any bytes as a pack file: what `isle fsck
 * --rebuild-index` and the index rebuild walk, resynchronizing past damage.
 * Every PAGED record the scan finds is also read the way the mount reads
 * a random reader's pages: its page table, then ranges of its content,
 * which must be the record's own bytes. */
#include <unistd.h>

#include "fuzz-util.h"
#include "pack-format.h"
#include "pack-reader.h"

typedef struct Scan {
        uint64_t size;
        PackSet *packs;
} Scan;

static void read_paged(Scan *s, uint64_t offset, const RecordInfo *info, const uint8_t *payload) {
        ObjectLocation loc = { .pack = 1, .offset = offset, .stored_size = info->stored_size,
                               .raw_size = info->raw_size, .type = info->type, .compression = info->compression,
                               .size = info->raw_size };
        _cleanup_free_ uint32_t *table = NULL;
        if (pack_set_read_page_table(s->packs, &loc, &info->id, &table) < 0 || info->raw_size == 0)
                return;
        /* A few ranges, from the content's own bytes. */
        for (uint32_t i = 0; i < 4; i++) {
                uint32_t from = (payload[i % info->raw_size] * 977u + i * 4093u) % info->raw_size;
                uint32_t len = 1 + (payload[(i + 1) % info->raw_size] * 131u) % (info->raw_size - from);
                _cleanup_free_ uint8_t *buf = malloc(len);
                FUZZ_CHECK(buf);
                if (pack_set_read_pages(s->packs, &loc, table, from, len, buf) == 0)
                        FUZZ_CHECK(memcmp(buf, payload + from, len) == 0);
        }
}

static int on_record(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *userdata) {
        Scan *s = userdata;
        FUZZ_CHECK(offset >= PACK_HEADER_SIZE);
        FUZZ_CHECK(offset + RECORD_HEADER_SIZE + info->stored_size <= s->size);
        FUZZ_CHECK(payload);
        if (info->compression == PACK_COMPRESSION_PAGED)
                read_paged(s, offset, info, payload);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static PackSet *packs;
        const char *path;
        (void) fuzz_input_fd(data, size, &path);
        if (!packs) {
                /* The PackSet opens DIR/pack-000001: a link to the input. */
                const char *dir = fuzz_temp_dir("scan");
                _cleanup_free_ char *link = path_join(dir, "pack-000001");
                FUZZ_CHECK(link && symlink(path, link) == 0);
                FUZZ_SETUP(pack_set_new(dir, &packs));
        }
        Scan s = { .size = size, .packs = packs };
        uint64_t damaged = 0;
        int64_t end = pack_scan(path, 1, true, on_record, &s, &damaged);
        if (end >= 0)
                FUZZ_CHECK((uint64_t) end <= s.size && damaged <= s.size);
        return 0;
}
