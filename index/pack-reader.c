/* SPDX-License-Identifier: Apache-2.0 */
#include "pack-reader.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <zlib.h>
#include <zstd.h>

#include "fileio.h"
#include "pack-writer.h"

struct PackSet {
        char *dir;
        pthread_mutex_t lock;
        int *fds;               /* protected by lock; index = pack number, -1 = not open */
        size_t n_fds;
        /* Held shared by pack_set_read*() while they use an fd, exclusively
         * by pack_set_forget_gone() to close fds: never a read from an fd
         * closed (or reused) under it. */
        pthread_rwlock_t use;
};

int pack_set_new(const char *dir, PackSet **ret) {
        PackSet *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->dir = strdup(dir);
        if (!s->dir) {
                free(s);
                return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        /* A steady stream of reads must not keep the closer waiting forever. */
        pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&s->use, &a);
        pthread_rwlockattr_destroy(&a);
        *ret = s;
        return 0;
}

void pack_set_flush(PackSet *s) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_fds; i++)
                if (s->fds[i] >= 0) {
                        close(s->fds[i]);
                        s->fds[i] = -1;
                }
        pthread_mutex_unlock(&s->lock);
}

PackSet *pack_set_free(PackSet *s) {
        if (!s)
                return NULL;
        pack_set_flush(s);
        free(s->fds);
        pthread_rwlock_destroy(&s->use);
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        free(s);
        return NULL;
}

int pack_set_fd(PackSet *s, uint32_t pack) {
        int r = 0;
        pthread_mutex_lock(&s->lock);
        if (pack >= s->n_fds) {
                size_t n = MAX((size_t) pack + 1, s->n_fds * 2);
                int *f = realloc(s->fds, n * sizeof *f);
                if (!f) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = s->n_fds; i < n; i++)
                        f[i] = -1;
                s->fds = f;
                s->n_fds = n;
        }
        if (s->fds[pack] < 0) {
                _cleanup_free_ char *path = pack_path(s->dir, pack);
                if (!path) {
                        r = -ENOMEM;
                        goto out;
                }
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        goto out;
                }
                s->fds[pack] = fd;
        }
        r = s->fds[pack];
out:
        pthread_mutex_unlock(&s->lock);
        return r;
}

int record_header_decode(const uint8_t h[static RECORD_HEADER_SIZE], RecordInfo *ret) {
        if (le32_read(h) != RECORD_MAGIC)
                return -EBADMSG;
        if (le32_read(h + 60) != (uint32_t) crc32(0, h, 60))
                return -EBADMSG;
        RecordInfo info = {
                .type = h[4],
                .compression = h[5],
                .stored_size = le32_read(h + 8),
                .raw_size = le32_read(h + 12),
                .sequence = le64_read(h + 48),
                .payload_crc = le32_read(h + 56),
        };
        memcpy(info.id.bytes, h + 16, OBJECT_ID_SIZE);
        if (info.type == 0 || info.type >= _OBJECT_TYPE_MAX || info.compression >= _PACK_COMPRESSION_MAX ||
            le16_read(h + 6) != 0)
                return -EPROTONOSUPPORT;
        if (info.stored_size > RECORD_PAYLOAD_MAX || info.raw_size > RECORD_PAYLOAD_MAX)
                return -EBADMSG;
        if (info.compression == PACK_COMPRESSION_NONE && info.stored_size != info.raw_size)
                return -EBADMSG;
        if (info.compression == PACK_COMPRESSION_PAGED && info.stored_size != pack_paged_stored_size(info.raw_size))
                return -EBADMSG;
        *ret = info;
        return 0;
}

/* One decompression context per thread, freed when the thread exits. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *p) {
        ZSTD_freeDCtx(p);
}

static void dctx_key_create(void) {
        pthread_key_create(&dctx_key, dctx_free);
}

static ZSTD_DCtx *thread_dctx(void) {
        pthread_once(&dctx_once, dctx_key_create);
        ZSTD_DCtx *d = pthread_getspecific(dctx_key);
        if (!d) {
                d = ZSTD_createDCtx();
                if (d)
                        pthread_setspecific(dctx_key, d);
        }
        return d;
}

/* A PAGED payload's table is what partial reads trust: it must check
 * itself and give each page's CRC. */
static bool page_table_matches(const uint8_t *raw, uint32_t raw_size, const uint8_t *table) {
        size_t len = pack_paged_stored_size(raw_size) - raw_size;
        _cleanup_free_ uint8_t *want = malloc(len);
        if (!want)
                return false;
        (void) pack_paged_table(raw, raw_size, want);
        return memcmp(want, table, len) == 0;
}

