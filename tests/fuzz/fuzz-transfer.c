/* SPDX-License-Identifier: Apache-2.0 */
/* `isle import` of one volume of any bytes into a temporary store:
 * transfer_import_add() (header, manifest, signature, object list) and
 * transfer_import_run() (the checks against the store, streaming and
 * verifying the records, recipes, the revisions' closure, the commit).
 *
 * What a mutation cannot keep consistent is fixed up first, so inputs get
 * past the checksums to the parsing behind them: the header and record
 * CRCs, the manifest's list hash, the export id (SHA-256 of the manifest),
 * the signature CRC and the trailer hash. Object ids are left alone: the
 * content must still hash to them. A store an input changed (committed or
 * staged) is made anew, so every input meets an empty store. */
#include <zlib.h>

#include "fuzz-util.h"
#include "transfer-format.h"
#include "transfer-import.h"

static const char *dir;
static Store *store;

static void fixup(uint8_t *p, size_t n) {
        if (n < TRANSFER_HEADER_SIZE || memcmp(p, TRANSFER_MAGIC, 8) != 0)
                return;
        uint64_t manifest_size = le32_read(p + offsetof(TransferHeader, manifest_size));
        uint64_t signature_size = le32_read(p + offsetof(TransferHeader, signature_size));
        uint64_t list_size = le64_read(p + offsetof(TransferHeader, list_size));
        uint64_t count = le64_read(p + offsetof(TransferHeader, count));
        uint64_t off = TRANSFER_HEADER_SIZE;
        ObjectId id;
        uint8_t *manifest = p + off;
        if (manifest_size > n - off)
                goto header;
        off += manifest_size;
        if (signature_size > n - off)
                goto export_id;
        if (signature_size > 0)
                le32_write(p + offsetof(TransferHeader, signature_crc), (uint32_t) crc32(0, p + off, signature_size));
        off += signature_size;
        if (list_size > n - off)
                goto export_id;
        static const char key[] = "\"list\":{\"sha256\":\"";
        uint8_t *h = memmem(manifest, manifest_size, key, strlen(key));
        if (h && (uint64_t) (manifest + manifest_size - h) >= strlen(key) + 64) {
                char hex[OBJECT_ID_HEX_SIZE];
                object_id_hash(p + off, list_size, &id);
                memcpy(h + strlen(key), object_id_to_hex(&id, hex), 64);
        }
        off += list_size;
        for (uint64_t k = 0; k < count && n - off >= RECORD_HEADER_SIZE; k++) {
                uint8_t *r = p + off;
                uint32_t stored = le32_read(r + 8);
                if (le32_read(r) != RECORD_MAGIC || stored > n - off - RECORD_HEADER_SIZE)
                        break;
                le32_write(r + 56, (uint32_t) crc32(0, r + RECORD_HEADER_SIZE, stored));
                le32_write(r + 60, (uint32_t) crc32(0, r, 60));
                off += RECORD_HEADER_SIZE + stored;
        }
export_id:
        object_id_hash(manifest, manifest_size, &id);
        memcpy(p + offsetof(TransferHeader, export_id), id.bytes, OBJECT_ID_SIZE);
header:
        le32_write(p + offsetof(TransferHeader, header_crc),
                   (uint32_t) crc32(0, p, offsetof(TransferHeader, header_crc)));
        /* The trailer hash covers every byte before it, fixed up or not. */
        if (off <= n && n - off >= TRANSFER_TRAILER_SIZE && memcmp(p + off, TRANSFER_TRAILER_MAGIC, 8) == 0) {
                object_id_hash(p, off, &id);
                memcpy(p + off + offsetof(TransferTrailer, sha256), id.bytes, OBJECT_ID_SIZE);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!dir)
                dir = fuzz_temp_dir("transfer");
        if (!store)
                store = fuzz_store_new(dir);

        _cleanup_free_ uint8_t *copy = memdup(data, size);
        FUZZ_CHECK(copy);
        fixup(copy, size);
        int fd = fuzz_input_fd(copy, size, NULL);

        _cleanup_(transfer_import_freep) TransferImport *ti = NULL;
        TransferImportOptions o = {};
        FUZZ_SETUP(transfer_import_new(store, &o, &ti));
        _cleanup_free_ char *err = NULL;
        int r = transfer_import_add(ti, fd, "fuzz-input", &err);
        if (r < 0)
                return 0;
        TransferImportResult res = {};
        r = transfer_import_run(ti, &res, &err);
        if (r < 0)
                return 0;
        bool changed = res.status != TRANSFER_IMPORT_NOTHING;
        transfer_import_result_done(&res);
        if (changed) {
                store_free(store);
                store = fuzz_store_new(dir);
        }
        return 0;
}
