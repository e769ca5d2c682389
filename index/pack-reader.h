/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reads and verifies object records from the store's packs.
 *
 * A PackSet holds an fd per pack, opened on first use and kept open, so a
 * pack that gc replaces stays readable to whoever still holds its old
 * locations. Thread safe: any number of threads may read at once; the fd
 * table is the only shared state and is protected by a mutex that is held
 * only to look up or open an fd, never during I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "object-location.h"

typedef struct PackSet PackSet;

int pack_set_new(const char *dir, PackSet **ret);
PackSet *pack_set_free(PackSet *s);
DEFINE_FREEP(PackSet, pack_set_free)

/* Returns a (shared, borrowed) fd for reading the pack, opening it if needed. */
int pack_set_fd(PackSet *s, uint32_t pack);
/* Forgets (closes) every fd: after gc rewrote packs. Not safe while other
 * threads read. */
void pack_set_flush(PackSet *s);
/* Closes the fds of packs that were deleted (gc), so that a long-running
 * reader does not hold on to their disk space; a later read of such a pack
 * opens it by name (and fails: its records moved). Waits for the reads in
 * flight through pack_set_read*(); safe against those, not against other
 * users of pack_set_fd(). */
void pack_set_forget_gone(PackSet *s);

/* Reads the record at loc, checks that it is whole and names `id`, and
 * returns its content decompressed (malloc'd, *ret_size bytes).
 * With verify_hash, literal objects are also re-hashed against `id`.
 * Returns -EBADMSG for any mismatch: torn, flipped or foreign bytes. */
int pack_set_read(PackSet *s, const ObjectLocation *loc, const ObjectId *id, bool verify_hash, void **ret,
                  size_t *ret_size);

/* Same into a caller buffer of at least loc->raw_size bytes. */
int pack_set_read_into(PackSet *s, const ObjectLocation *loc, const ObjectId *id, bool verify_hash, void *buf);

/* Partial reads of PAGED records (pack-format.h), for readers that want a
 * few KiB of a large raw chunk. pack_set_read_page_table() reads the header
 * and page table of the record at loc and checks that the header names id
 * and that the table checks itself: *ret gets the CRC of each page
 * (malloc'd). pack_set_read_pages() then reads bytes [offset, offset + len)
 * of its content into buf, reading only the pages they touch and checking
 * each against that table. -EINVAL for a record that is not PAGED,
 * -EBADMSG for any mismatch. */
int pack_set_read_page_table(PackSet *s, const ObjectLocation *loc, const ObjectId *id, uint32_t **ret);
int pack_set_read_pages(PackSet *s, const ObjectLocation *loc, const uint32_t *table, uint64_t offset, size_t len,
                        void *buf);

/* Checks a record header read from disk: magic, checksum, sane sizes.
 * Fills the decoded fields. */
typedef struct RecordInfo {
        uint8_t type;
        uint8_t compression;
        uint32_t stored_size;
        uint32_t raw_size;
        ObjectId id;
        uint64_t sequence;
        uint32_t payload_crc;
} RecordInfo;
int record_header_decode(const uint8_t h[static RECORD_HEADER_SIZE], RecordInfo *ret);

/* Decompresses or copies a stored payload and verifies crc (and, with
 * verify_hash, the SHA-256 of literal content). Used by the reader and by
 * the media import. */
int record_payload_decode(const RecordInfo *info, const void *stored, void *out, bool verify_hash);

/* Walks the records of one pack file in order, calling fn for each record
 * whose header is valid (payload checked when check_payload). A damaged
 * stretch is skipped by scanning for the next valid header; *ret_damaged
 * counts the bytes skipped. Returns the offset just past the last valid
 * record (the pack's usable end), or a negative errno.
 * fn returns < 0 to stop the walk with that error. */
typedef int (*PackScanFn)(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload,
                          void *userdata);
int64_t pack_scan(const char *path, uint32_t pack, bool load_payload, PackScanFn fn, void *userdata,
                  uint64_t *ret_damaged);