/* The payload as read: stored_size bytes, except that a PAGED payload may
 * come in two pieces, its raw bytes and then `table`. */
static int payload_decode(const RecordInfo *info, const void *stored, const uint8_t *table, void *out,
                          bool verify_hash) {
        bool paged = info->compression == PACK_COMPRESSION_PAGED;
        size_t first = paged ? info->raw_size : info->stored_size;
        /* The SHA-256 below proves a literal object's bytes whole; the CRC
         * is the only check for the rest (recipes) and when hashing is off. */
        bool hashed = verify_hash && object_type_is_literal(info->type);
        if (!hashed) {
                uLong c = crc32(0, stored, (uInt) first);
                if (paged)
                        c = crc32(c, table, (uInt) (info->stored_size - first));
                if ((uint32_t) c != info->payload_crc)
                        return -EBADMSG;
        }
        if (paged && verify_hash && !page_table_matches(stored, info->raw_size, table))
                return -EBADMSG;
        if (info->compression == PACK_COMPRESSION_ZSTD) {
                ZSTD_DCtx *d = thread_dctx();
                if (!d)
                        return -ENOMEM;
                size_t k = ZSTD_decompressDCtx(d, out, info->raw_size, stored, info->stored_size);
                if (ZSTD_isError(k) || k != info->raw_size)
                        return -EBADMSG;
        } else if (out != stored)
                memcpy(out, stored, info->raw_size);

        if (verify_hash && object_type_is_literal(info->type)) {
                ObjectId got;
                object_id_hash(out, info->raw_size, &got);
                if (!object_id_equal(&got, &info->id))
                        return -EBADMSG;
        }
        return 0;
}

int record_payload_decode(const RecordInfo *info, const void *stored, void *out, bool verify_hash) {
        return payload_decode(info, stored, (const uint8_t *) stored + info->raw_size, out, verify_hash);
}

/* With s->lock held. Only pack_set_forget_gone() and pack_set_flush()
 * close fds, so they stay valid for fstat() under the lock. */
static bool any_gone(PackSet *s, bool close_them) {
        bool any = false;
        for (size_t i = 0; i < s->n_fds; i++) {
                struct stat st;
                if (s->fds[i] < 0 || fstat(s->fds[i], &st) < 0 || st.st_nlink > 0)
                        continue;
                any = true;
                if (close_them) {
                        close(s->fds[i]);
                        s->fds[i] = -1;
                }
        }
        return any;
}

void pack_set_forget_gone(PackSet *s) {
        /* Cheap when nothing is gone: no waiting for the reads in flight. */
        pthread_mutex_lock(&s->lock);
        bool any = any_gone(s, false);
        pthread_mutex_unlock(&s->lock);
        if (!any)
                return;
        pthread_rwlock_wrlock(&s->use);
        pthread_mutex_lock(&s->lock);
        any_gone(s, true);
        pthread_mutex_unlock(&s->lock);
        pthread_rwlock_unlock(&s->use);
}

/* Reads exactly the bytes the iovecs ask for at offset; a pack that ends
 * before is damage. */
