/* SPDX-License-Identifier: Apache-2.0 */
#include "gc.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fileio.h"
#include "pack-reader.h"
#include "pack-writer.h"
#include "reach.h"

/* Data flow of gc: mark (reach_roots(): every id the roots reach goes
 * into an IdSet once), measure (one pass over
 * the catalog: unreachable ids, live record bytes per pack), seal the
 * current pack if it is worth compacting, sweep (one store transaction:
 * drop dead ids, copy live records out of mostly-dead packs), commit, and
 * only then unlink. */

/* Drop this many dead ids per catalog commit: a single LMDB transaction
 * deleting tens of millions of keys would dirty too many pages. */
#define GC_DELETES_PER_CHECKPOINT 100000

typedef struct PackUsage {
        uint32_t pack;
        uint64_t size;          /* file size; for the current pack its committed end */
        uint64_t live;          /* record bytes of reachable objects located in it */
        enum { PACK_KEEP, PACK_DELETE, PACK_REWRITE } action;
} PackUsage;

typedef struct LiveRecord {
        ObjectId id;
        ObjectLocation loc;
} LiveRecord;

typedef struct Gc {
        Store *store;
        IdSet *marked;
        char *error;            /* first reason mark could not finish */
        PackUsage *packs;
        size_t n_packs;
        ObjectId *dead;
        size_t n_dead, allocated_dead;
        LiveRecord *moves;
        size_t n_moves, allocated_moves;
        size_t n_dead_payload;  /* dead objects other than superseded STATE records */
        uint64_t cur;           /* the pack the writer appends to */
} Gc;

static void gc_done(Gc *g) {
        id_set_free(g->marked);
        free(g->error);
        free(g->packs);
        free(g->dead);
        free(g->moves);
}

/* A missing blob, or a missing or damaged chunk or state record, is a
 * leaf: gc can go on without it. Anything else hides what it reaches,
 * the pending imports' record and object lists too (what they stage). */
static int gc_on_reach(const ObjectId *id, ReachKind kind, const ObjectLocation *loc _unused_, ReachError error,
                       const char *detail, void *u) {
        Gc *g = u;
        if (error == REACH_OK || kind == REACH_CHUNK || kind == REACH_STATE || kind == REACH_STAGED ||
            (kind == REACH_BLOB && (error == REACH_MISSING || error == REACH_WRONG_TYPE)))
                return 0;
        if (!g->error) {
                char hex[OBJECT_ID_HEX_SIZE];
                if (asprintf(&g->error, "%s %s %s", reach_kind_to_string(kind), object_id_to_hex(id, hex), detail) <
                    0)
                        g->error = NULL;
        }
        return 0;
}

