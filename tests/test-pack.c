/* SPDX-License-Identifier: Apache-2.0 */
/* Packs: the writer and the reader agree on records of every type and both
 * compressions; a damaged record (flipped header byte, flipped payload
 * byte, torn tail) is refused with -EBADMSG by a read and skipped by a scan,
 * which still finds the valid records after it; the writer cuts back what it
 * did not sync. */
#include "pack-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "fileio.h"
#include "macro.h"
#include "object-id.h"
#include "pack-format.h"
#include "pack-reader.h"
#include "tap.h"
#include "test-util.h"

/* ---- helpers: files ---- */

static off_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? -1 : st.st_size;
}

static uint8_t *slurp(const char *path, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                tap_bail_out("cannot open %s: %m", path);
        off_t n = lseek(fd, 0, SEEK_END);
        uint8_t *p = malloc(n > 0 ? (size_t) n : 1);
        if (!p || pread_full(fd, p, (size_t) n, 0) != n)
                tap_bail_out("cannot read %s", path);
        *ret_size = (size_t) n;
        return p;
}

static void spit(const char *path, const void *p, size_t n) {
        (void) chmod(path, 0644);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_full(fd, p, n) < 0)
                tap_bail_out("cannot write %s: %m", path);
}

static void flip_byte(const char *path, uint64_t offset) {
        size_t n;
        _cleanup_free_ uint8_t *p = slurp(path, &n);
        if (offset >= n)
                tap_bail_out("flip at %" PRIu64 " past the end (%zu) of %s", offset, n, path);
        p[offset] ^= 0x5a;
        spit(path, p, n);
}

/* ---- the records written ---- */

typedef struct Rec {
        uint8_t type;
        PackCompression compression;
        ObjectId id;
        uint8_t *content;       /* raw (uncompressed) payload */
        size_t content_size;
        uint8_t *stored;        /* as written to the pack */
        size_t stored_size;
        ObjectLocation loc;
        unsigned seen;          /* by a scan */
} Rec;

#define N_TYPES (_OBJECT_TYPE_MAX - 1)
#define N_RECS (2 * N_TYPES + 2)

static Rec recs[N_RECS];

/* Content that compresses (text-like) or not (random), of size n. */
static uint8_t *make_content(uint64_t *state, size_t n, bool compressible) {
        uint8_t *p = malloc(n ? n : 1);
        if (!p)
                tap_bail_out("out of memory");
        if (compressible) {
                size_t off = 0;
                while (off < n) {
                        char line[80];
                        int k = snprintf(line, sizeof line, "line %" PRIu64 " of some text that repeats\n",
                                         splitmix64(state) % 100);
                        size_t m = MIN((size_t) k, n - off);
                        memcpy(p + off, line, m);
                        off += m;
                }
        } else
                fill_random(state, p, n);
        return p;
}

static void make_records(uint64_t *state) {
        size_t k = 0;
        for (uint8_t type = 1; type < _OBJECT_TYPE_MAX; type++)
                for (int c = 0; c <= 1; c++) {
                        Rec *r = &recs[k++];
                        r->type = type;
                        r->compression = c ? PACK_COMPRESSION_ZSTD : PACK_COMPRESSION_NONE;
                        r->content_size = 100 + splitmix64(state) % 20000;
                        r->content = make_content(state, r->content_size, c);
                }
        /* An empty chunk (the empty blob) and a large random chunk, stored
         * raw with its page table (300000 bytes: the last page is short). */
        recs[k++] = (Rec) { .type = OBJECT_CHUNK, .compression = PACK_COMPRESSION_NONE, .content = malloc(1) };
        recs[k] = (Rec) { .type = OBJECT_CHUNK, .compression = PACK_COMPRESSION_PAGED, .content_size = 300000 };
        recs[k].content = make_content(state, recs[k].content_size, false);
        k++;
        if (k != N_RECS)
                tap_bail_out("made %zu records, expected %d", k, N_RECS);

        for (size_t i = 0; i < N_RECS; i++) {
                Rec *r = &recs[i];
                if (r->type == OBJECT_RECIPE) {
                        /* A recipe is named by the blob it describes, not its payload. */
                        uint8_t other[16];
                        fill_random(state, other, sizeof other);
                        object_id_hash(other, sizeof other, &r->id);
                } else
                        object_id_hash(r->content, r->content_size, &r->id);
                if (r->compression == PACK_COMPRESSION_ZSTD) {
                        size_t bound = ZSTD_compressBound(r->content_size);
                        r->stored = malloc(bound);
                        size_t n = r->stored ? ZSTD_compress(r->stored, bound, r->content, r->content_size, 3) : 0;
                        if (!r->stored || ZSTD_isError(n) || n >= r->content_size)
                                tap_bail_out("zstd did not compress record %zu", i);
                        r->stored_size = n;
                } else if (r->compression == PACK_COMPRESSION_PAGED) {
                        r->stored_size = pack_paged_stored_size((uint32_t) r->content_size);
                        r->stored = malloc(r->stored_size);
                        if (!r->stored)
                                tap_bail_out("out of memory");
                        memcpy(r->stored, r->content, r->content_size);
                        (void) pack_paged_table(r->content, (uint32_t) r->content_size, r->stored + r->content_size);
                } else {
                        r->stored = memdup(r->content, r->content_size);
                        r->stored_size = r->content_size;
                }
        }
}