static int preadv_full(int fd, struct iovec *iov, int n, uint64_t offset) {
        for (;;) {
                while (n > 0 && iov->iov_len == 0)
                        iov++, n--;
                if (n == 0)
                        return 0;
                ssize_t k = preadv(fd, iov, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EBADMSG; /* truncated pack */
                offset += (uint64_t) k;
                size_t done = (size_t) k;
                while (n > 0 && done >= iov->iov_len)
                        done -= iov->iov_len, iov++, n--;
                if (n > 0) {
                        iov->iov_base = (uint8_t *) iov->iov_base + done;
                        iov->iov_len -= done;
                }
        }
}

/* Whether the header read at loc is the record the catalog promised. */
static bool record_is_at(const RecordInfo *info, const ObjectLocation *loc, const ObjectId *id) {
        return object_id_equal(&info->id, id) && info->type == loc->type && info->compression == loc->compression &&
               info->stored_size == loc->stored_size && info->raw_size == loc->raw_size;
}

static int read_record(PackSet *s, const ObjectLocation *loc, const ObjectId *id, bool verify_hash, void *buf) {
        int fd = pack_set_fd(s, loc->pack);
        if (fd < 0)
                return fd;

        /* Header and payload in one read; raw bytes land directly in buf,
         * a page table beside them. */
        uint8_t header[RECORD_HEADER_SIZE];
        bool raw = loc->compression != PACK_COMPRESSION_ZSTD;
        size_t tail = raw ? loc->stored_size - MIN(loc->stored_size, loc->raw_size) : 0;
        _cleanup_free_ uint8_t *stored = NULL;
        if (!raw || tail > 0) {
                stored = malloc(raw ? tail : MAX(loc->stored_size, 1u));
                if (!stored)
                        return -ENOMEM;
        }
        struct iovec iov[3] = {
                { .iov_base = header, .iov_len = sizeof header },
                { .iov_base = raw ? buf : stored, .iov_len = raw ? loc->stored_size - tail : loc->stored_size },
                { .iov_base = stored, .iov_len = tail },
        };
        int r = preadv_full(fd, iov, tail > 0 ? 3 : 2, loc->offset);
        if (r < 0)
                return r;

        RecordInfo info;
        r = record_header_decode(header, &info);
        if (r < 0)
                return -EBADMSG;
        if (!record_is_at(&info, loc, id))
                return -EBADMSG;
        return payload_decode(&info, raw ? buf : stored, stored, buf, verify_hash);
}

int pack_set_read_into(PackSet *s, const ObjectLocation *loc, const ObjectId *id, bool verify_hash, void *buf) {
        pthread_rwlock_rdlock(&s->use);
        int r = read_record(s, loc, id, verify_hash, buf);
        pthread_rwlock_unlock(&s->use);
        return r;
}

static int read_page_table(PackSet *s, const ObjectLocation *loc, const ObjectId *id, uint32_t **ret) {
        if (loc->compression != PACK_COMPRESSION_PAGED ||
            loc->stored_size != pack_paged_stored_size(loc->raw_size))
                return -EINVAL;
        int fd = pack_set_fd(s, loc->pack);
        if (fd < 0)
                return fd;
        uint32_t pages = pack_paged_pages(loc->raw_size);
        uint8_t header[RECORD_HEADER_SIZE];
        _cleanup_free_ uint8_t *table = malloc(4 * ((size_t) pages + 1));
        _cleanup_free_ uint32_t *crcs = malloc(4 * MAX(pages, 1u));
        if (!table || !crcs)
                return -ENOMEM;
        struct iovec h = { header, sizeof header }, t = { table, 4 * ((size_t) pages + 1) };
        int r = preadv_full(fd, &h, 1, loc->offset);
        if (r >= 0)
                r = preadv_full(fd, &t, 1, loc->offset + RECORD_HEADER_SIZE + loc->raw_size);
        if (r < 0)
                return r;
        RecordInfo info;
        if (record_header_decode(header, &info) < 0 || !record_is_at(&info, loc, id) ||
            le32_read(table + 4 * (size_t) pages) != (uint32_t) crc32(0, table, 4 * pages))
                return -EBADMSG;
        for (uint32_t i = 0; i < pages; i++)
                crcs[i] = le32_read(table + 4 * (size_t) i);
        *ret = TAKE_PTR(crcs);
        return 0;
}

int pack_set_read_page_table(PackSet *s, const ObjectLocation *loc, const ObjectId *id, uint32_t **ret) {
        pthread_rwlock_rdlock(&s->use);
        int r = read_page_table(s, loc, id, ret);
        pthread_rwlock_unlock(&s->use);
        return r;
}

static int read_pages(PackSet *s, const ObjectLocation *loc, const uint32_t *table, uint64_t offset, size_t len,
                      void *buf) {
        if (loc->compression != PACK_COMPRESSION_PAGED || offset > loc->raw_size || len > loc->raw_size - offset)
                return -EINVAL;
        if (len == 0)
                return 0;
        int fd = pack_set_fd(s, loc->pack);
        if (fd < 0)
                return fd;
        uint64_t first = offset / PACK_PAGE_SIZE, last = (offset + len - 1) / PACK_PAGE_SIZE;
        uint64_t from = first * PACK_PAGE_SIZE, to = MIN((last + 1) * PACK_PAGE_SIZE, (uint64_t) loc->raw_size);
        /* Whole pages land in buf; a part of one goes through a copy. */
        _cleanup_free_ uint8_t *span = NULL;
        uint8_t *p = buf;
        if (from != offset || to != offset + len) {
                p = span = malloc(to - from);
                if (!span)
                        return -ENOMEM;
        }
        struct iovec v = { p, to - from };
        int r = preadv_full(fd, &v, 1, loc->offset + RECORD_HEADER_SIZE + from);
        if (r < 0)
                return r;
        for (uint64_t i = first; i <= last; i++) {
                uint64_t at = i * PACK_PAGE_SIZE - from;
                size_t n = (size_t) MIN((uint64_t) PACK_PAGE_SIZE, to - from - at);
                if ((uint32_t) crc32(0, p + at, (uInt) n) != table[i])
                        return -EBADMSG;
        }
        if (span)
                memcpy(buf, span + (offset - from), len);
        return 0;
}

int pack_set_read_pages(PackSet *s, const ObjectLocation *loc, const uint32_t *table, uint64_t offset, size_t len,
                        void *buf) {
        pthread_rwlock_rdlock(&s->use);
        int r = read_pages(s, loc, table, offset, len, buf);
        pthread_rwlock_unlock(&s->use);
        return r;
}

int pack_set_read(PackSet *s, const ObjectLocation *loc, const ObjectId *id, bool verify_hash, void **ret,
                  size_t *ret_size) {
        _cleanup_free_ void *buf = malloc(loc->raw_size ? loc->raw_size : 1);
        if (!buf)
                return -ENOMEM;
        int r = pack_set_read_into(s, loc, id, verify_hash, buf);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = loc->raw_size;
        return 0;
}

/* The offset of the next RECORD_MAGIC at or after `from`, or the end of
 * the file: where a scan past damage can next find a header. */
static int64_t next_magic(int fd, uint64_t from) {
        uint8_t magic[4], buf[64 << 10];
        le32_write(magic, RECORD_MAGIC);
        for (;;) {
                ssize_t n = pread_full(fd, buf, sizeof buf, from);
                if (n < 0)
                        return n;
                const uint8_t *hit = memmem(buf, (size_t) n, magic, sizeof magic);
                if (hit)
                        return (int64_t) (from + (uint64_t) (hit - buf));
                if ((size_t) n < sizeof buf)
                        return (int64_t) (from + (uint64_t) n);
                from += sizeof buf - (sizeof magic - 1); /* a magic across the seam */
        }
}

int64_t pack_scan(const char *path, uint32_t pack, bool load_payload, PackScanFn fn, void *userdata,
                  uint64_t *ret_damaged) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        PackHeader ph;
        ssize_t n = read_full(fd, &ph, sizeof ph);
        if (n < 0)
                return n;
        if (n != sizeof ph || memcmp(ph.magic, PACK_MAGIC, 8) != 0)
                return -EBADMSG;
        if (le32toh(ph.version) != PACK_VERSION || (le32toh(ph.features) & ~PACK_FEATURES_KNOWN))
                return -EPROTONOSUPPORT;

        uint64_t offset = PACK_HEADER_SIZE, end = PACK_HEADER_SIZE, damaged = 0;
        _cleanup_free_ uint8_t *payload = NULL;
        size_t payload_allocated = 0;
        for (;;) {
                uint8_t h[RECORD_HEADER_SIZE];
                n = pread_full(fd, h, sizeof h, offset);
                if (n < 0)
                        return n;
                if (n < (ssize_t) sizeof h)
                        break;
                RecordInfo info;
                bool valid = record_header_decode(h, &info) >= 0;
                if (valid) {
                        /* Read the payload: it both proves the record whole and feeds fn. */
                        if (GROW(payload, payload_allocated, MAX(info.stored_size, info.raw_size) + 1) < 0)
                                return -ENOMEM;
                        n = pread_full(fd, payload, info.stored_size, offset + sizeof h);
                        if (n < 0)
                                return n;
                        if ((size_t) n < info.stored_size)
                                break; /* torn tail */
                        if ((uint32_t) crc32(0, payload, info.stored_size) != info.payload_crc)
                                valid = false;
                }
                if (!valid) {
                        /* Damaged: resynchronize at the next valid header,
                         * trying only where its magic is. */
                        int64_t next = next_magic(fd, offset + 1);
                        if (next < 0)
                                return next;
                        damaged += (uint64_t) next - offset;
                        offset = (uint64_t) next;
                        continue;
                }
                if (fn) {
                        int r = fn(pack, offset, &info, load_payload ? payload : NULL, userdata);
                        if (r < 0)
                                return r;
                }
                offset += sizeof h + info.stored_size;
                end = offset;
        }
        if (ret_damaged)
                *ret_damaged = damaged;
        return (int64_t) end;
}