static PackUsage *gc_find_pack(Gc *g, uint32_t pack) {
        size_t lo = 0, hi = g->n_packs;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (g->packs[mid].pack == pack)
                        return &g->packs[mid];
                if (g->packs[mid].pack < pack)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static int gc_measure(const ObjectId *id, const ObjectLocation *loc, void *u) {
        Gc *g = u;
        if (loc->pack > g->cur && !g->error) {
                /* Never written by a commit; refuse rather than guess. */
                if (asprintf(&g->error, "the index places object %s in pack-%06u, past the pack being written "
                                        "(pack-%06" PRIu64 "); run `isle fsck`",
                             object_id_hex(id), loc->pack, g->cur) < 0)
                        g->error = NULL;
        }
        if (!id_set_contains(g->marked, id)) {
                int r = GROW(g->dead, g->allocated_dead, g->n_dead + 1);
                if (r < 0)
                        return r;
                g->dead[g->n_dead++] = *id;
                if (loc->type != OBJECT_STATE)
                        g->n_dead_payload++;
                return 0;
        }
        PackUsage *p = gc_find_pack(g, loc->pack);
        if (p)
                p->live += RECORD_HEADER_SIZE + (uint64_t) loc->stored_size;
        return 0;
}

static int gc_collect_moves(const ObjectId *id, const ObjectLocation *loc, void *u) {
        Gc *g = u;
        PackUsage *p = gc_find_pack(g, loc->pack);
        if (!p || p->action != PACK_REWRITE || !id_set_contains(g->marked, id))
                return 0;
        int r = GROW(g->moves, g->allocated_moves, g->n_moves + 1);
        if (r < 0)
                return r;
        g->moves[g->n_moves++] = (LiveRecord) { .id = *id, .loc = *loc };
        return 0;
}

static int live_record_compare(const void *a, const void *b) {
        const ObjectLocation *x = &((const LiveRecord *) a)->loc, *y = &((const LiveRecord *) b)->loc;
        if (x->pack != y->pack)
                return x->pack < y->pack ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int64_t file_size(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        return st.st_size;
}

static int packs_total_size(Store *s, uint64_t *ret_bytes, uint64_t *ret_count) {
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n;
        int r = store_list_packs(s, &packs, &n);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = path_join(store_path(s), "packs");
        if (!dir)
                return -ENOMEM;
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = pack_path(dir, packs[i]);
                if (!path)
                        return -ENOMEM;
                int64_t size = file_size(path);
                if (size >= 0)
                        total += (uint64_t) size;
        }
        *ret_bytes = total;
        *ret_count = n;
        return 0;
}

/* Makes the current pack an ordinary one: cut to its committed end,
 * durably, then point the writer at the next number. */
static int gc_seal(Store *s, const char *dir, uint32_t pack, uint64_t end) {
        _cleanup_free_ char *path = pack_path(dir, pack);
        if (!path)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size < end)
                return -EBADMSG;
        if ((uint64_t) st.st_size > end && ftruncate(fd, (off_t) end) < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(s), true, &t);
        if (r < 0)
                return r;
        r = catalog_put_u64(t, "pack", (uint64_t) pack + 1);
        if (r >= 0)
                r = catalog_put_u64(t, "pack-end", 0);
        if (r < 0)
                return r;
        return catalog_commit(TAKE_PTR(t));
}

/* Reads one live record as stored into *buf. 1 when it is whole and is
 * what the catalog says, 0 when damaged. */
static int read_live_record(int fd, const LiveRecord *rec, uint8_t **buf, size_t *allocated, RecordInfo *ret) {
        const ObjectLocation *loc = &rec->loc;
        size_t len = RECORD_HEADER_SIZE + (size_t) loc->stored_size;
        int r = GROW(*buf, *allocated, len);
        if (r < 0)
                return r;
        ssize_t k = pread_full(fd, *buf, len, loc->offset);
        if (k < 0)
                return (int) k;
        RecordInfo info;
        if ((size_t) k < len || record_header_decode(*buf, &info) < 0 || !object_id_equal(&info.id, &rec->id) ||
            info.type != loc->type || info.compression != loc->compression || info.stored_size != loc->stored_size ||
            info.raw_size != loc->raw_size ||
            (uint32_t) crc32(0, *buf + RECORD_HEADER_SIZE, info.stored_size) != info.payload_crc)
                return 0;
        *ret = info;
        return 1;
}

/* Copies the live records of one pack to the writer. Returns 1 when they
 * were copied, 0 when one of them is damaged: then nothing is copied and
 * the pack stays as it is (copying would give the damaged payload a fresh,
 * valid checksum; dropping it would lose what fsck can still point at). A
 * first pass checks, so that a damaged pack costs no copies. */
static int gc_move_pack(StoreTxn *t, const LiveRecord *recs, size_t n, GcReport *rep) {
        Store *s = store_txn_store(t);
        if (n == 0)
                return 1;
        int fd = pack_set_fd(store_packs(s), recs[0].loc.pack);
        if (fd < 0)
                return fd;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t allocated = 0;
        RecordInfo info;
        for (size_t i = 0; i < n; i++) {
                int r = read_live_record(fd, &recs[i], &buf, &allocated, &info);
                if (r <= 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                int r = read_live_record(fd, &recs[i], &buf, &allocated, &info);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EIO; /* changed under us between the passes */
                r = store_txn_put_record(t, &info, buf + RECORD_HEADER_SIZE, recs[i].loc.size, true);
                if (r < 0)
                        return r;
                rep->objects_moved++;
                rep->bytes_moved += RECORD_HEADER_SIZE + (uint64_t) info.stored_size;
        }
        return 1;
}

static int gc_unlink_packs(Store *s, const char *dir, const uint32_t *packs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = pack_path(dir, packs[i]);
                if (!path)
                        return -ENOMEM;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        }
        pack_set_flush(store_packs(s));
        return n > 0 ? fsync_dir(dir) : 0;
}