static void free_records(void) {
        for (size_t i = 0; i < N_RECS; i++) {
                free(recs[i].content);
                free(recs[i].stored);
        }
}

static int append_rec(PackWriter *w, Rec *r) {
        return pack_writer_append(w, r->type, &r->id, r->compression, r->stored, r->stored_size, r->content_size,
                                  r->content_size, NULL, &r->loc);
}

/* Writes all records into pack 1 of dir, syncs and marks them committed. */
static void write_pack(const char *dir) {
        _cleanup_(pack_writer_freep) PackWriter *w = NULL;
        if (pack_writer_open(dir, 1, 0, 42, &w) < 0)
                tap_bail_out("pack_writer_open failed");
        for (size_t i = 0; i < N_RECS; i++)
                if (append_rec(w, &recs[i]) < 0)
                        tap_bail_out("pack_writer_append of record %zu failed", i);
        if (pack_writer_sync(w) < 0)
                tap_bail_out("pack_writer_sync failed");
        pack_writer_committed(w);
}

/* Reads record i through a fresh PackSet; returns the errno-style result
 * and, on success, checks the bytes. */
static int read_rec(const char *dir, size_t i, bool *ret_bytes_ok) {
        _cleanup_(pack_set_freep) PackSet *s = NULL;
        if (pack_set_new(dir, &s) < 0)
                tap_bail_out("pack_set_new failed");
        _cleanup_free_ void *buf = NULL;
        size_t n = SIZE_MAX;
        int r = pack_set_read(s, &recs[i].loc, &recs[i].id, true, &buf, &n);
        if (ret_bytes_ok)
                *ret_bytes_ok = r == 0 && n == recs[i].content_size &&
                                memcmp(buf, recs[i].content, recs[i].content_size) == 0;
        return r;
}

/* ---- scan ---- */

typedef struct ScanResult {
        size_t found, unknown, payload_mismatch;
} ScanResult;

static int scan_fn(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *u) {
        ScanResult *res = u;
        for (size_t i = 0; i < N_RECS; i++) {
                Rec *r = &recs[i];
                if (r->loc.offset == offset && pack == r->loc.pack) {
                        r->seen++;
                        res->found++;
                        if (!object_id_equal(&info->id, &r->id) || info->type != r->type ||
                            info->compression != r->compression || info->stored_size != r->stored_size ||
                            info->raw_size != r->content_size || info->sequence != 42 ||
                            (payload && memcmp(payload, r->stored, r->stored_size) != 0))
                                res->payload_mismatch++;
                        return 0;
                }
        }
        res->unknown++;
        return 0;
}

static int64_t scan(const char *path, ScanResult *res, uint64_t *damaged) {
        for (size_t i = 0; i < N_RECS; i++)
                recs[i].seen = 0;
        *res = (ScanResult) {};
        *damaged = UINT64_MAX;
        return pack_scan(path, 1, true, scan_fn, res, damaged);
}

/* ---- tests ---- */

