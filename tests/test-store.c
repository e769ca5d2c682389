/* SPDX-License-Identifier: Apache-2.0 */
/* The store on a temporary directory: init, open, the writer lock,
 * transactions; blobs written with a BlobWriter read back byte for byte
 * (random multi-chunk, compressible, already-compressed, tiny, empty); an
 * aborted transaction leaves packs and index byte-identical. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob-writer.h"
#include "chunker.h"
#include "compressor.h"
#include "fileio.h"
#include "macro.h"
#include "pack-writer.h"
#include "tap.h"
#include "test-util.h"

static uint8_t *random_bytes(uint64_t *state, size_t n) {
        uint8_t *p = malloc(n ? n : 1);
        if (!p)
                tap_bail_out("oom");
        fill_random(state, p, n);
        /* Never start like a compressed format by accident. */
        if (n > 0)
                p[0] = 'R';
        return p;
}

/* Text-like: lines drawn from a small vocabulary, compresses well. */
static uint8_t *text_bytes(uint64_t *state, size_t n) {
        static const char *const words[] = { "store", "chunk", "pack", "tree", "blob", "island", "ship", "mount",
                                             "bundle", "revision", "generation", "index" };
        uint8_t *p = malloc(n ? n : 1);
        size_t off = 0;
        while (off < n) {
                const char *w = words[splitmix64(state) % ELEMENTSOF(words)];
                size_t k = MIN(strlen(w), n - off);
                memcpy(p + off, w, k);
                off += k;
                if (off < n)
                        p[off++] = splitmix64(state) % 8 == 0 ? '\n' : ' ';
        }
        return p;
}

/* "path size sha256" of every file under STORE/packs and STORE/index
 * except lock.mdb (the LMDB reader table, which reads write). */
static char *store_fingerprint(const char *store) {
        char *out = strdup("");
        static const char *const subdirs[] = { "packs", "index" };
        for (size_t k = 0; k < ELEMENTSOF(subdirs); k++) {
                _cleanup_free_ char *d = path_join(store, subdirs[k]);
                struct dirent **names = NULL;
                int n = scandir(d, &names, NULL, alphasort);
                for (int i = 0; i < n; i++) {
                        const char *name = names[i]->d_name;
                        if (name[0] != '.' && strcmp(name, "lock.mdb") != 0) {
                                _cleanup_free_ char *p = path_join(d, name), *content = NULL;
                                size_t size = 0;
                                ObjectId id = {};
                                if (read_file(p, SIZE_MAX - 1, &content, &size) >= 0)
                                        object_id_hash(content, size, &id);
                                char *next;
                                if (asprintf(&next, "%s%s/%s %zu %.16s\n", out, subdirs[k], name, size,
                                             object_id_hex(&id)) < 0)
                                        tap_bail_out("oom");
                                free(out);
                                out = next;
                        }
                        free(names[i]);
                }
                free(names);
        }
        return out;
}

static size_t count_packs(const char *store) {
        _cleanup_free_ char *d = path_join(store, "packs");
        DIR *dir = opendir(d);
        size_t n = 0;
        struct dirent *de;
        while (dir && (de = readdir(dir)))
                n += strncmp(de->d_name, "pack-", 5) == 0;
        if (dir)
                closedir(dir);
        return n;
}

/* Writes buf as one blob through a BlobWriter in irregular pieces. */
static int write_blob(StoreTxn *t, uint64_t *state, const uint8_t *buf, size_t n, ObjectId *ret_id,
                      uint64_t *ret_size, uint64_t *ret_new) {
        _cleanup_(blob_writer_freep) BlobWriter *w = NULL;
        int r = blob_writer_new(t, &w);
        if (r < 0)
                return r;
        size_t off = 0;
        while (off < n) {
                size_t piece = 1 + splitmix64(state) % (300 * 1024); /* MIN evaluates twice */
                size_t k = MIN(n - off, piece);
                r = blob_writer_write(w, buf + off, k);
                if (r < 0)
                        return r;
                off += k;
        }
        r = blob_writer_finish(w, ret_id, ret_size);
        if (r >= 0 && ret_new)
                *ret_new = blob_writer_bytes_new(w);
        return r;
}

/* Reads the blob back chunk by chunk and compares; checks the recipe's
 * shape against the chunker params. */