/* Packs past the writer's: created by a transaction that never committed. */
static int gc_unlink_uncommitted(Store *s, const char *dir) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(s), false, &t);
        if (r < 0)
                return r;
        uint64_t cur;
        r = catalog_get_u64(t, "pack", &cur);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        t = catalog_abort(t);
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n;
        r = store_list_packs(s, &packs, &n);
        if (r < 0)
                return r;
        size_t first = n;
        while (first > 0 && packs[first - 1] > cur)
                first--;
        return gc_unlink_packs(s, dir, packs + first, n - first);
}

static int gc_plan(Gc *g, CatalogTxn *rt, const char *dir, uint64_t cur, uint64_t cur_end, bool *ret_seal) {
        _cleanup_free_ uint32_t *numbers = NULL;
        size_t n;
        int r = store_list_packs(g->store, &numbers, &n);
        if (r < 0)
                return r;
        g->packs = calloc(n ? n : 1, sizeof(PackUsage));
        if (!g->packs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (numbers[i] > cur)
                        break; /* uncommitted: removed after the commit */
                _cleanup_free_ char *path = pack_path(dir, numbers[i]);
                if (!path)
                        return -ENOMEM;
                int64_t size = file_size(path);
                if (size < 0)
                        return (int) size;
                g->packs[g->n_packs++] = (PackUsage) {
                        .pack = numbers[i],
                        .size = numbers[i] == cur ? cur_end : (uint64_t) size,
                };
        }
        r = catalog_foreach_object(rt, gc_measure, g);
        if (r < 0)
                return r;
        *ret_seal = false;
        for (size_t i = 0; i < g->n_packs; i++) {
                PackUsage *p = &g->packs[i];
                if (p->pack == cur && p->size <= PACK_HEADER_SIZE)
                        continue; /* empty current pack */
                if (p->live == 0)
                        p->action = PACK_DELETE;
                else if (p->live * 100 < p->size * GC_REWRITE_LIVE_PERCENT)
                        p->action = PACK_REWRITE;
                if (p->pack == cur && p->action != PACK_KEEP)
                        *ret_seal = true;
        }
        r = catalog_foreach_object(rt, gc_collect_moves, g);
        if (r < 0)
                return r;
        if (g->n_moves > 0)
                qsort(g->moves, g->n_moves, sizeof *g->moves, live_record_compare);
        return 0;
}

static int gc_sweep(Gc *g, GcReport *rep, uint32_t **ret_unlink, size_t *ret_n_unlink) {
        Store *s = g->store;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        int r = store_begin(s, &t);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n_dead; i++) {
                r = catalog_del_object(store_txn_catalog(t), &g->dead[i]);
                if (r < 0 && r != -ENOENT)
                        return r;
                if ((i + 1) % GC_DELETES_PER_CHECKPOINT == 0) {
                        r = store_txn_checkpoint(t);
                        if (r < 0)
                                return r;
                }
        }
        rep->objects_removed = g->n_dead;

        _cleanup_free_ uint32_t *unlink_list = calloc(g->n_packs ? g->n_packs : 1, sizeof(uint32_t));
        if (!unlink_list)
                return -ENOMEM;
        size_t n_unlink = 0, m = 0;
        for (size_t i = 0; i < g->n_packs; i++) {
                PackUsage *p = &g->packs[i];
                if (p->action == PACK_DELETE) {
                        unlink_list[n_unlink++] = p->pack;
                        rep->packs_deleted++;
                        continue;
                }
                if (p->action != PACK_REWRITE)
                        continue;
                size_t first = m;
                while (m < g->n_moves && g->moves[m].loc.pack == p->pack)
                        m++;
                r = gc_move_pack(t, g->moves + first, m - first, rep);
                if (r < 0)
                        return r;
                if (r > 0) {
                        unlink_list[n_unlink++] = p->pack;
                        rep->packs_rewritten++;
                } else
                        rep->packs_kept_damaged++;
        }
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0)
                return r;
        *ret_unlink = TAKE_PTR(unlink_list);
        *ret_n_unlink = n_unlink;
        return 0;
}