static void test_round_trip(const char *dir, const char *path) {
        write_pack(dir);

        uint64_t expect = PACK_HEADER_SIZE;
        bool layout = true;
        for (size_t i = 0; i < N_RECS; i++) {
                Rec *r = &recs[i];
                if (r->loc.pack != 1 || r->loc.offset != expect || r->loc.stored_size != r->stored_size ||
                    r->loc.raw_size != r->content_size || r->loc.type != r->type ||
                    r->loc.compression != r->compression || r->loc.size != r->content_size) {
                        tap_diag("record %zu: location pack %u offset %" PRIu64 " (expected %" PRIu64 ")", i,
                                 r->loc.pack, r->loc.offset, expect);
                        layout = false;
                }
                expect += RECORD_HEADER_SIZE + r->stored_size;
        }
        check(layout, "locations are back to back after the pack header, with the sizes written");
        check_eq(file_size(path), expect, "pack file is header + records long");

        size_t n;
        _cleanup_free_ uint8_t *p = slurp(path, &n);
        check(n >= PACK_HEADER_SIZE && memcmp(p, PACK_MAGIC, 8) == 0 && le32_read(p + 8) == PACK_VERSION &&
                      le32_read(p + 12) == 0,
              "pack header: magic, version, no features");

        for (size_t i = 0; i < N_RECS; i++) {
                Rec *r = &recs[i];
                bool ok;
                int k = read_rec(dir, i, &ok);
                check(k == 0 && ok, "read back %s record (%s, %zu bytes, stored %zu)", object_type_to_string(r->type),
                      r->compression == PACK_COMPRESSION_ZSTD ? "zstd" : r->compression == PACK_COMPRESSION_PAGED ? "paged" : "raw", r->content_size, r->stored_size);
        }

        /* pack_set_read_into, into a caller buffer. */
        {
                _cleanup_(pack_set_freep) PackSet *s = NULL;
                bool all = pack_set_new(dir, &s) == 0;
                for (size_t i = 0; all && i < N_RECS; i++) {
                        _cleanup_free_ uint8_t *buf = malloc(recs[i].content_size + 1);
                        all = buf && pack_set_read_into(s, &recs[i].loc, &recs[i].id, true, buf) == 0 &&
                              memcmp(buf, recs[i].content, recs[i].content_size) == 0;
                }
                check(all, "pack_set_read_into gives the same bytes for every record");
        }

        /* The header on disk decodes to what was written. */
        {
                bool all = true;
                for (size_t i = 0; i < N_RECS; i++) {
                        RecordInfo info;
                        Rec *r = &recs[i];
                        if (record_header_decode(p + r->loc.offset, &info) != 0 || info.type != r->type ||
                            info.compression != r->compression || info.stored_size != r->stored_size ||
                            info.raw_size != r->content_size || !object_id_equal(&info.id, &r->id) ||
                            info.sequence != 42)
                                all = false;
                }
                check(all, "record_header_decode of every header on disk gives the fields written");
        }

        /* Asking for the wrong id, or a location with wrong sizes, is refused. */
        {
                _cleanup_(pack_set_freep) PackSet *s = NULL;
                if (pack_set_new(dir, &s) < 0)
                        tap_bail_out("pack_set_new");
                void *buf = NULL;
                ObjectId other = recs[1].id;
                int r = pack_set_read(s, &recs[0].loc, &other, true, &buf, NULL);
                check_eq(r, -EBADMSG, "reading a record under another id is -EBADMSG");
                free(buf);
                buf = NULL;
                ObjectLocation loc = recs[0].loc;
                loc.stored_size--;
                loc.raw_size--;
                r = pack_set_read(s, &loc, &recs[0].id, true, &buf, NULL);
                check_eq(r, -EBADMSG, "reading with a location of the wrong size is -EBADMSG");
                free(buf);
                buf = NULL;
                loc = recs[0].loc;
                loc.offset += 1;
                r = pack_set_read(s, &loc, &recs[0].id, true, &buf, NULL);
                check_eq(r, -EBADMSG, "reading at an offset that is not a record is -EBADMSG");
                free(buf);
        }

        ScanResult res;
        uint64_t damaged;
        int64_t end = scan(path, &res, &damaged);
        bool once = true;
        for (size_t i = 0; i < N_RECS; i++)
                once = once && recs[i].seen == 1;
        check_eq(end, file_size(path), "pack_scan of an intact pack ends at its end");
        check(res.found == N_RECS && once && res.unknown == 0 && res.payload_mismatch == 0,
              "pack_scan finds each of the %d records once, with its fields and payload (found %zu, unknown %zu, "
              "mismatched %zu)",
              N_RECS, res.found, res.unknown, res.payload_mismatch);
        check_eq(damaged, 0, "pack_scan of an intact pack reports no damage");
}

