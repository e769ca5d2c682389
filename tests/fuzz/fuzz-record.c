/* SPDX-License-Identifier: Apache-2.0 */
/* A pack record as a reader meets it: record_header_decode() on the
 * first 64 bytes, then record_payload_decode() on the payload the header
 * claims, into a buffer of exactly raw_size bytes (as pack_set_read() and
 * the transfer import allocate it). Also object_location_decode().
 *
 * Input: one byte of flags, the 64-byte header, the payload.
 *   bit 0  rewrite the header CRC (else the mutated header is just refused)
 *   bit 1  rewrite the payload CRC
 *   bit 2  verify_hash
 *   bit 3  decode in place (out == stored), as fsck and the transfer
 *          import do for records that are not compressed (NONE, PAGED)
 * The payload, whatever its length, is also decoded as a location value. */
#include <zlib.h>

#include "fuzz-util.h"
#include "object-location.h"
#include "pack-format.h"
#include "pack-reader.h"

/* Larger outputs are sane but only slow the fuzzer down. */
#define RAW_MAX (4u << 20)

/* A location value decodes only from the one encoding of it. */
static void location(const uint8_t *p, size_t n) {
        ObjectLocation l;
        if (object_location_decode(p, n, &l) < 0)
                return;
        FUZZ_CHECK(l.type > 0 && l.type < _OBJECT_TYPE_MAX && l.compression < _PACK_COMPRESSION_MAX);
        uint8_t out[OBJECT_LOCATION_MAX_SIZE];
        FUZZ_CHECK(object_location_encode(&l, out) == n && memcmp(out, p, n) == 0);
        (void) object_type_to_string(l.type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 + RECORD_HEADER_SIZE)
                return 0;
        uint8_t flags = data[0];
        const uint8_t *payload = data + 1 + RECORD_HEADER_SIZE;
        size_t n = size - 1 - RECORD_HEADER_SIZE;
        location(payload, n);

        uint8_t h[RECORD_HEADER_SIZE];
        memcpy(h, data + 1, sizeof h);
        if (flags & 1)
                le32_write(h + 60, (uint32_t) crc32(0, h, 60));
        RecordInfo info;
        if (record_header_decode(h, &info) < 0)
                return 0;
        FUZZ_CHECK(info.type > 0 && info.type < _OBJECT_TYPE_MAX);
        FUZZ_CHECK(info.stored_size <= RECORD_PAYLOAD_MAX && info.raw_size <= RECORD_PAYLOAD_MAX);
        FUZZ_CHECK(info.compression != PACK_COMPRESSION_NONE || info.stored_size == info.raw_size);
        FUZZ_CHECK(info.compression != PACK_COMPRESSION_PAGED ||
                   info.stored_size == pack_paged_stored_size(info.raw_size));
        /* Callers read exactly stored_size bytes before decoding. */
        if (info.stored_size > n || info.raw_size > RAW_MAX)
                return 0;

        /* Exactly sized copies, so ASan sees any read or write past them. */
        bool in_place = (flags & 8) && pack_compression_is_raw(info.compression);
        _cleanup_free_ uint8_t *stored = memdup(payload, info.stored_size);
        _cleanup_free_ uint8_t *out = in_place ? NULL : malloc(info.raw_size ? info.raw_size : 1);
        FUZZ_CHECK(stored && (in_place || out));
        if (flags & 2)
                info.payload_crc = (uint32_t) crc32(0, stored, info.stored_size);
        (void) record_payload_decode(&info, stored, in_place ? stored : out, flags & 4);
        return 0;
}