static bool blob_matches(Store *s, const ObjectId *id, const uint8_t *buf, size_t n, const ChunkerParams *params,
                         size_t *ret_chunks, const char *what) {
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(s, id, &b);
        if (r < 0) {
                tap_diag("%s: store_open_blob: %s", what, strerror(-r));
                return false;
        }
        bool ok = b->size == n && object_id_equal(&b->id, id);
        uint64_t off = 0;
        _cleanup_free_ uint8_t *chunk = malloc(params ? params->max : n + 1);
        for (size_t i = 0; ok && i < b->n_chunks; i++) {
                BlobChunk *c = &b->chunks[i];
                bool last = i + 1 == b->n_chunks;
                if (c->offset != off || (params && (c->size > params->max || (!last && c->size < params->min)))) {
                        tap_diag("%s: chunk %zu at %" PRIu64 " size %u out of shape", what, i, c->offset, c->size);
                        ok = false;
                        break;
                }
                r = store_read_chunk(s, c, chunk);
                if (r < 0 || memcmp(chunk, buf + off, c->size) != 0) {
                        tap_diag("%s: chunk %zu differs (%d)", what, i, r);
                        ok = false;
                }
                off += c->size;
        }
        ok = ok && off == n;
        if (ret_chunks)
                *ret_chunks = b->n_chunks;
        return ok;
}

/* LMDB forbids opening one environment twice in a process, so a second
 * handle on a store (a reader next to the writer) lives in a child. Runs
 * fn(dir, id) there and returns its result (the child's exit status, as a
 * negated errno when fn fails), -ETIMEDOUT if it is still blocked after 10 s. */
typedef int (*ChildFn)(const char *dir, const ObjectId *id);

static int in_child(ChildFn fn, const char *dir, const ObjectId *id) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                tap_bail_out("fork: %m");
        if (pid == 0) {
                alarm(10); /* a reader that blocks is a failure, not a hang */
                int r = fn(dir, id);
                _exit(r < 0 ? -r : r);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0)
                return -ECHILD;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
                return -ETIMEDOUT;
        if (!WIFEXITED(status))
                return -ECHILD;
        return -WEXITSTATUS(status);
}

/* A reader: 0 if it sees the object, -ENOENT if not. */
static int child_lookup(const char *dir, const ObjectId *id) {
        Store *s = NULL;
        int r = store_open(dir, false, &s);
        if (r < 0)
                return r;
        ObjectLocation loc;
        r = store_lookup(s, id, &loc);
        store_free(s);
        return r;
}

/* A reader that tries to write: store_begin must refuse. */
static int child_begin(const char *dir, const ObjectId *id) {
        Store *s = NULL;
        int r = store_open(dir, false, &s);
        if (r < 0)
                return r == -EBUSY ? -EIO : r;
        StoreTxn *t = NULL;
        r = store_begin(s, &t);
        store_txn_abort(t);
        store_free(s);
        return r;
}

static void test_init_open(const char *tmp) {
        _cleanup_free_ char *dir = path_join(tmp, "s0"), *other = path_join(tmp, "full");
        check_eq(store_init(dir), 0, "store_init on a new path");
        _cleanup_free_ char *marker = path_join(dir, STORE_MARKER), *content = NULL;
        check(read_file(marker, 100, &content, NULL) == 0 && strcmp(content, STORE_MARKER_CONTENT) == 0,
              "the marker file says \"isle store 1\"");
        check_eq(store_init(dir), -EEXIST, "store_init on a store is -EEXIST");
        mkdir(other, 0755);
        _cleanup_free_ char *junk = path_join(other, "junk");
        write_file_atomic(junk, "x", 1, 0644);
        check_eq(store_init(other), -EEXIST, "store_init on a non-empty directory is -EEXIST");
        Store *s = NULL;
        check_eq(store_open(other, false, &s), -ENOENT, "store_open of a directory that is not a store is -ENOENT");
        check_eq(store_open(junk, false, &s), -ENOENT, "store_open of a regular file is -ENOENT");

        Store *w1 = NULL, *w2 = NULL;
        check_eq(store_open(dir, true, &w1), 0, "store_open(write)");
        check_eq(store_open(dir, true, &w2), -EBUSY, "a second store_open(write) is -EBUSY");
        ObjectId nothing = {};
        check_eq(in_child(child_lookup, dir, &nothing), -ENOENT,
                 "store_open(read) in another process works while a writer holds the lock");
        check_eq(in_child(child_begin, dir, &nothing), -EBUSY, "store_begin on a read-only handle is -EBUSY");
        StoreTxn *t1 = NULL, *t2 = NULL;
        check_eq(store_begin(w1, &t1), 0, "store_begin");
        check_eq(store_begin(w1, &t2), -EBUSY, "a second store_begin while one is open is -EBUSY");
        store_txn_abort(t1);
        store_free(w1);
        check_eq(store_open(dir, true, &w2), 0, "store_open(write) succeeds once the writer is gone");
        store_free(w2);

        /* Bad marker content: refused as unknown format. */
        write_file_atomic(marker, "isle store 9\n", 13, 0644);
        check_eq(store_open(dir, false, &s), -EPROTONOSUPPORT, "a store of an unknown version is -EPROTONOSUPPORT");
}

