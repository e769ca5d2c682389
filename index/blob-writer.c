/* SPDX-License-Identifier: Apache-2.0 */
#include "blob-writer.h"

#include <pthread.h>
#include <zlib.h>

#include "chunker.h"
#include "compressor.h"
#include "fileio.h"
#include "pack-writer.h"

/* Bytes sniffed before the policy is chosen. A blob is chunked coarse when
 * it starts like a compressed format, or when every 64 KiB of its first
 * MiB looks like noise (encrypted data, compressed formats without a
 * magic we know). A whole MiB, because an uncompressed tar or image that
 * merely starts with a compressed member must keep fine chunks, which
 * the headers and text of its first MiB give away. Coarse chunks of noise
 * are still offered to the compressor chunk by chunk. */
#define SNIFF_SIZE (1u << 20)
#define SNIFF_SEGMENT (64u << 10)

/* Data flow. The caller's thread reads, finds the cut points and hands
 * each chunk to a pool of workers, which hash it, check whether the store
 * already has it, and compress it; one more thread feeds the chunks, in
 * order, into the whole blob's SHA-256. Finished chunks are retired in
 * order by the caller's thread, the only one that touches the store
 * transaction (LMDB write transactions belong to one thread). Small blobs
 * (one chunk, under PIPELINE_MIN bytes) skip the pool: a thread hand-off
 * would cost more than their work, and their chunk id is the blob id. */

/* Chunks in flight; bounds memory to QUEUE_DEPTH x (chunk + its packed copy). */
#define QUEUE_DEPTH 16
#define PIPELINE_MIN (256u << 10)

typedef struct ChunkJob {
        uint8_t *data;          /* raw bytes, owned */
        size_t size;
        ObjectId id;
        bool present;           /* already in the committed store */
        uint8_t *packed;        /* compressed payload when it pays, owned */
        RecordInfo info;        /* the record to append, payload CRC included */
        int error;
        bool done;              /* protected by BlobWriter.lock: the worker is finished */
        bool hashed;            /* protected by BlobWriter.lock: the whole-blob hasher is finished */
} ChunkJob;

struct BlobWriter {
        StoreTxn *txn;
        Store *store;
        Sha256 *whole;                  /* the blob's digest; only the hasher thread feeds it */
        const ChunkerParams *params;    /* NULL until the first bytes are sniffed */
        bool compress;
        Compressor *compressor;         /* for chunks done inline */

        uint8_t *buf;                   /* bytes not yet cut */
        size_t buf_len, buf_size;

        BlobChunk *chunks;
        size_t n_chunks, allocated_chunks;
        uint64_t size;

        uint64_t bytes_in, bytes_new;

        /* The worker pool. Lock order: lock only; never held during work. */
        pthread_mutex_t lock;
        pthread_cond_t work_cv, hash_cv, done_cv;
        ChunkJob jobs[QUEUE_DEPTH];     /* ring */
        uint64_t head;                  /* protected by lock: next slot to fill */
        uint64_t next_work;             /* protected by lock: next slot for a worker */
        uint64_t next_hash;             /* protected by lock: next slot for the hasher */
        unsigned idle_workers;          /* protected by lock: workers waiting on work_cv */
        bool hasher_idle;               /* protected by lock: the hasher waits on hash_cv */
        bool retire_waiting;            /* protected by lock: the caller waits on done_cv */
        uint64_t tail;                  /* next slot to retire (caller thread only) */
        bool stop;                      /* protected by lock */
        pthread_t *threads;
        size_t n_threads;
        pthread_t hasher;
        bool hasher_started;
        bool pipelined;                 /* this blob's chunks went through the pool */
};

static void job_clear(ChunkJob *j) {
        free(j->data);
        free(j->packed);
        *j = (ChunkJob) {};
}

/* The record of a chunk of n bytes at raw, which has room for a page table
 * after them (pack_paged_stored_size(n) bytes in all): compressed when
 * that pays (the payload in *ret_packed, the caller's to free), else PAGED
 * with its table written into that room. The payload CRC is computed here,
 * on the worker's thread rather than the one that appends. */
static int chunk_record(Compressor *c, bool compress, const ObjectId *id, uint8_t *raw, size_t n,
                        RecordInfo *ret_info, uint8_t **ret_packed) {
        const void *packed;
        size_t k;
        int r = compress ? compressor_run(c, raw, n, &packed, &k) : 0;
        if (r < 0)
                return r;
        *ret_info = (RecordInfo) { .type = OBJECT_CHUNK, .raw_size = (uint32_t) n, .id = *id };
        if (r > 0) {
                *ret_packed = memdup(packed, k);
                if (!*ret_packed)
                        return -ENOMEM;
                ret_info->compression = PACK_COMPRESSION_ZSTD;
                ret_info->stored_size = (uint32_t) k;
                ret_info->payload_crc = (uint32_t) crc32(0, packed, (uInt) k);
        } else {
                *ret_packed = NULL;
                ret_info->compression = PACK_COMPRESSION_PAGED;
                ret_info->stored_size = (uint32_t) pack_paged_stored_size((uint32_t) n);
                ret_info->payload_crc = pack_paged_table(raw, (uint32_t) n, raw + n);
        }
        return 0;
}