/* A record whose header is intact but whose payload does not hash to its
 * id (a forged CRC): the id check is the real verification. */
static void test_forged(const char *dir, uint64_t *state) {
        _cleanup_free_ char *path = pack_path(dir, 1);
        for (int c = 0; c <= 1; c++) {
                Rec r = { .type = OBJECT_CHUNK, .compression = c ? PACK_COMPRESSION_ZSTD : PACK_COMPRESSION_NONE };
                r.content_size = 5000;
                r.content = make_content(state, r.content_size, c);
                object_id_hash(r.content, r.content_size, &r.id);
                uint8_t *lie = memdup(r.content, r.content_size);
                lie[1234] ^= 1;
                if (c) {
                        size_t bound = ZSTD_compressBound(r.content_size);
                        r.stored = malloc(bound);
                        r.stored_size = ZSTD_compress(r.stored, bound, lie, r.content_size, 3);
                } else {
                        r.stored = memdup(lie, r.content_size);
                        r.stored_size = r.content_size;
                }
                free(lie);

                unlink(path);
                {
                        _cleanup_(pack_writer_freep) PackWriter *w = NULL;
                        if (pack_writer_open(dir, 1, 0, 1, &w) < 0 || append_rec(w, &r) < 0 || pack_writer_sync(w) < 0)
                                tap_bail_out("cannot write the forged record");
                        pack_writer_committed(w);
                }
                _cleanup_(pack_set_freep) PackSet *s = NULL;
                if (pack_set_new(dir, &s) < 0)
                        tap_bail_out("pack_set_new");
                void *buf = NULL;
                int k = pack_set_read(s, &r.loc, &r.id, true, &buf, NULL);
                check_eq(k, -EBADMSG, "%s record whose content does not hash to its id: -EBADMSG with verify_hash",
                         c ? "zstd" : "raw");
                free(buf);
                buf = NULL;
                k = pack_set_read(s, &r.loc, &r.id, false, &buf, NULL);
                check_eq(k, 0, "%s record whose content does not hash to its id: read without verify_hash",
                         c ? "zstd" : "raw");
                free(buf);
                free(r.content);
                free(r.stored);
        }
        unlink(path);
}

typedef enum Damage {
        DAMAGE_HEADER_ID,       /* a byte of the id in the header */
        DAMAGE_HEADER_SIZE,     /* a byte of stored_size */
        DAMAGE_HEADER_MAGIC,    /* the first byte */
        DAMAGE_PAYLOAD,         /* a byte in the middle of the payload */
} Damage;

static const char *damage_name(Damage d) {
        switch (d) {
        case DAMAGE_HEADER_ID: return "flipped header byte (id)";
        case DAMAGE_HEADER_SIZE: return "flipped header byte (stored size)";
        case DAMAGE_HEADER_MAGIC: return "flipped header byte (magic)";
        default: return "flipped payload byte";
        }
}

static void test_damage(const char *dir, const char *path, size_t victim, Damage d) {
        Rec *v = &recs[victim];
        unlink(path);
        write_pack(dir);
        int64_t size = file_size(path);
        uint64_t at;
        switch (d) {
        case DAMAGE_HEADER_ID: at = v->loc.offset + 16 + 7; break;
        case DAMAGE_HEADER_SIZE: at = v->loc.offset + 9; break;
        case DAMAGE_HEADER_MAGIC: at = v->loc.offset; break;
        default: at = v->loc.offset + RECORD_HEADER_SIZE + v->stored_size / 2; break;
        }
        flip_byte(path, at);

        const char *what = damage_name(d);
        const char *kind = object_type_to_string(v->type);
        const char *comp = v->compression == PACK_COMPRESSION_ZSTD ? "zstd"
                           : v->compression == PACK_COMPRESSION_PAGED ? "paged" : "raw";
        check_eq(read_rec(dir, victim, NULL), -EBADMSG, "%s of a %s %s record: read is -EBADMSG", what, comp, kind);

        bool others = true;
        for (size_t i = 0; i < N_RECS; i++) {
                bool ok;
                if (i != victim && (read_rec(dir, i, &ok) != 0 || !ok)) {
                        tap_diag("record %zu unreadable", i);
                        others = false;
                }
        }
        check(others, "%s of a %s %s record: every other record still reads", what, comp, kind);

        ScanResult res;
        uint64_t damaged;
        int64_t end = scan(path, &res, &damaged);
        bool rest = true;
        for (size_t i = 0; i < N_RECS; i++)
                if (recs[i].seen != (i == victim ? 0u : 1u)) {
                        tap_diag("record %zu seen %u times", i, recs[i].seen);
                        rest = false;
                }
        check(rest && res.unknown == 0 && res.payload_mismatch == 0,
              "%s of a %s %s record: scan skips it and finds every other record (before and after it)", what, comp,
              kind);
        check(damaged > 0 && damaged != UINT64_MAX, "%s of a %s %s record: scan reports %" PRIu64 " damaged bytes",
              what, comp, kind, damaged);
        if (victim + 1 < N_RECS)
                check_eq(end, size, "%s of a %s %s record: scan still ends at the pack's end", what, comp, kind);
        /* Up to the next record, or to the end of the pack for the last. */
        check_eq(damaged, RECORD_HEADER_SIZE + v->stored_size,
                 "%s of a %s %s record: the bytes skipped are exactly that record's", what, comp, kind);
}