static void test_blobs(const char *dir, uint64_t *state) {
        Store *s = NULL;
        if (store_open(dir, true, &s) < 0)
                tap_bail_out("store_open");

        const size_t big = 5u << 20, text = 3u << 20, packed = 6u << 20;
        _cleanup_free_ uint8_t *rnd = random_bytes(state, big);
        _cleanup_free_ uint8_t *txt = text_bytes(state, text);
        _cleanup_free_ uint8_t *gz = random_bytes(state, packed);
        gz[0] = 0x1f;
        gz[1] = 0x8b; /* gzip magic: coarse chunks, stored raw */
        ObjectId want_rnd, want_txt, want_gz, id_rnd, id_txt, id_gz, id_small, id_empty;
        object_id_hash(rnd, big, &want_rnd);
        object_id_hash(txt, text, &want_txt);
        object_id_hash(gz, packed, &want_gz);

        StoreTxn *t = NULL;
        if (store_begin(s, &t) < 0)
                tap_bail_out("store_begin");
        uint64_t size = 0, fresh = 0;
        check(write_blob(t, state, rnd, big, &id_rnd, &size, &fresh) == 0 && size == big &&
                      object_id_equal(&id_rnd, &want_rnd),
              "random %zu-byte blob: id is its SHA-256", big);
        check_eq(fresh, big, "random blob: every byte is new");
        uint64_t before_txt = store_txn_bytes_written(t);
        check(write_blob(t, state, txt, text, &id_txt, &size, NULL) == 0 && size == text &&
                      object_id_equal(&id_txt, &want_txt),
              "compressible %zu-byte blob: id is its SHA-256", text);
        uint64_t txt_stored = store_txn_bytes_written(t) - before_txt;
        tap_diag("compressible blob: %zu bytes stored as %" PRIu64, text, txt_stored);
        check(txt_stored < text / 3, "compressible blob is stored compressed (%" PRIu64 " < %zu / 3 bytes)",
              txt_stored, text);
        uint64_t before_gz = store_txn_bytes_written(t);
        check(write_blob(t, state, gz, packed, &id_gz, &size, NULL) == 0 && object_id_equal(&id_gz, &want_gz),
              "gzip-looking %zu-byte blob: id is its SHA-256", packed);
        uint64_t gz_stored = store_txn_bytes_written(t) - before_gz;
        check(gz_stored >= packed && gz_stored < packed + packed / 100,
              "gzip-looking blob is stored raw, about its size (%" PRIu64 ")", gz_stored);
        check(write_blob(t, state, (const uint8_t *) "hello\n", 6, &id_small, &size, NULL) == 0 && size == 6,
              "a 6-byte blob");
        check(write_blob(t, state, (const uint8_t *) "", 0, &id_empty, &size, NULL) == 0 && size == 0,
              "the empty blob");
        ObjectId want_small, want_empty;
        object_id_hash("hello\n", 6, &want_small);
        object_id_hash("", 0, &want_empty);
        check(object_id_equal(&id_small, &want_small) && object_id_equal(&id_empty, &want_empty),
              "small and empty blob ids are their SHA-256");

        /* The writing thread reads its uncommitted objects; another handle does not. */
        ObjectLocation loc;
        check_eq(store_lookup(s, &id_rnd, &loc), 0, "the writer sees the uncommitted blob");
        /* Readers never block (DESIGN.md): opening the store to read must
         * not wait for the writer's open transaction. */
        int rd = in_child(child_lookup, dir, &id_rnd);
        if (rd == -ETIMEDOUT)
                tap_diag("BUG: store_open(read) blocks while another process has a write transaction open "
                         "(catalog_open() begins a write LMDB transaction even to read)");
        check_eq(rd, -ENOENT, "a reader in another process opens the store at once and does not see the "
                             "uncommitted blob");
        check_eq(store_txn_commit(t), 0, "commit");
        check_eq(in_child(child_lookup, dir, &id_rnd), 0, "after commit a reader in another process sees it");
        store_free(s);

        /* Read back through a fresh read-only handle. */
        if (store_open(dir, false, &s) < 0)
                tap_bail_out("store_open(read)");
        size_t n_chunks = 0;
        /* Noise with no magic: its first MiB gives it away, coarse chunks. */
        check(blob_matches(s, &id_rnd, rnd, big, &CHUNKER_COARSE, &n_chunks, "random"),
              "random blob reads back byte-exact via store_open_blob + store_read_chunk, cut within the "
              "coarse bounds");
        check(n_chunks > 1, "random blob has %zu chunks", n_chunks);
        check(store_lookup(s, &id_rnd, &loc) == 0 && loc.type == OBJECT_RECIPE && loc.size == big,
              "a multi-chunk blob is a RECIPE object whose size is the blob's");
        check(blob_matches(s, &id_txt, txt, text, &CHUNKER_FINE, &n_chunks, "text") && n_chunks > 1,
              "compressible blob reads back byte-exact (%zu chunks)", n_chunks);
        {
                _cleanup_(blob_freep) Blob *b = NULL;
                bool zstd = store_open_blob(s, &id_txt, &b) == 0;
                for (size_t i = 0; zstd && i < b->n_chunks; i++)
                        zstd = store_lookup(s, &b->chunks[i].id, &loc) == 0 && loc.compression == PACK_COMPRESSION_ZSTD;
                check(zstd, "every chunk of the compressible blob is stored zstd");
        }
        check(blob_matches(s, &id_gz, gz, packed, &CHUNKER_COARSE, &n_chunks, "gzip"),
              "gzip-looking blob reads back byte-exact, cut within the coarse bounds (%zu chunks)", n_chunks);
        {
                _cleanup_(blob_freep) Blob *b = NULL;
                bool raw = store_open_blob(s, &id_gz, &b) == 0;
                for (size_t i = 0; raw && i < b->n_chunks; i++)
                        raw = store_lookup(s, &b->chunks[i].id, &loc) == 0 && loc.compression == PACK_COMPRESSION_PAGED;
                check(raw, "every chunk of the gzip-looking blob is stored raw, with its page table");
        }
        check(blob_matches(s, &id_small, (const uint8_t *) "hello\n", 6, NULL, &n_chunks, "small") && n_chunks == 1,
              "a small blob is one chunk and reads back");
        check(store_lookup(s, &id_small, &loc) == 0 && loc.type == OBJECT_CHUNK,
              "a one-chunk blob is the chunk itself (same id)");
        check(blob_matches(s, &id_empty, (const uint8_t *) "", 0, NULL, &n_chunks, "empty") && n_chunks == 0,
              "the empty blob has no chunks and size 0");

        /* Reads verify literal objects by SHA-256 alone, so check the record
         * checksums separately: a scan (what fsck and the index rebuild do)
         * must find every record whole, raw and compressed alike. */
        {
                uint32_t *packs = NULL;
                size_t n_packs = 0;
                bool whole = store_list_packs(s, &packs, &n_packs) == 0 && n_packs > 0;
                for (size_t i = 0; whole && i < n_packs; i++) {
                        _cleanup_free_ char *pdir = path_join(dir, "packs"), *path = pack_path(pdir, packs[i]);
                        uint64_t damaged = 1;
                        whole = pack_scan(path, packs[i], false, NULL, NULL, &damaged) > 0 && damaged == 0;
                }
                free(packs);
                check(whole, "every record in the packs passes its checksums");
        }

        /* Whole-blob reads and blob_find_chunk. */
        {
                void *all = NULL;
                size_t n = 0;
                check(store_read_blob(s, &id_rnd, big, &all, &n) == 0 && n == big && memcmp(all, rnd, big) == 0,
                      "store_read_blob gives the whole random blob");
                free(all);
                all = NULL;
                check_eq(store_read_blob(s, &id_rnd, big - 1, &all, &n), -EFBIG, "store_read_blob over max is -EFBIG");
                _cleanup_(blob_freep) Blob *b = NULL;
                store_open_blob(s, &id_rnd, &b);
                bool found = b != NULL;
                for (unsigned k = 0; found && k < 1000; k++) {
                        uint64_t off = splitmix64(state) % big;
                        size_t i = blob_find_chunk(b, off);
                        found = i < b->n_chunks && b->chunks[i].offset <= off &&
                                off < b->chunks[i].offset + b->chunks[i].size;
                }
                check(found, "blob_find_chunk finds the chunk holding 1000 random offsets");
                char path[] = "/tmp/isle-test-store-out.XXXXXX";
                int fd = mkstemp(path);
                bool same = fd >= 0 && store_blob_write_to_fd(s, b, fd) == 0;
                if (same) {
                        _cleanup_free_ char *back = NULL;
                        size_t m = 0;
                        same = read_file(path, big + 1, &back, &m) == 0 && m == big && memcmp(back, rnd, big) == 0;
                }
                check(same, "store_blob_write_to_fd writes the blob's exact bytes");
                if (fd >= 0) {
                        close(fd);
                        unlink(path);
                }
        }
        ObjectId unknown;
        object_id_hash("never stored", 12, &unknown);
        Blob *none = NULL;
        check_eq(store_open_blob(s, &unknown, &none), -ENOENT, "store_open_blob of an unknown id is -ENOENT");
        store_free(s);

        /* Writing the same bytes again stores no new chunk. */
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        fresh = 1;
        ObjectId again;
        check(write_blob(t, state, rnd, big, &again, NULL, &fresh) == 0 && object_id_equal(&again, &id_rnd) &&
                      fresh == 0,
              "writing the random blob again stores no new bytes");
        check_eq(store_txn_bytes_written(t), 0, "and appends nothing to the packs");
        ObjectId cid;
        object_id_hash("hello\n", 6, &cid);
        check_eq(store_txn_put(t, OBJECT_CHUNK, &cid, "hello\n", 6, true), 0, "store_txn_put of a present object returns 0");
        object_id_hash("new!", 4, &cid);
        check_eq(store_txn_put(t, OBJECT_CHUNK, &cid, "new!", 4, true), 1, "store_txn_put of a new object returns 1");
        check_eq(store_txn_has(t, &cid), 1, "store_txn_has sees it");
        store_txn_abort(t);
        store_free(s);
}

