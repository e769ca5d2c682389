/* SPDX-License-Identifier: Apache-2.0 */
/* pack_scan() over any bytes as a pack file: what `isle fsck
 * --rebuild-index` and the index rebuild walk, resynchronizing past damage. */
#include "fuzz-util.h"
#include "pack-format.h"
#include "pack-reader.h"

static int on_record(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *userdata) {
        uint64_t *size = userdata;
        FUZZ_CHECK(offset >= PACK_HEADER_SIZE);
        FUZZ_CHECK(offset + RECORD_HEADER_SIZE + info->stored_size <= *size);
        FUZZ_CHECK(payload);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path;
        (void) fuzz_input_fd(data, size, &path);
        uint64_t damaged = 0, n = size;
        int64_t end = pack_scan(path, 1, true, on_record, &n, &damaged);
        if (end >= 0)
                FUZZ_CHECK((uint64_t) end <= n && damaged <= n);
        return 0;
}