/* A scan past damage reads 64 KiB at a time looking for the next record's
 * magic: a magic that straddles two of those reads is still found. */
typedef struct SeamScan {
        uint64_t want;
        unsigned found, others;
} SeamScan;

static int seam_fn(uint32_t pack, uint64_t offset, const RecordInfo *info, const void *payload, void *u) {
        (void) pack, (void) info, (void) payload;
        SeamScan *s = u;
        if (offset == s->want)
                s->found++;
        else
                s->others++;
        return 0;
}

static void test_resync_seam(const char *dir, const char *path) {
        unlink(path);
        /* The scan resumes one byte past the damaged header: the next
         * header then starts 2 bytes before the end of the first read. */
        const size_t first = 65536 - 2 + 1 - RECORD_HEADER_SIZE;
        _cleanup_free_ uint8_t *zeros = calloc(1, first);
        if (!zeros)
                tap_bail_out("oom");
        const char small[] = "after the seam";
        ObjectId a, b;
        object_id_hash(zeros, first, &a);
        object_id_hash(small, sizeof small, &b);
        ObjectLocation la, lb;
        {
                _cleanup_(pack_writer_freep) PackWriter *w = NULL;
                if (pack_writer_open(dir, 1, 0, 42, &w) < 0 ||
                    pack_writer_append(w, OBJECT_CHUNK, &a, PACK_COMPRESSION_NONE, zeros, first, first, first, NULL,
                                       &la) < 0 ||
                    pack_writer_append(w, OBJECT_CHUNK, &b, PACK_COMPRESSION_NONE, small, sizeof small, sizeof small,
                                       sizeof small, NULL, &lb) < 0 ||
                    pack_writer_sync(w) < 0)
                        tap_bail_out("cannot write the seam pack");
                pack_writer_committed(w);
        }
        if (lb.offset - (la.offset + 1) != 65536 - 2)
                tap_bail_out("the second record is at %" PRIu64 ", not across the seam", lb.offset);
        flip_byte(path, la.offset);
        SeamScan s = { .want = lb.offset };
        uint64_t damaged = 0;
        int64_t end = pack_scan(path, 1, false, seam_fn, &s, &damaged);
        check(end == file_size(path) && s.found == 1 && s.others == 0 && damaged == RECORD_HEADER_SIZE + first,
              "a scan past damage finds a record whose magic straddles its 64 KiB reads (found %u, damaged %" PRIu64
              ")",
              s.found, damaged);
}

static void test_truncated(const char *dir, const char *path) {
        Rec *last = &recs[N_RECS - 1];
        /* Torn inside the payload, inside the header, and one byte short. */
        uint64_t cuts[] = {
                last->loc.offset + RECORD_HEADER_SIZE + last->stored_size / 2,
                last->loc.offset + RECORD_HEADER_SIZE / 2,
                last->loc.offset + RECORD_HEADER_SIZE + last->stored_size - 1,
        };
        for (size_t c = 0; c < ELEMENTSOF(cuts); c++) {
                unlink(path);
                write_pack(dir);
                if (truncate(path, (off_t) cuts[c]) < 0)
                        tap_bail_out("truncate: %m");
                check_eq(read_rec(dir, N_RECS - 1, NULL), -EBADMSG,
                         "truncated tail (cut at %" PRIu64 "): reading the torn record is -EBADMSG", cuts[c]);
                bool ok;
                check(read_rec(dir, N_RECS - 2, &ok) == 0 && ok,
                      "truncated tail (cut at %" PRIu64 "): the record before it still reads", cuts[c]);
                ScanResult res;
                uint64_t damaged;
                int64_t end = scan(path, &res, &damaged);
                bool rest = true;
                for (size_t i = 0; i < N_RECS; i++)
                        rest = rest && recs[i].seen == (i == N_RECS - 1 ? 0u : 1u);
                check(rest && res.unknown == 0 && res.payload_mismatch == 0,
                      "truncated tail (cut at %" PRIu64 "): scan finds every record but the torn one", cuts[c]);
                check_eq(end, last->loc.offset,
                         "truncated tail (cut at %" PRIu64 "): scan's usable end is where the torn record starts",
                         cuts[c]);
        }
}

