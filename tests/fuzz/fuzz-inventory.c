/* SPDX-License-Identifier: Apache-2.0 */
/* inventory_read() (`isle export --have FILE`) on any bytes. The SHA-256
 * of the id list is fixed up first when the frame decompresses, so
 * mutated id lists reach the id set. */
#include <zstd.h>

#include "fuzz-util.h"
#include "inventory.h"
#include "transfer-format.h"

/* Larger lists are sane but only slow the fuzzer down. */
#define FIX_COUNT_MAX (1u << 16)

static void fix_hash(uint8_t *p, size_t n) {
        if (n < INVENTORY_HEADER_SIZE || memcmp(p, INVENTORY_MAGIC, 8) != 0)
                return;
        uint64_t count = le64_read(p + offsetof(InventoryHeader, count));
        uint64_t zsize = le64_read(p + offsetof(InventoryHeader, compressed_size));
        if (count > FIX_COUNT_MAX || zsize > n - INVENTORY_HEADER_SIZE)
                return;
        size_t raw = (size_t) count * OBJECT_ID_SIZE;
        _cleanup_free_ uint8_t *ids = malloc(raw ? raw : 1);
        FUZZ_CHECK(ids);
        size_t k = ZSTD_decompress(ids, raw, p + INVENTORY_HEADER_SIZE, (size_t) zsize);
        if (ZSTD_isError(k) || k != raw)
                return;
        ObjectId digest;
        object_id_hash(ids, raw, &digest);
        memcpy(p + offsetof(InventoryHeader, sha256), digest.bytes, OBJECT_ID_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *copy = memdup(data, size);
        FUZZ_CHECK(copy);
        fix_hash(copy, size);
        int fd = fuzz_input_fd(copy, size, NULL);

        _cleanup_(id_set_freep) IdSet *set = NULL;
        FUZZ_SETUP(id_set_new(&set));
        uint64_t count = 0;
        _cleanup_free_ char *err = NULL;
        if (inventory_read(fd, set, &count, &err) < 0)
                return 0;
        FUZZ_CHECK(id_set_size(set) <= count);
        return 0;
}