/* JSON records are canonical: key order does not matter. */
static void test_json(const char *dir) {
        Store *s = NULL;
        StoreTxn *t = NULL;
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        json_t *a = json_pack("{s:s,s:i,s:[i,i]}", "type", "x", "n", 1, "list", 1, 2);
        json_t *b = json_pack("{s:[i,i],s:i,s:s}", "list", 1, 2, "n", 1, "type", "x");
        ObjectId ia, ib;
        check(store_txn_put_json(t, a, &ia) == 0 && store_txn_put_json(t, b, &ib) == 0 && object_id_equal(&ia, &ib),
              "the same JSON document with keys in another order has the same id");
        json_t *back = NULL;
        check(store_read_json(s, &ia, &back) == 0 && json_equal(back, a), "store_read_json gives the document back");
        json_decref(a);
        json_decref(b);
        json_decref(back);
        check_eq(store_txn_commit(t), 0, "commit");
        store_free(s);
}

static void test_abort(const char *tmp, uint64_t *state) {
        /* A fresh store: the first transaction's pack is removed again. */
        _cleanup_free_ char *dir = path_join(tmp, "s2");
        if (store_init(dir) < 0)
                tap_bail_out("store_init");
        _cleanup_free_ char *empty = store_fingerprint(dir);
        const size_t n = 3u << 20;
        _cleanup_free_ uint8_t *buf = random_bytes(state, n);
        Store *s = NULL;
        StoreTxn *t = NULL;
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        ObjectId id;
        check(write_blob(t, state, buf, n, &id, NULL, NULL) == 0 && store_txn_bytes_written(t) > n,
              "a transaction on a fresh store writes a %zu-byte blob", n);
        check_eq(count_packs(dir), 1, "it created a pack");
        t = store_txn_abort(t);
        store_free(s);
        _cleanup_free_ char *after_first = store_fingerprint(dir);
        check(strcmp(empty, after_first) == 0 && count_packs(dir) == 0,
              "abort on a fresh store leaves packs and index byte-identical (no pack)");

        /* A store with content: the pack is cut back, the index unchanged. */
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        ObjectId committed;
        write_blob(t, state, buf, n, &committed, NULL, NULL);
        check_eq(store_txn_commit(t), 0, "commit a first blob");
        store_free(s);
        _cleanup_free_ char *before = store_fingerprint(dir);

        _cleanup_free_ uint8_t *more = random_bytes(state, n);
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        ObjectId id2, tree_id;
        check(write_blob(t, state, more, n, &id2, NULL, NULL) == 0, "write a second blob");
        _cleanup_(tree_freep) Tree *tree = tree_new();
        tree_add(tree, "f", 1, 0644, n, &id2);
        check_eq(store_txn_put_tree(t, tree, &tree_id), 0, "and a tree");
        check_eq(catalog_put_u64(store_txn_catalog(t), "current", 7), 0, "and move a ref");
        t = store_txn_abort(t);
        ObjectLocation loc;
        check_eq(store_lookup(s, &id2, &loc), -ENOENT, "after abort the blob is unknown");
        store_free(s);
        _cleanup_free_ char *after = store_fingerprint(dir);
        check(strcmp(before, after) == 0, "an aborted transaction leaves packs and index byte-identical");
        if (strcmp(before, after) != 0) {
                /* One diagnostic line per file, as TAP wants. */
                for (char *save = NULL, *l = strtok_r(before, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        tap_diag("before: %s", l);
                for (char *save = NULL, *l = strtok_r(after, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        tap_diag("after:  %s", l);
        }

        /* And the store still works: a new transaction commits and reads. */
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        check(write_blob(t, state, more, n, &id2, NULL, NULL) == 0 && store_txn_commit(t) == 0,
              "a transaction after the abort commits");
        check(blob_matches(s, &id2, more, n, &CHUNKER_COARSE, NULL, "after abort") &&
                      blob_matches(s, &committed, buf, n, &CHUNKER_COARSE, NULL, "first"),
              "both blobs read back byte-exact");
        store_free(s);
}

/* A flipped byte in a chunk's payload: the read fails, it never returns
 * wrong bytes. */
static void test_damaged_chunk(const char *tmp, uint64_t *state) {
        _cleanup_free_ char *dir = path_join(tmp, "s3");
        const size_t n = 9u << 20; /* noise: coarse chunks of at most 1 MiB, so at least nine */
        _cleanup_free_ uint8_t *buf = random_bytes(state, n);
        Store *s = NULL;
        StoreTxn *t = NULL;
        ObjectId id;
        if (store_init(dir) < 0 || store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0 ||
            write_blob(t, state, buf, n, &id, NULL, NULL) < 0 || store_txn_commit(t) < 0)
                tap_bail_out("cannot set up s3");
        _cleanup_(blob_freep) Blob *b = NULL;
        if (store_open_blob(s, &id, &b) < 0 || b->n_chunks < 2)
                tap_bail_out("blob");
        BlobChunk *victim = &b->chunks[1];
        ObjectLocation loc;
        store_lookup(s, &victim->id, &loc);
        _cleanup_free_ char *packs = path_join(dir, "packs");
        _cleanup_free_ char *path = pack_path(packs, loc.pack);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        uint8_t byte;
        uint64_t at = loc.offset + RECORD_HEADER_SIZE + loc.stored_size / 2;
        if (fd < 0 || pread(fd, &byte, 1, (off_t) at) != 1)
                tap_bail_out("open pack");
        byte ^= 0x01;
        if (pwrite(fd, &byte, 1, (off_t) at) != 1)
                tap_bail_out("pwrite");
        close(fd);
        store_free(s);

        if (store_open(dir, false, &s) < 0)
                tap_bail_out("store_open");
        size_t out_size = MAX(victim->size, b->chunks[0].size);
        _cleanup_free_ uint8_t *out = calloc(1, out_size);
        check_eq(store_read_chunk(s, victim, out), -EBADMSG, "a chunk with one flipped bit reads as -EBADMSG");
        check(store_read_chunk(s, &b->chunks[0], out) == 0 && memcmp(out, buf, b->chunks[0].size) == 0,
              "its neighbour still reads");
        void *all = NULL;
        size_t m;
        check_eq(store_read_blob(s, &id, n, &all, &m), -EBADMSG, "reading the whole blob is -EBADMSG");
        free(all);
        store_free(s);
}

/* The compressor's noise test: it spares zstd noise, never text, and
 * says nothing about inputs too small to sample. */
static void test_noise_test(uint64_t *state) {
        const size_t n = 128u << 10;
        _cleanup_free_ uint8_t *noise = random_bytes(state, n);
        _cleanup_free_ uint8_t *text = text_bytes(state, n);
        _cleanup_free_ uint8_t *half = random_bytes(state, n);
        memcpy(half + n / 2, text, n / 2);
        check(compressor_looks_incompressible(noise, n), "128 KiB of noise looks incompressible");
        check(!compressor_looks_incompressible(text, n), "128 KiB of text does not");
        check(!compressor_looks_incompressible(half, n), "noise with text in its second half does not");
        check(!compressor_looks_incompressible(noise, 8191), "fewer than 8 KiB are never judged");
        _cleanup_(compressor_freep) Compressor *c = compressor_new(COMPRESSOR_BULK);
        const void *out;
        size_t k = 0;
        check(c && compressor_run(c, noise, n, &out, &k) == 0, "noise is stored raw");
        int r = c ? compressor_run(c, half, n, &out, &k) : -ENOMEM;
        check(r == 1 && k < n - n / 4, "half noise, half text is compressed (%zu of %zu bytes)", k, n);
}

/* Which chunking a blob gets from its first MiB: noise all the way is cut
 * coarse (and a compressible part after it is still compressed), noise
 * with text inside the first MiB keeps fine chunks. */
static void test_noise_policy(const char *dir, uint64_t *state) {
        const size_t noise = (3u << 20) / 2, text = 2u << 20;
        _cleanup_free_ uint8_t *a = random_bytes(state, noise + text);
        _cleanup_free_ uint8_t *t_a = text_bytes(state, text);
        memcpy(a + noise, t_a, text); /* 1.5 MiB of noise, then text */
        _cleanup_free_ uint8_t *b = random_bytes(state, noise + text);
        _cleanup_free_ uint8_t *t_b = text_bytes(state, 256u << 10);
        memcpy(b + (512u << 10), t_b, 256u << 10); /* text inside the first MiB */

        Store *s = NULL;
        StoreTxn *t = NULL;
        if (store_open(dir, true, &s) < 0 || store_begin(s, &t) < 0)
                tap_bail_out("store_open/begin");
        ObjectId id_a, id_b;
        check(write_blob(t, state, a, noise + text, &id_a, NULL, NULL) == 0 &&
                      write_blob(t, state, b, noise + text, &id_b, NULL, NULL) == 0 && store_txn_commit(t) == 0,
              "two blobs that start with noise commit");
        size_t n_chunks = 0;
        bool ok = blob_matches(s, &id_a, a, noise + text, &CHUNKER_COARSE, &n_chunks, "noise first");
        check(ok && n_chunks >= 1, "a blob whose first MiB is noise is cut coarse (%zu chunks)", n_chunks);
        _cleanup_(blob_freep) Blob *blob = NULL;
        ObjectLocation loc;
        bool last_zstd = store_open_blob(s, &id_a, &blob) == 0 &&
                         store_lookup(s, &blob->chunks[blob->n_chunks - 1].id, &loc) == 0 &&
                         loc.compression == PACK_COMPRESSION_ZSTD;
        check(last_zstd, "its text-only last chunk is still stored compressed");
        ok = blob_matches(s, &id_b, b, noise + text, &CHUNKER_FINE, &n_chunks, "text inside");
        check(ok && n_chunks > 4, "a blob with text inside its first MiB keeps fine chunks (%zu)", n_chunks);
        store_free(s);
}

int main(void) {
        uint64_t seed = test_seed(), state = seed;
        tap_diag("seed %" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);

        _cleanup_free_ char *tmp = make_temp_dir("store");
        test_init_open(tmp);

        _cleanup_free_ char *dir = path_join(tmp, "s1");
        if (store_init(dir) < 0)
                tap_bail_out("store_init");
        test_blobs(dir, &state);
        test_noise_test(&state);
        test_noise_policy(dir, &state);
        test_json(dir);
        test_abort(tmp, &state);
        test_damaged_chunk(tmp, &state);

        rm_rf(tmp);
        return tap_done_testing();
}