/* Hash, dedup check against the committed store, compress. */
static void job_run(BlobWriter *w, Compressor *c, ChunkJob *j, bool compress) {
        object_id_hash(j->data, j->size, &j->id);
        ObjectLocation loc;
        if (store_lookup(w->store, &j->id, &loc) >= 0) {
                j->present = true;
                return;
        }
        j->error = chunk_record(c, compress, &j->id, j->data, j->size, &j->info, &j->packed);
}

static void *worker_main(void *userdata) {
        BlobWriter *w = userdata;
        _cleanup_(compressor_freep) Compressor *c = compressor_new(COMPRESSOR_BULK);
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->stop && w->next_work == w->head) {
                        w->idle_workers++;
                        pthread_cond_wait(&w->work_cv, &w->lock);
                        w->idle_workers--;
                }
                if (w->stop)
                        break;
                ChunkJob *j = &w->jobs[w->next_work++ % QUEUE_DEPTH];
                bool compress = w->compress;
                pthread_mutex_unlock(&w->lock);
                if (c)
                        job_run(w, c, j, compress);
                else
                        j->error = -ENOMEM;
                pthread_mutex_lock(&w->lock);
                j->done = true;
                if (w->retire_waiting)
                        pthread_cond_signal(&w->done_cv);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Feeds every chunk, in order, into the whole blob's digest. */
static void *hasher_main(void *userdata) {
        BlobWriter *w = userdata;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->stop && w->next_hash == w->head) {
                        w->hasher_idle = true;
                        pthread_cond_wait(&w->hash_cv, &w->lock);
                        w->hasher_idle = false;
                }
                if (w->stop)
                        break;
                ChunkJob *j = &w->jobs[w->next_hash % QUEUE_DEPTH];
                pthread_mutex_unlock(&w->lock);
                sha256_update(w->whole, j->data, j->size);
                pthread_mutex_lock(&w->lock);
                w->next_hash++;
                j->hashed = true;
                if (w->retire_waiting)
                        pthread_cond_signal(&w->done_cv);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static int record_chunk(BlobWriter *w, const ObjectId *id, size_t n) {
        int r = GROW(w->chunks, w->allocated_chunks, w->n_chunks + 1);
        if (r < 0)
                return r;
        w->chunks[w->n_chunks++] = (BlobChunk) { .id = *id, .offset = w->size, .size = (uint32_t) n };
        w->size += n;
        return 0;
}

/* Retires the oldest job in flight: waits for it, stores it, records it. */
static int retire_one(BlobWriter *w) {
        ChunkJob *j = &w->jobs[w->tail % QUEUE_DEPTH];
        pthread_mutex_lock(&w->lock);
        while (!j->done || !j->hashed) {
                w->retire_waiting = true;
                pthread_cond_wait(&w->done_cv, &w->lock);
                w->retire_waiting = false;
        }
        pthread_mutex_unlock(&w->lock);
        w->tail++;
        int r = j->error;
        if (r >= 0 && !j->present) {
                r = store_txn_put_record(w->txn, &j->info, j->packed ? j->packed : j->data, j->size, false);
                if (r > 0)
                        w->bytes_new += j->size;
        }
        if (r >= 0)
                r = record_chunk(w, &j->id, j->size);
        job_clear(j);
        return r < 0 ? r : 0;
}

/* Retires every job in flight; keeps the first error. */
static int drain(BlobWriter *w) {
        int ret = 0;
        while (w->tail < w->head) {
                int r = retire_one(w);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int submit(BlobWriter *w, const uint8_t *p, size_t n) {
        int r = 0;
        if (w->head - w->tail == QUEUE_DEPTH)
                r = retire_one(w);
        ChunkJob *j = &w->jobs[w->head % QUEUE_DEPTH];
        /* With room for the page table, should it be stored raw. */
        j->data = malloc(pack_paged_stored_size((uint32_t) n));
        if (!j->data)
                return -ENOMEM;
        memcpy(j->data, p, n);
        j->size = n;
        w->pipelined = true;
        pthread_mutex_lock(&w->lock);
        w->head++;
        /* Wake only who sleeps: a futex call per chunk per thread adds up. */
        if (w->idle_workers > 0)
                pthread_cond_signal(&w->work_cv);
        if (w->hasher_idle)
                pthread_cond_signal(&w->hash_cv);
        pthread_mutex_unlock(&w->lock);
        return r;
}

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
        w->store = store_txn_store(txn);
        w->whole = sha256_new();
        w->compressor = compressor_new(COMPRESSOR_SMALL); /* chunks done inline: small blobs */
        /* Room for two of the largest chunks, so a cut always has max bytes to look at. */
        w->buf_size = 2 * MAX(CHUNKER_COARSE.max, CHUNKER_FINE.max);
        w->buf = malloc(w->buf_size);
        if (!w->whole || !w->buf || !w->compressor)
                return -ENOMEM;

        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->work_cv, NULL);
        pthread_cond_init(&w->hash_cv, NULL);
        pthread_cond_init(&w->done_cv, NULL);
        if (pthread_create(&w->hasher, NULL, hasher_main, w) != 0)
                return -EAGAIN;
        w->hasher_started = true;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        size_t n = (size_t) MAX(1, MIN(cpus, 16));
        w->threads = calloc(n, sizeof(pthread_t));
        if (!w->threads)
                return -ENOMEM;
        for (; w->n_threads < n; w->n_threads++)
                if (pthread_create(&w->threads[w->n_threads], NULL, worker_main, w) != 0)
                        return -EAGAIN;
        *ret = TAKE_PTR(w);
        return 0;
}

