/* SPDX-License-Identifier: Apache-2.0 */
#include "blob-writer.h"

#include "chunker.h"
#include "fileio.h"

/* Bytes sniffed before the policy is chosen. */
#define SNIFF_SIZE 512

struct BlobWriter {
        StoreTxn *txn;
        Sha256 *whole;                  /* the blob's digest, as bytes stream in */
        const ChunkerParams *params;    /* NULL until the first bytes are sniffed */
        bool compress;

        uint8_t *buf;                   /* bytes not yet cut */
        size_t buf_len, buf_size;

        BlobChunk *chunks;
        size_t n_chunks, allocated_chunks;
        uint64_t size;

        uint64_t bytes_in, bytes_new;
};

bool content_is_compressed(const uint8_t *p, size_t n) {
        static const struct {
                const char *magic;
                size_t len;
        } formats[] = {
                { "\x1f\x8b", 2 },                      /* gzip: layers, .tgz charts */
                { "\x28\xb5\x2f\xfd", 4 },              /* zstd */
                { "\xfd" "7zXZ\x00", 6 },               /* xz */
                { "BZh", 3 },                           /* bzip2 */
                { "\xed\xab\xee\xdb", 4 },              /* rpm lead */
                { "!<arch>\ndebian-binary", 21 },       /* .deb */
                { "PK\x03\x04", 4 },                    /* zip, jar */
                { "PACK\x00\x00\x00", 7 },              /* git pack */
                { "7z\xbc\xaf\x27\x1c", 6 },            /* 7z */
                { "\x89PNG", 4 },
                { "\xff\xd8\xff", 3 },                  /* jpeg */
        };
        for (size_t i = 0; i < ELEMENTSOF(formats); i++)
                if (n >= formats[i].len && memcmp(p, formats[i].magic, formats[i].len) == 0)
                        return true;
        return false;
}

int blob_writer_new(StoreTxn *txn, BlobWriter **ret) {
        _cleanup_(blob_writer_freep) BlobWriter *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->txn = txn;
        w->whole = sha256_new();
        /* Room for two of the largest chunks, so a cut always has max bytes to look at. */
        w->buf_size = 2 * MAX(CHUNKER_COARSE.max, CHUNKER_FINE.max);
        w->buf = malloc(w->buf_size);
        if (!w->whole || !w->buf)
                return -ENOMEM;
        *ret = TAKE_PTR(w);
        return 0;
}

BlobWriter *blob_writer_free(BlobWriter *w) {
        if (!w)
                return NULL;
        sha256_free(w->whole);
        free(w->buf);
        free(w->chunks);
        free(w);
        return NULL;
}

void blob_writer_reset(BlobWriter *w) {
        ObjectId ignored;
        sha256_final(w->whole, &ignored);
        w->params = NULL;
        w->buf_len = 0;
        w->n_chunks = 0;
        w->size = 0;
}

static int store_chunk(BlobWriter *w, const uint8_t *p, size_t n) {
        BlobChunk c = { .offset = w->size, .size = (uint32_t) n };
        object_id_hash(p, n, &c.id);
        int r = store_txn_put(w->txn, OBJECT_CHUNK, &c.id, p, n, w->compress);
        if (r < 0)
                return r;
        if (r > 0)
                w->bytes_new += n;
        r = GROW(w->chunks, w->allocated_chunks, w->n_chunks + 1);
        if (r < 0)
                return r;
        w->chunks[w->n_chunks++] = c;
        w->size += n;
        return 0;
}

/* Cuts and stores chunks from the buffer; at the end of the blob also the
 * last, short one. */
static int cut(BlobWriter *w, bool eof) {
        if (!w->params) {
                if (w->buf_len < SNIFF_SIZE && !eof)
                        return 0;
                bool packed = content_is_compressed(w->buf, w->buf_len);
                w->params = packed ? &CHUNKER_COARSE : &CHUNKER_FINE;
                w->compress = !packed;
        }
        size_t pos = 0;
        while (w->buf_len - pos >= w->params->max || (eof && pos < w->buf_len)) {
                size_t avail = MIN(w->buf_len - pos, w->params->max);
                size_t n = chunker_next_cut(w->params, w->buf + pos, avail);
                int r = store_chunk(w, w->buf + pos, n);
                if (r < 0)
                        return r;
                pos += n;
        }
        if (pos > 0) {
                memmove(w->buf, w->buf + pos, w->buf_len - pos);
                w->buf_len -= pos;
        }
        return 0;
}

int blob_writer_write(BlobWriter *w, const void *p, size_t n) {
        const uint8_t *b = p;
        sha256_update(w->whole, p, n);
        w->bytes_in += n;
        while (n > 0) {
                size_t k = MIN(n, w->buf_size - w->buf_len);
                memcpy(w->buf + w->buf_len, b, k);
                w->buf_len += k;
                b += k;
                n -= k;
                int r = cut(w, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

int blob_writer_finish(BlobWriter *w, ObjectId *ret_id, uint64_t *ret_size) {
        int r = cut(w, true);
        if (r < 0)
                return r;
        ObjectId id;
        sha256_final(w->whole, &id);
        if (w->n_chunks == 0) {
                /* The empty blob: an empty chunk. */
                r = store_txn_put(w->txn, OBJECT_CHUNK, &id, "", 0, false);
                if (r < 0)
                        return r;
        } else if (w->n_chunks > 1) {
                r = store_txn_put_recipe(w->txn, &id, w->size, w->chunks, w->n_chunks);
                if (r < 0)
                        return r;
        }
        /* One chunk: the chunk is the blob, same bytes, same id. */
        *ret_id = id;
        if (ret_size)
                *ret_size = w->size;
        w->params = NULL;
        w->n_chunks = 0;
        w->size = 0;
        w->buf_len = 0;
        return 0;
}

int blob_writer_write_fd(BlobWriter *w, int fd, ObjectId *ret_id, uint64_t *ret_size) {
        size_t bufsize = 1 << 20;
        _cleanup_free_ uint8_t *buf = malloc(bufsize);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf, bufsize);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        blob_writer_reset(w);
                        return r;
                }
                if (n == 0)
                        break;
                int r = blob_writer_write(w, buf, (size_t) n);
                if (r < 0) {
                        blob_writer_reset(w);
                        return r;
                }
        }
        return blob_writer_finish(w, ret_id, ret_size);
}

int blob_writer_write_buffer(BlobWriter *w, const void *p, size_t n, ObjectId *ret_id, uint64_t *ret_size) {
        int r = blob_writer_write(w, p, n);
        if (r < 0) {
                blob_writer_reset(w);
                return r;
        }
        return blob_writer_finish(w, ret_id, ret_size);
}

uint64_t blob_writer_bytes_in(const BlobWriter *w) {
        return w->bytes_in;
}

uint64_t blob_writer_bytes_new(const BlobWriter *w) {
        return w->bytes_new;
}