static void test_bad_pack_header(const char *dir, const char *path) {
        unlink(path);
        write_pack(dir);
        flip_byte(path, 2);
        ScanResult res;
        uint64_t damaged;
        check_eq(scan(path, &res, &damaged), -EBADMSG, "pack_scan of a pack with a bad magic is -EBADMSG");

        unlink(path);
        write_pack(dir);
        size_t n;
        _cleanup_free_ uint8_t *p = slurp(path, &n);
        le32_write(p + 12, 1u << 7); /* an unknown required feature */
        spit(path, p, n);
        check_eq(scan(path, &res, &damaged), -EPROTONOSUPPORT,
                 "pack_scan of a pack with an unknown required feature is -EPROTONOSUPPORT");
}

/* Sizes and SHA-256 of every pack file in dir, to compare states. */
static char *packs_fingerprint(const char *dir) {
        char *out = strdup("");
        for (uint32_t i = 1; i <= 4; i++) {
                _cleanup_free_ char *path = pack_path(dir, i);
                struct stat st;
                char *next;
                if (stat(path, &st) < 0) {
                        if (asprintf(&next, "%s%u:none ", out, i) < 0)
                                tap_bail_out("oom");
                } else {
                        size_t n;
                        _cleanup_free_ uint8_t *p = slurp(path, &n);
                        ObjectId id;
                        object_id_hash(p, n, &id);
                        if (asprintf(&next, "%s%u:%zu:%.16s ", out, i, n, object_id_hex(&id)) < 0)
                                tap_bail_out("oom");
                }
                free(out);
                out = next;
        }
        return out;
}

static void test_writer_rollback(const char *dir, const char *path) {
        unlink(path);
        write_pack(dir);
        uint64_t end = (uint64_t) file_size(path);
        _cleanup_free_ char *before = packs_fingerprint(dir);

        /* Append to the synced pack, free without a sync: cut back. */
        {
                PackWriter *w = NULL;
                int r = pack_writer_open(dir, 1, end, 43, &w);
                check_eq(r, 0, "pack_writer_open at the committed end");
                if (r < 0)
                        return;
                bool appended = true;
                for (size_t i = 0; i < 4; i++)
                        appended = appended && append_rec(w, &recs[i]) == 0;
                check(appended && (uint64_t) file_size(path) > end && pack_writer_written(w) > 0,
                      "appended records grow the pack to %jd", (intmax_t) file_size(path));
                check_eq(pack_writer_end(w), file_size(path), "pack_writer_end is the pack's length");
                pack_writer_free(w);
        }
        _cleanup_free_ char *after = packs_fingerprint(dir);
        check(strcmp(before, after) == 0, "pack_writer_free without sync truncates the pack back (%s / %s)", before,
              after);

        /* A new pack created without a sync is removed again. */
        {
                PackWriter *w = NULL;
                int r = pack_writer_open(dir, 2, 0, 43, &w);
                _cleanup_free_ char *p2 = pack_path(dir, 2);
                check(r == 0 && append_rec(w, &recs[0]) == 0 && file_size(p2) > 0, "a second pack is created");
                pack_writer_free(w);
                check_eq(file_size(p2), -1, "pack_writer_free without sync removes a pack it created");
        }

        /* Committed appends stay; appends after the commit are cut back to it,
         * synced or not (a catalog commit that failed after the sync). */
        {
                PackWriter *w = NULL;
                if (pack_writer_open(dir, 1, end, 44, &w) < 0)
                        tap_bail_out("pack_writer_open");
                ObjectLocation loc = {};
                bool ok = pack_writer_append(w, recs[0].type, &recs[0].id, recs[0].compression, recs[0].stored,
                                             recs[0].stored_size, recs[0].content_size, recs[0].content_size,
                                             NULL, &loc) == 0 &&
                          pack_writer_sync(w) == 0;
                pack_writer_committed(w);
                uint64_t synced = pack_writer_end(w);
                ok = ok && append_rec(w, &recs[1]) == 0 && pack_writer_sync(w) == 0;
                pack_writer_free(w);
                recs[0].loc = loc; /* read the synced copy */
                bool bytes;
                check(ok && (uint64_t) file_size(path) == synced && loc.offset == end,
                      "free cuts back to the committed end %" PRIu64 ", even past a sync (size %jd)", synced,
                      (intmax_t) file_size(path));
                check(read_rec(dir, 0, &bytes) == 0 && bytes, "the synced record reads back");
        }

        /* Opening at a committed end shorter than the file cuts the torn tail. */
        {
                uint64_t committed = (uint64_t) file_size(path);
                _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
                if (fd < 0 || write_full(fd, "torn tail of a dead writer", 26) < 0)
                        tap_bail_out("append: %m");
                PackWriter *w = NULL;
                int r = pack_writer_open(dir, 1, committed, 45, &w);
                check(r == 0 && (uint64_t) file_size(path) == committed,
                      "pack_writer_open cuts bytes past the committed end");
                pack_writer_free(w);
                w = NULL;
                r = pack_writer_open(dir, 1, committed + 100, 45, &w);
                check_eq(r, -EBADMSG, "pack_writer_open with an end past the pack's length is -EBADMSG");
                pack_writer_free(w);
        }
}