/* Mark and plan from one read snapshot (the lock keeps it current), then
 * seal, sweep, commit, unlink. */
static int gc_run(Gc *g, const char *dir, GcReport *rep, char **reterr_detail) {
        Store *s = g->store;
        int r = packs_total_size(s, &rep->bytes_before, &rep->packs_before);
        if (r < 0)
                return r;
        _cleanup_(catalog_abortp) CatalogTxn *rt = NULL;
        r = catalog_begin(store_catalog(s), false, &rt);
        if (r < 0)
                return r;
        r = catalog_count_objects(rt, &rep->objects_before);
        if (r < 0)
                return r;
        uint64_t cur, cur_end = 0;
        r = catalog_get_u64(rt, "pack", &cur);
        if (r == -ENOENT && rep->packs_before > 0) {
                /* store_init() sets meta "pack": a catalog without it over
                 * packs is a lost index, not an empty store, and gc would
                 * delete everything. */
                if (reterr_detail && asprintf(reterr_detail,
                                              "the index is lost but %" PRIu64 " pack(s) exist; run "
                                              "`isle fsck --rebuild-index` first",
                                              rep->packs_before) < 0)
                        *reterr_detail = NULL;
                return -ENOTRECOVERABLE;
        }
        if (r == -ENOENT) {
                rep->bytes_after = rep->bytes_before; /* nothing was ever written */
                return 0;
        }
        if (r >= 0)
                r = catalog_get_u64(rt, "pack-end", &cur_end);
        if (r < 0)
                return r;
        g->cur = cur;
        /* Only the lock holder may seal and sweep: prove we are it (-EBUSY)
         * before anything is written. */
        StoreTxn *probe;
        r = store_begin(s, &probe);
        if (r < 0)
                return r;
        store_txn_abort(probe);

        r = id_set_new(&g->marked);
        if (r >= 0)
                r = id_set_reserve(g->marked, rep->objects_before);
        if (r >= 0)
                r = reach_roots(s, rt, g->marked, gc_on_reach, g);
        if (r < 0)
                return r;
        if (g->error) {
                if (reterr_detail)
                        *reterr_detail = TAKE_PTR(g->error);
                return -EBADMSG;
        }
        bool seal = false;
        r = gc_plan(g, rt, dir, cur, cur_end, &seal);
        if (r < 0)
                return r;
        if (g->error) {
                if (reterr_detail)
                        *reterr_detail = TAKE_PTR(g->error);
                return -EBADMSG;
        }
        rt = catalog_abort(rt);

        /* Every commit supersedes one STATE record; dropping only those
         * would write another one and never end. */
        bool work = g->n_dead_payload > 0;
        for (size_t i = 0; i < g->n_packs; i++)
                work = work || g->packs[i].action != PACK_KEEP;
        _cleanup_free_ uint32_t *unlink_list = NULL;
        size_t n_unlink = 0;
        if (work) {
                if (seal) {
                        r = gc_seal(s, dir, (uint32_t) cur, cur_end);
                        if (r < 0)
                                return r;
                }
                r = gc_sweep(g, rep, &unlink_list, &n_unlink);
                if (r < 0)
                        return r;
        }
        /* Committed: what is unlinked now is garbage whatever happens. */
        r = gc_unlink_packs(s, dir, unlink_list, n_unlink);
        if (r >= 0)
                r = gc_unlink_uncommitted(s, dir);
        if (r >= 0)
                r = packs_total_size(s, &rep->bytes_after, &rep->packs_after);
        return r;
}

int store_gc(Store *s, GcReport *ret, char **reterr_detail) {
        _cleanup_free_ char *dir = path_join(store_path(s), "packs");
        if (!dir)
                return -ENOMEM;
        GcReport rep = {};
        Gc g = { .store = s };
        int r = gc_run(&g, dir, &rep, reterr_detail);
        gc_done(&g);
        if (r < 0)
                return r;
        *ret = rep;
        return 0;
}
