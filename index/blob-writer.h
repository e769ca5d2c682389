/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Turns a stream of bytes into a blob in the store: cuts it into chunks
 * (chunker.h), stores the chunks that are new, and, when there is more
 * than one chunk, a recipe under the blob's digest.
 *
 * The chunking policy follows the content: the first bytes are sniffed,
 * and data that is already compressed (gzip, zstd, xz, bzip2, .deb, .rpm,
 * zip, git packs) is cut coarse and stored raw; everything else is cut fine
 * and compressed with zstd when that pays.
 *
 * One BlobWriter writes one blob at a time and may be reused. Not thread
 * safe; it belongs to the thread of its StoreTxn. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"
#include "store.h"

typedef struct BlobWriter BlobWriter;

int blob_writer_new(StoreTxn *txn, BlobWriter **ret);
BlobWriter *blob_writer_free(BlobWriter *w);
DEFINE_FREEP(BlobWriter, blob_writer_free)

int blob_writer_write(BlobWriter *w, const void *p, size_t n);
/* Ends the blob: *ret_id is its SHA-256, *ret_size its length. The writer
 * is then ready for the next blob. */
int blob_writer_finish(BlobWriter *w, ObjectId *ret_id, uint64_t *ret_size);
/* Forgets a blob in progress (chunks already stored stay, unreferenced). */
void blob_writer_reset(BlobWriter *w);

/* Reads fd to its end as one blob. */
int blob_writer_write_fd(BlobWriter *w, int fd, ObjectId *ret_id, uint64_t *ret_size);
/* One buffer as one blob. */
int blob_writer_write_buffer(BlobWriter *w, const void *p, size_t n, ObjectId *ret_id, uint64_t *ret_size);

/* True when the bytes start like an already-compressed format. */
bool content_is_compressed(const uint8_t *p, size_t n);

/* Totals since the writer was made: bytes seen, bytes of new chunks. */
uint64_t blob_writer_bytes_in(const BlobWriter *w);
uint64_t blob_writer_bytes_new(const BlobWriter *w);