/* Partial reads of the PAGED record: any range reads back exactly, from the
 * pages it touches; a flipped byte fails exactly the ranges that touch its
 * page, and a flipped byte in the table fails the table. */
static void test_paged_parts(const char *dir, const char *path, uint64_t *state) {
        Rec *r = &recs[N_RECS - 1];
        if (r->compression != PACK_COMPRESSION_PAGED)
                tap_bail_out("the last record is not PAGED");
        unlink(path);
        write_pack(dir);
        _cleanup_(pack_set_freep) PackSet *s = NULL;
        if (pack_set_new(dir, &s) < 0)
                tap_bail_out("pack_set_new failed");
        _cleanup_free_ uint32_t *table = NULL;
        check_eq(pack_set_read_page_table(s, &r->loc, &r->id, &table), 0, "PAGED: the page table reads and checks");
        ObjectId other = r->id;
        other.bytes[0] ^= 1;
        uint32_t *t2 = NULL;
        check_eq(pack_set_read_page_table(s, &r->loc, &other, &t2), -EBADMSG,
                 "PAGED: a page table asked for under another id is refused");
        check_eq(pack_set_read_page_table(s, &recs[0].loc, &recs[0].id, &t2), -EINVAL,
                 "PAGED: a record stored another way has no page table");
        free(t2);

        uint8_t *buf = malloc(r->content_size);
        bool all_ok = true;
        const size_t n = r->content_size;
        const uint64_t edges[][2] = { { 0, 1 }, { 0, 4096 }, { 4095, 2 }, { 4096, 4096 }, { 100, 10000 },
                                      { n - 1, 1 }, { n - 4000, 4000 }, { 0, n }, { 8191, 8194 } };
        for (size_t i = 0; i < ELEMENTSOF(edges) + 40; i++) {
                uint64_t off = i < ELEMENTSOF(edges) ? edges[i][0] : splitmix64(state) % n;
                size_t len = i < ELEMENTSOF(edges) ? edges[i][1] : 1 + splitmix64(state) % MIN(n - off, 70000);
                int q = pack_set_read_pages(s, &r->loc, table, off, len, buf);
                if (q < 0 || memcmp(buf, r->content + off, len) != 0) {
                        tap_diag("range [%" PRIu64 ", +%zu): %d", off, len, q);
                        all_ok = false;
                }
        }
        check(all_ok, "PAGED: aligned, unaligned, page-crossing, short-last-page and random ranges read back exactly");
        check_eq(pack_set_read_pages(s, &r->loc, table, n - 10, 11, buf), -EINVAL,
                 "PAGED: a range past the end is refused");
        pack_set_free(TAKE_PTR(s));

        /* Flip a byte in page 5. */
        flip_byte(path, r->loc.offset + RECORD_HEADER_SIZE + 5 * 4096 + 17);
        if (pack_set_new(dir, &s) < 0)
                tap_bail_out("pack_set_new failed");
        check_eq(pack_set_read_pages(s, &r->loc, table, 5 * 4096 + 100, 10, buf), -EBADMSG,
                 "PAGED: a range in a page with a flipped byte is -EBADMSG");
        check_eq(pack_set_read_pages(s, &r->loc, table, 4 * 4096, 4097 + 4096, buf), -EBADMSG,
                 "PAGED: so is one that only crosses into it");
        check(pack_set_read_pages(s, &r->loc, table, 4 * 4096, 4096, buf) == 0 &&
                      pack_set_read_pages(s, &r->loc, table, 6 * 4096, 5000, buf) == 0 &&
                      memcmp(buf, r->content + 6 * 4096, 5000) == 0,
              "PAGED: the pages around it still read exactly");
        void *whole = NULL;
        check_eq(pack_set_read(s, &r->loc, &r->id, false, &whole, NULL), -EBADMSG,
                 "PAGED: the whole record (payload CRC) is -EBADMSG");
        free(whole);
        pack_set_free(TAKE_PTR(s));

        /* A table that does not match its bytes, written with a payload CRC
         * over it (a writer bug, not bit rot): the CRC alone accepts it,
         * a verifying read (fsck, export) and the page read refuse it. */
        unlink(path);
        uint8_t *entry = r->stored + n + 4 * 2; /* page 2's CRC */
        entry[0] ^= 1;
        uint32_t pages = pack_paged_pages((uint32_t) n);
        le32_write(r->stored + n + 4 * (size_t) pages, (uint32_t) crc32(0, r->stored + n, 4 * pages));
        write_pack(dir);
        if (pack_set_new(dir, &s) < 0)
                tap_bail_out("pack_set_new failed");
        whole = NULL;
        check(pack_set_read(s, &r->loc, &r->id, false, &whole, NULL) == 0,
              "PAGED: a wrong page table with a matching payload CRC passes the CRC check alone");
        free(whole);
        whole = NULL;
        check_eq(pack_set_read(s, &r->loc, &r->id, true, &whole, NULL), -EBADMSG,
                 "PAGED: a verifying read refuses a page table that does not match the bytes");
        free(whole);
        _cleanup_free_ uint32_t *bad_table = NULL;
        check(pack_set_read_page_table(s, &r->loc, &r->id, &bad_table) == 0 &&
                      pack_set_read_pages(s, &r->loc, bad_table, 2 * 4096 + 5, 10, buf) == -EBADMSG,
              "PAGED: a page read against that table is -EBADMSG");
        pack_set_free(TAKE_PTR(s));
        entry[0] ^= 1;
        le32_write(r->stored + n + 4 * (size_t) pages, (uint32_t) crc32(0, r->stored + n, 4 * pages));

        /* Flip a byte in the table (rewrite the pack first). */
        unlink(path);
        write_pack(dir);
        flip_byte(path, r->loc.offset + RECORD_HEADER_SIZE + n + 4 * 3 + 1);
        if (pack_set_new(dir, &s) < 0)
                tap_bail_out("pack_set_new failed");
        uint32_t *t3 = NULL;
        check_eq(pack_set_read_page_table(s, &r->loc, &r->id, &t3), -EBADMSG,
                 "PAGED: a page table with a flipped byte is -EBADMSG");
        free(t3);
        free(buf);
}

int main(void) {
        uint64_t seed = test_seed(), state = seed;
        tap_diag("seed %" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);

        _cleanup_free_ char *dir = make_temp_dir("pack");
        _cleanup_free_ char *path = pack_path(dir, 1);
        make_records(&state);

        test_round_trip(dir, path);
        test_forged(dir, &state);
        /* Each kind of damage on each record; the scan must find what
         * follows it. */
        for (size_t i = 0; i < N_RECS; i++)
                for (Damage d = DAMAGE_HEADER_ID; d <= DAMAGE_PAYLOAD; d++)
                        if (d != DAMAGE_PAYLOAD || recs[i].stored_size > 0)
                                test_damage(dir, path, i, d);
        test_resync_seam(dir, path);
        test_truncated(dir, path);
        test_bad_pack_header(dir, path);
        test_writer_rollback(dir, path);
        test_paged_parts(dir, path, &state);

        free_records();
        rm_rf(dir);
        return tap_done_testing();
}