BlobWriter *blob_writer_free(BlobWriter *w) {
        if (!w)
                return NULL;
        if (w->threads) {
                (void) drain(w);
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_broadcast(&w->work_cv);
                pthread_cond_broadcast(&w->hash_cv);
                pthread_mutex_unlock(&w->lock);
                for (size_t i = 0; i < w->n_threads; i++)
                        pthread_join(w->threads[i], NULL);
                if (w->hasher_started)
                        pthread_join(w->hasher, NULL);
                free(w->threads);
                pthread_mutex_destroy(&w->lock);
                pthread_cond_destroy(&w->work_cv);
                pthread_cond_destroy(&w->hash_cv);
                pthread_cond_destroy(&w->done_cv);
        }
        compressor_free(w->compressor);
        sha256_free(w->whole);
        free(w->buf);
        free(w->chunks);
        free(w);
        return NULL;
}

void blob_writer_reset(BlobWriter *w) {
        (void) drain(w);
        ObjectId ignored;
        sha256_final(w->whole, &ignored);
        w->pipelined = false;
        w->params = NULL;
        w->buf_len = 0;
        w->n_chunks = 0;
        w->size = 0;
}

/* A chunk done on the caller's thread (small blobs). */
static int store_chunk_inline(BlobWriter *w, const uint8_t *p, size_t n) {
        ObjectId id;
        object_id_hash(p, n, &id);
        int r = store_txn_has(w->txn, &id);
        if (r == 0) {
                /* A copy with room for the page table, should it be stored raw. */
                _cleanup_free_ uint8_t *raw = malloc(pack_paged_stored_size((uint32_t) n));
                _cleanup_free_ uint8_t *packed = NULL;
                RecordInfo info;
                if (!raw)
                        return -ENOMEM;
                memcpy(raw, p, n);
                r = chunk_record(w->compressor, w->compress, &id, raw, n, &info, &packed);
                if (r >= 0)
                        r = store_txn_put_record(w->txn, &info, packed ? packed : raw, n, false);
                if (r > 0)
                        w->bytes_new += n;
        }
        if (r < 0)
                return r;
        return record_chunk(w, &id, n);
}

static bool starts_with_noise(const uint8_t *p, size_t n) {
        if (n < SNIFF_SIZE)
                return false;
        for (size_t at = 0; at < SNIFF_SIZE; at += SNIFF_SEGMENT)
                if (!compressor_looks_incompressible(p + at, SNIFF_SEGMENT))
                        return false;
        return true;
}

/* Cuts and stores chunks from the buffer; at the end of the blob also the
 * last, short one. */
static int cut(BlobWriter *w, bool eof) {
        if (!w->params) {
                if (w->buf_len < SNIFF_SIZE && !eof)
                        return 0;
                bool packed = content_is_compressed(w->buf, w->buf_len);
                w->params = packed || starts_with_noise(w->buf, w->buf_len) ? &CHUNKER_COARSE : &CHUNKER_FINE;
                w->compress = !packed;
        }
        size_t pos = 0;
        while (w->buf_len - pos >= w->params->max || (eof && pos < w->buf_len)) {
                size_t avail = MIN(w->buf_len - pos, w->params->max);
                size_t n = chunker_next_cut(w->params, w->buf + pos, avail);
                /* The last chunk of a blob that never needed the pool stays inline. */
                bool inline_ok = eof && w->head == w->tail && w->n_chunks == 0 && n == w->buf_len &&
                                 n < PIPELINE_MIN;
                int r = inline_ok ? store_chunk_inline(w, w->buf + pos, n) : submit(w, w->buf + pos, n);
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
        int q = drain(w);
        if (r >= 0)
                r = q;
        if (r < 0) {
                blob_writer_reset(w);
                return r;
        }
        ObjectId id;
        if (w->pipelined)
                sha256_final(w->whole, &id);
        else if (w->n_chunks == 1)
                id = w->chunks[0].id;
        else
                object_id_hash("", 0, &id);
        w->pipelined = false;
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
        /* Reads straight into the cutting buffer: no bounce buffer to copy from. */
        for (;;) {
                ssize_t n = read(fd, w->buf + w->buf_len, w->buf_size - w->buf_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        blob_writer_reset(w);
                        return r;
                }
                if (n == 0)
                        break;
                w->bytes_in += (uint64_t) n;
                w->buf_len += (size_t) n;
                int r = cut(w, false);
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
