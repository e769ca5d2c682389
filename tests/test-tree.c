/* SPDX-License-Identifier: Apache-2.0 */
/* Trees: the canonical encoding (same entries in any order give the same
 * bytes and id; the bytes are the documented layout; decode inverts encode
 * and refuses anything non-canonical), and the tree builder on a real
 * temporary store (put, write, look up; REPLACE and MERGE conflicts). */
#include "tree.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "object-id.h"
#include "store.h"
#include "tap.h"
#include "test-util.h"
#include "tree-builder.h"
#include "tree-format.h"

static ObjectId id_of(const char *s) {
        ObjectId id;
        object_id_hash(s, strlen(s), &id);
        return id;
}

/* ---- canonical encoding ---- */

typedef struct Ent {
        const char *name;
        uint8_t kind;
        uint32_t mode;
        uint64_t size;
} Ent;

/* Bytewise order matters: 'B' < 'a', '-' < '.' < 'a', "a" < "a-b" < "ab",
 * and bytes >= 0x80 sort after ASCII. */
static const Ent ents[] = {
        { "zeta", TREE_ENTRY_FILE, 0644, 10 },
        { "a", TREE_ENTRY_DIR, 0755, 1234 },
        { "ab", TREE_ENTRY_FILE, 0600, 0 },
        { "a-b", TREE_ENTRY_SYMLINK, 0777, 5 },
        { "a.b", TREE_ENTRY_FILE, 04755, 99 },
        { "B", TREE_ENTRY_FILE, 0444, 1 },
        { "\xc3\xa9t\xc3\xa9", TREE_ENTRY_FILE, 0644, 7 },      /* "été" */
        { "...", TREE_ENTRY_FILE, 0644, 3 },
        { ".hidden", TREE_ENTRY_DIR, 0700, 0 },
        { "0", TREE_ENTRY_FILE, 0644, UINT64_C(1) << 40 },
        { "with space", TREE_ENTRY_FILE, 0644, 11 },
        { "x\x01y", TREE_ENTRY_FILE, 0644, 12 },
};
#define N_ENTS ELEMENTSOF(ents)

static Tree *build(const size_t *perm) {
        Tree *t = tree_new();
        if (!t)
                tap_bail_out("oom");
        for (size_t i = 0; i < N_ENTS; i++) {
                const Ent *e = &ents[perm[i]];
                ObjectId id = id_of(e->name);
                if (tree_add(t, e->name, e->kind, e->mode, e->size, &id) < 0)
                        tap_bail_out("tree_add(%s) failed", e->name);
        }
        return t;
}

static void shuffle(uint64_t *state, size_t *perm, size_t n) {
        for (size_t i = n; i > 1; i--) {
                size_t j = splitmix64(state) % i;
                size_t tmp = perm[i - 1];
                perm[i - 1] = perm[j];
                perm[j] = tmp;
        }
}

/* The encoding written out by hand from tree-format.h, for sorted ents. */
static uint8_t *reference_encoding(const Ent *const *sorted, size_t n, size_t *ret_size) {
        size_t size = 16;
        for (size_t i = 0; i < n; i++)
                size += 48 + strlen(sorted[i]->name);
        uint8_t *b = calloc(1, size), *p = b;
        le32_write(p, 0x544c5349u);
        le32_write(p + 4, 1);
        le32_write(p + 8, (uint32_t) n);
        le32_write(p + 12, 0);
        p += 16;
        for (size_t i = 0; i < n; i++) {
                const Ent *e = sorted[i];
                size_t len = strlen(e->name);
                ObjectId id = id_of(e->name);
                p[0] = e->kind;
                p[1] = 0;
                le16_write(p + 2, (uint16_t) len);
                le32_write(p + 4, e->mode);
                le64_write(p + 8, e->size);
                memcpy(p + 16, id.bytes, 32);
                memcpy(p + 48, e->name, len);
                p += 48 + len;
        }
        *ret_size = size;
        return b;
}

static int cmp_ent(const void *a, const void *b) {
        return strcmp((*(const Ent *const *) a)->name, (*(const Ent *const *) b)->name);
}

static void test_canonical(uint64_t *state) {
        size_t perm[N_ENTS];
        for (size_t i = 0; i < N_ENTS; i++)
                perm[i] = i;

        _cleanup_free_ void *first = NULL;
        size_t first_size = 0;
        ObjectId first_id = {};
        bool same = true;
        for (unsigned round = 0; round < 20; round++) {
                if (round > 0)
                        shuffle(state, perm, N_ENTS);
                _cleanup_(tree_freep) Tree *t = build(perm);
                if (tree_sort(t) < 0)
                        tap_bail_out("tree_sort");
                _cleanup_free_ void *buf = NULL;
                size_t n;
                if (tree_encode(t, &buf, &n) < 0)
                        tap_bail_out("tree_encode");
                ObjectId id;
                object_id_hash(buf, n, &id);
                if (round == 0) {
                        first = TAKE_PTR(buf);
                        first_size = n;
                        first_id = id;
                } else if (n != first_size || memcmp(buf, first, n) != 0 || !object_id_equal(&id, &first_id)) {
                        tap_diag("round %u: encoding differs", round);
                        same = false;
                }
        }
        check(same, "the same %zu entries added in 20 orders encode to the same bytes and id %.16s", N_ENTS,
              object_id_hex(&first_id));

        const Ent *sorted[N_ENTS];
        for (size_t i = 0; i < N_ENTS; i++)
                sorted[i] = &ents[i];
        qsort(sorted, N_ENTS, sizeof sorted[0], cmp_ent);
        size_t ref_size;
        _cleanup_free_ uint8_t *ref = reference_encoding(sorted, N_ENTS, &ref_size);
        check(ref_size == first_size && memcmp(ref, first, ref_size) == 0,
              "the encoding is byte for byte the layout of tree-format.h, entries in bytewise order");

        /* decode(encode(t)) == t */
        _cleanup_(tree_freep) Tree *d = NULL;
        int r = tree_decode(first, first_size, &d);
        check_eq(r, 0, "decode of the canonical encoding");
        bool equal = d && d->n_entries == N_ENTS;
        for (size_t i = 0; equal && i < N_ENTS; i++) {
                const TreeEntry *e = &d->entries[i];
                ObjectId id = id_of(sorted[i]->name);
                equal = strcmp(e->name, sorted[i]->name) == 0 && e->kind == sorted[i]->kind &&
                        e->mode == sorted[i]->mode && e->size == sorted[i]->size && object_id_equal(&e->id, &id);
        }
        check(equal, "decode(encode(t)) has every entry, field for field, in order");
        if (d) {
                _cleanup_free_ void *again = NULL;
                size_t n;
                check(tree_encode(d, &again, &n) == 0 && n == first_size && memcmp(again, first, n) == 0,
                      "encode(decode(bytes)) == bytes");
                const TreeEntry *f = tree_find(d, "a.b");
                check(f && f->mode == 04755 && f->size == 99, "tree_find finds a.b");
                check(tree_find(d, "a.") == NULL && tree_find(d, "zz") == NULL && tree_find(d, "") == NULL,
                      "tree_find of absent names is NULL");
                uint64_t total = 0;
                for (size_t i = 0; i < N_ENTS; i++)
                        total += ents[i].size;
                check_eq(tree_total_size(d), total, "tree_total_size sums the entries");
        }

        /* The empty tree. */
        Tree empty = {};
        _cleanup_free_ void *eb = NULL;
        size_t en;
        _cleanup_(tree_freep) Tree *ed = NULL;
        check(tree_encode(&empty, &eb, &en) == 0 && en == TREE_HEADER_SIZE && tree_decode(eb, en, &ed) == 0 &&
                      ed->n_entries == 0,
              "the empty tree encodes to a bare header and decodes back");
        ObjectId eid, want;
        tree_empty_id(&eid);
        object_id_hash(eb, en, &want);
        check(object_id_equal(&eid, &want), "tree_empty_id is the id of that encoding");

        /* A different mode, size, kind or id gives a different id. */
        _cleanup_(tree_freep) Tree *t2 = build(perm);
        t2->entries[3].mode ^= 1;
        tree_sort(t2);
        _cleanup_free_ void *b2 = NULL;
        size_t n2;
        tree_encode(t2, &b2, &n2);
        check(n2 == first_size && memcmp(b2, first, n2) != 0, "changing one mode bit changes the encoding");
}

static void test_add_and_sort(void) {
        _cleanup_(tree_freep) Tree *t = tree_new();
        ObjectId id = id_of("x");
        char long_name[TREE_NAME_MAX + 2];
        memset(long_name, 'n', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = 0;

        check_eq(tree_add(t, "", TREE_ENTRY_FILE, 0644, 0, &id), -EINVAL, "tree_add refuses \"\"");
        check_eq(tree_add(t, ".", TREE_ENTRY_FILE, 0644, 0, &id), -EINVAL, "tree_add refuses \".\"");
        check_eq(tree_add(t, "..", TREE_ENTRY_DIR, 0755, 0, &id), -EINVAL, "tree_add refuses \"..\"");
        check_eq(tree_add(t, "a/b", TREE_ENTRY_FILE, 0644, 0, &id), -EINVAL, "tree_add refuses \"a/b\"");
        check_eq(tree_add(t, long_name, TREE_ENTRY_FILE, 0644, 0, &id), -EINVAL, "tree_add refuses 256 bytes");
        check_eq(tree_add(t, "k", 0, 0644, 0, &id), -EINVAL, "tree_add refuses kind 0");
        check_eq(tree_add(t, "k", 4, 0644, 0, &id), -EINVAL, "tree_add refuses kind 4");
        check_eq(t->n_entries, 0, "refused entries are not added");
        long_name[TREE_NAME_MAX] = 0;
        check_eq(tree_add(t, long_name, TREE_ENTRY_FILE, 0644, 0, &id), 0, "tree_add takes a 255-byte name");
        check(tree_name_valid("..a") && tree_name_valid(".a") && tree_name_valid("a..") && !tree_name_valid("/"),
              "tree_name_valid: '..a', '.a', 'a..' valid, '/' not");
        check(tree_add(t, "dup", TREE_ENTRY_FILE, 0644, 0, &id) == 0 &&
                      tree_add(t, "dup", TREE_ENTRY_DIR, 0755, 0, &id) == 0,
              "tree_add does not check duplicates itself");
        check_eq(tree_sort(t), -EEXIST, "tree_sort reports a duplicate name as -EEXIST");
}

/* Raw encoder for malformed trees: entries as given, no checks. */
typedef struct RawEnt {
        const char *name;
        size_t name_len;        /* 0: strlen */
        uint8_t kind;
        uint8_t reserved;
        uint32_t mode;
} RawEnt;

static uint8_t *raw_encode(const RawEnt *e, size_t n, uint32_t version, uint32_t count, uint32_t flags,
                           size_t *ret_size) {
        size_t size = 16;
        for (size_t i = 0; i < n; i++)
                size += 48 + (e[i].name_len ? e[i].name_len : strlen(e[i].name));
        uint8_t *b = calloc(1, size), *p = b;
        le32_write(p, TREE_MAGIC);
        le32_write(p + 4, version);
        le32_write(p + 8, count);
        le32_write(p + 12, flags);
        p += 16;
        for (size_t i = 0; i < n; i++) {
                size_t len = e[i].name_len ? e[i].name_len : strlen(e[i].name);
                ObjectId id = id_of("x");
                p[0] = e[i].kind;
                p[1] = e[i].reserved;
                le16_write(p + 2, (uint16_t) len);
                le32_write(p + 4, e[i].mode);
                le64_write(p + 8, 1);
                memcpy(p + 16, id.bytes, 32);
                memcpy(p + 48, e[i].name, len);
                p += 48 + len;
        }
        *ret_size = size;
        return b;
}

static int decode_raw(const RawEnt *e, size_t n) {
        size_t size;
        _cleanup_free_ uint8_t *b = raw_encode(e, n, TREE_VERSION, (uint32_t) n, 0, &size);
        _cleanup_(tree_freep) Tree *t = NULL;
        return tree_decode(b, size, &t);
}

#define F(nm) { .name = nm, .kind = TREE_ENTRY_FILE, .mode = 0644 }

static void test_decode_rejects(void) {
        {
                RawEnt ok[] = { F("a"), F("b"), F("c") };
                check_eq(decode_raw(ok, 3), 0, "decode accepts a well-formed raw encoding (the control)");
        }
        {
                RawEnt e[] = { F("b"), F("a") };
                check_eq(decode_raw(e, 2), -EBADMSG, "decode rejects unsorted entries");
        }
        {
                RawEnt e[] = { F("a"), F("a") };
                check_eq(decode_raw(e, 2), -EBADMSG, "decode rejects duplicate names");
        }
        {
                RawEnt e[] = { F("B"), F("a"), F("a-b"), F("ab") };
                check_eq(decode_raw(e, 4), 0, "decode accepts bytewise order (B < a < a-b < ab)");
                RawEnt f[] = { F("a"), F("B") };
                check_eq(decode_raw(f, 2), -EBADMSG, "decode rejects case-insensitive order (a before B)");
        }
        static const char *const bad_names[] = { ".", "..", "a/b", "/" };
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                RawEnt e[] = { F(bad_names[i]) };
                check_eq(decode_raw(e, 1), -EBADMSG, "decode rejects the name \"%s\"", bad_names[i]);
        }
        {
                /* Length 0: an empty name. */
                size_t size;
                RawEnt e[] = { F("a") };
                _cleanup_free_ uint8_t *b = raw_encode(e, 1, TREE_VERSION, 1, 0, &size);
                le16_write(b + 16 + 2, 0);
                _cleanup_(tree_freep) Tree *t = NULL;
                check(tree_decode(b, size - 1, &t) == -EBADMSG, "decode rejects the empty name \"\"");
        }
        {
                RawEnt e[] = { { .name = "a\0b", .name_len = 3, .kind = TREE_ENTRY_FILE, .mode = 0644 } };
                check_eq(decode_raw(e, 1), -EBADMSG, "decode rejects a name holding a NUL");
        }
        for (uint8_t k = 0; k < 8; k += (k == 0 ? 4 : 1)) {
                RawEnt e[] = { { .name = "a", .kind = k, .mode = 0644 } };
                check_eq(decode_raw(e, 1), -EBADMSG, "decode rejects unknown kind %u", k);
        }
        {
                RawEnt e[] = { { .name = "a", .kind = TREE_ENTRY_FILE, .mode = 0100644 } };
                check_eq(decode_raw(e, 1), -EBADMSG, "decode rejects mode bits beyond 07777");
        }
        {
                RawEnt e[] = { { .name = "a", .kind = TREE_ENTRY_FILE, .reserved = 1, .mode = 0644 } };
                check_eq(decode_raw(e, 1), -EBADMSG, "decode rejects a non-zero reserved byte");
        }

        RawEnt e[] = { F("a"), F("bb"), F("ccc") };
        size_t size;
        _cleanup_free_ uint8_t *b = raw_encode(e, 3, TREE_VERSION, 3, 0, &size);
        bool all = true;
        for (size_t n = 0; n < size; n++) {
                _cleanup_(tree_freep) Tree *t = NULL;
                int r = tree_decode(b, n, &t);
                if (r != -EBADMSG) {
                        tap_diag("truncated to %zu of %zu bytes: %d", n, size, r);
                        all = false;
                }
        }
        check(all, "decode rejects every truncation (0..%zu bytes) with -EBADMSG", size - 1);
        {
                _cleanup_free_ uint8_t *longer = malloc(size + 1);
                memcpy(longer, b, size);
                longer[size] = 0;
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(longer, size + 1, &t), -EBADMSG, "decode rejects trailing bytes");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, TREE_VERSION, 4, 0, &size);
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(c, size, &t), -EBADMSG, "decode rejects a count larger than the entries");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, TREE_VERSION, 2, 0, &size);
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(c, size, &t), -EBADMSG, "decode rejects a count smaller than the entries");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, TREE_VERSION, UINT32_MAX, 0, &size);
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(c, size, &t), -EBADMSG, "decode rejects a huge count without allocating it");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, TREE_VERSION, 3, 0, &size);
                c[0] ^= 1;
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(c, size, &t), -EBADMSG, "decode rejects a bad magic");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, 2, 3, 0, &size);
                _cleanup_(tree_freep) Tree *t = NULL;
                check_eq(tree_decode(c, size, &t), -EPROTONOSUPPORT, "decode refuses version 2 (-EPROTONOSUPPORT)");
        }
        {
                _cleanup_free_ uint8_t *c = raw_encode(e, 3, TREE_VERSION, 3, 1, &size);
                _cleanup_(tree_freep) Tree *t = NULL;
                check(tree_decode(c, size, &t) < 0, "decode refuses unknown flags");
        }
}

/* ---- the builder, on a real store ---- */

typedef struct Fixture {
        char *dir;
        Store *store;
} Fixture;

/* Stores bytes as a blob in t; returns its id. */
static ObjectId put_blob(StoreTxn *t, const char *content) {
        ObjectId id;
        if (store_txn_put_small_blob(t, content, strlen(content), &id) < 0)
                tap_bail_out("store_txn_put_small_blob");
        return id;
}

static bool lookup_is(Store *s, const ObjectId *root, const char *path, uint8_t kind, uint32_t mode, uint64_t size,
                      const ObjectId *id) {
        TreeEntry e;
        int r = tree_lookup_path(s, root, path, &e);
        if (r < 0) {
                tap_diag("lookup %s: %s", path, strerror(-r));
                return false;
        }
        if (e.kind != kind || e.mode != mode || e.size != size || (id && !object_id_equal(&e.id, id))) {
                tap_diag("lookup %s: kind %u mode %o size %" PRIu64, path, e.kind, e.mode, e.size);
                return false;
        }
        return true;
}

static int put_file(TreeBuilder *b, const char *path, const ObjectId *id, uint64_t size, TreePutMode how) {
        return tree_builder_put(b, path, TREE_ENTRY_FILE, 0644, size, id, how);
}

static void test_builder(Fixture *f) {
        Store *s = f->store;
        StoreTxn *t = NULL;
        if (store_begin(s, &t) < 0)
                tap_bail_out("store_begin");
        ObjectId c1 = put_blob(t, "content one\n"), c2 = put_blob(t, "content two, longer\n"),
                 c3 = put_blob(t, "three\n"), target = put_blob(t, "../x/c.txt");

        /* The same tree built in two orders. */
        ObjectId root1, root2;
        uint64_t size1 = 0, size2 = 0;
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                check_eq(tree_builder_new(s, NULL, &b), 0, "tree_builder_new (empty)");
                check(put_file(b, "x/c.txt", &c1, 12, TREE_PUT_REPLACE) == 0 &&
                              put_file(b, "x/y/z/deep", &c2, 20, TREE_PUT_REPLACE) == 0 &&
                              tree_builder_put(b, "top", TREE_ENTRY_FILE, 0755, 6, &c3, TREE_PUT_REPLACE) == 0 &&
                              tree_builder_put(b, "x/link", TREE_ENTRY_SYMLINK, 0777, 10, &target, TREE_PUT_REPLACE) == 0 &&
                              tree_builder_mkdir(b, "empty", 0700) == 0 && tree_builder_mkdir(b, "x/y", 0750) == 0,
                      "put files at nested paths, a symlink, and directories");
                check_eq(tree_builder_write(b, t, &root1, &size1), 0, "write");
                /* Entry sizes add up, a symlink's (its target length) included. */
                check_eq(size1, 12 + 20 + 6 + 10, "total size is the sum of the entry sizes");
        }
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, NULL, &b);
                tree_builder_mkdir(b, "x/y", 0750);
                tree_builder_mkdir(b, "empty", 0700);
                tree_builder_put(b, "x/link", TREE_ENTRY_SYMLINK, 0777, 10, &target, TREE_PUT_REPLACE);
                put_file(b, "x/y/z/deep", &c2, 20, TREE_PUT_REPLACE);
                tree_builder_put(b, "top", TREE_ENTRY_FILE, 0755, 6, &c3, TREE_PUT_REPLACE);
                put_file(b, "/x/c.txt", &c1, 12, TREE_PUT_REPLACE);
                check_eq(tree_builder_write(b, t, &root2, &size2), 0, "write (other order)");
        }
        check(object_id_equal(&root1, &root2), "the same paths put in another order give the same root id");

        /* Readable before commit from the writing thread. */
        check(lookup_is(s, &root1, "x/c.txt", TREE_ENTRY_FILE, 0644, 12, &c1),
              "lookup in the open transaction finds x/c.txt");
        check_eq(store_txn_commit(t), 0, "commit");

        Store *r = NULL;
        if (store_open(f->dir, false, &r) < 0)
                tap_bail_out("store_open(read)");
        check(lookup_is(r, &root1, "x/c.txt", TREE_ENTRY_FILE, 0644, 12, &c1) &&
                      lookup_is(r, &root1, "x/y/z/deep", TREE_ENTRY_FILE, 0644, 20, &c2) &&
                      lookup_is(r, &root1, "top", TREE_ENTRY_FILE, 0755, 6, &c3) &&
                      lookup_is(r, &root1, "x/link", TREE_ENTRY_SYMLINK, 0777, 10, &target),
              "after commit, another handle reads every file back with kind, mode, size and id");
        ObjectId empty;
        tree_empty_id(&empty);
        check(lookup_is(r, &root1, "empty", TREE_ENTRY_DIR, 0700, 0, &empty), "the empty directory is the empty tree");
        check(lookup_is(r, &root1, "x/y", TREE_ENTRY_DIR, 0750, 20, NULL), "x/y keeps mode 0750 and sums its size");
        check(lookup_is(r, &root1, "x", TREE_ENTRY_DIR, 0755, 42, NULL), "x was created 0755, size 12 + 20 + 10");
        TreeEntry e;
        check(tree_lookup_path(r, &root1, "", &e) == 0 && e.kind == TREE_ENTRY_DIR && object_id_equal(&e.id, &root1),
              "lookup of \"\" is the root");
        check_eq(tree_lookup_path(r, &root1, "x/nope", &e), -ENOENT, "lookup of a missing path is -ENOENT");
        check_eq(tree_lookup_path(r, &root1, "top/below", &e), -ENOTDIR, "lookup below a file is -ENOTDIR");
        store_free(r);

        /* Update from a base: only the path changes. */
        if (store_begin(s, &t) < 0)
                tap_bail_out("store_begin");
        TreeEntry x_before, y_before;
        tree_lookup_path(s, &root1, "x", &x_before);
        tree_lookup_path(s, &root1, "x/y", &y_before);
        ObjectId c4 = put_blob(t, "replaced\n");
        ObjectId root3;
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                check_eq(tree_builder_new(s, &root1, &b), 0, "tree_builder_new from a base root");
                check_eq(put_file(b, "x/c.txt", &c4, 9, TREE_PUT_REPLACE), 0, "REPLACE puts a file over a file");
                check_eq(tree_builder_write(b, t, &root3, NULL), 0, "write");
        }
        TreeEntry x_after, y_after;
        check(lookup_is(s, &root3, "x/c.txt", TREE_ENTRY_FILE, 0644, 9, &c4) &&
                      lookup_is(s, &root3, "x/y/z/deep", TREE_ENTRY_FILE, 0644, 20, &c2) &&
                      lookup_is(s, &root3, "top", TREE_ENTRY_FILE, 0755, 6, &c3),
              "the new root has the replaced file and keeps the others");
        check(tree_lookup_path(s, &root3, "x", &x_after) == 0 && tree_lookup_path(s, &root3, "x/y", &y_after) == 0 &&
                      !object_id_equal(&x_before.id, &x_after.id) && object_id_equal(&y_before.id, &y_after.id),
              "the directory on the path gets a new id, the untouched subtree x/y keeps its id");
        check(lookup_is(s, &root1, "x/c.txt", TREE_ENTRY_FILE, 0644, 12, &c1), "the old root is unchanged");

        /* A builder from a base that changes nothing gives the base back. */
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                ObjectId same;
                uint64_t sz = 0;
                tree_builder_new(s, &root1, &b);
                check(tree_builder_write(b, t, &same, &sz) == 0 && object_id_equal(&same, &root1) && sz == size1,
                      "an unchanged builder writes its base root and size");
        }
        /* Putting back the old content gives the old root id. */
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                ObjectId back;
                tree_builder_new(s, &root3, &b);
                put_file(b, "x/c.txt", &c1, 12, TREE_PUT_REPLACE);
                check(tree_builder_write(b, t, &back, NULL) == 0 && object_id_equal(&back, &root1),
                      "restoring the old content restores the old root id");
        }
        /* REPLACE: a file over a directory, and remove. */
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                ObjectId root4;
                tree_builder_new(s, &root1, &b);
                check_eq(put_file(b, "x/y", &c3, 6, TREE_PUT_REPLACE), 0, "REPLACE puts a file over a directory");
                check_eq(tree_builder_remove(b, "top"), 0, "remove top");
                check_eq(tree_builder_remove(b, "top"), -ENOENT, "remove top again is -ENOENT");
                check_eq(tree_builder_remove(b, "nope/deeper"), -ENOENT, "remove below a missing dir is -ENOENT");
                check(tree_builder_write(b, t, &root4, NULL) == 0 &&
                              lookup_is(s, &root4, "x/y", TREE_ENTRY_FILE, 0644, 6, &c3) &&
                              tree_lookup_path(s, &root4, "top", &e) == -ENOENT &&
                              tree_lookup_path(s, &root4, "x/y/z/deep", &e) == -ENOTDIR,
                      "the written tree has the file at x/y and no top");
        }
        /* Invalid paths. */
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, NULL, &b);
                check_eq(put_file(b, "a/../b", &c1, 12, TREE_PUT_REPLACE), -EINVAL, "put refuses a path with ..");
                check_eq(put_file(b, "./b", &c1, 12, TREE_PUT_REPLACE), -EINVAL, "put refuses a path with .");
                check_eq(put_file(b, "", &c1, 12, TREE_PUT_REPLACE), -EINVAL, "put refuses a file at \"\"");
                check_eq(tree_builder_put(b, "k", 9, 0644, 0, &c1, TREE_PUT_REPLACE), -EINVAL, "put refuses kind 9");
                check(put_file(b, "f", &c1, 12, TREE_PUT_REPLACE) == 0 &&
                              put_file(b, "f/under", &c2, 20, TREE_PUT_REPLACE) == -EEXIST &&
                              tree_builder_conflict(b) && strcmp(tree_builder_conflict(b), "f/under") == 0,
                      "put below a file is a conflict naming the path");
        }

        /* MERGE: identical is fine, different is a conflict naming the path;
         * directories merge. */
        ObjectId sub;
        {
                /* A tree to merge at x: new file x/new, and x/c.txt identical. */
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, NULL, &b);
                put_file(b, "c.txt", &c1, 12, TREE_PUT_REPLACE);
                put_file(b, "new", &c3, 6, TREE_PUT_REPLACE);
                if (tree_builder_write(b, t, &sub, NULL) < 0)
                        tap_bail_out("write sub");
        }
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                ObjectId merged;
                tree_builder_new(s, &root1, &b);
                check_eq(put_file(b, "x/c.txt", &c1, 12, TREE_PUT_MERGE), 0, "MERGE of an identical file is fine");
                check_eq(tree_builder_put(b, "x", TREE_ENTRY_DIR, 0755, 0, &sub, TREE_PUT_MERGE), 0,
                         "MERGE of a directory whose common file is identical");
                check(tree_builder_write(b, t, &merged, NULL) == 0 &&
                              lookup_is(s, &merged, "x/new", TREE_ENTRY_FILE, 0644, 6, &c3) &&
                              lookup_is(s, &merged, "x/c.txt", TREE_ENTRY_FILE, 0644, 12, &c1) &&
                              lookup_is(s, &merged, "x/y/z/deep", TREE_ENTRY_FILE, 0644, 20, &c2),
                      "the merged tree has both sides' files");
        }
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, &root1, &b);
                int k = put_file(b, "top", &c1, 12, TREE_PUT_MERGE);
                const char *c = tree_builder_conflict(b);
                check(k == -EEXIST && c && strcmp(c, "top") == 0, "MERGE of a different file at top: -EEXIST, conflict \"%s\"",
                      c ? c : "(null)");
        }
        {
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, &root1, &b);
                int k = tree_builder_put(b, "top", TREE_ENTRY_FILE, 0600, 6, &c3, TREE_PUT_MERGE);
                const char *c = tree_builder_conflict(b);
                check(k == -EEXIST && c && strcmp(c, "top") == 0, "MERGE of the same bytes with another mode is a conflict");
        }
        {
                /* Merge root3's tree at the root of root1: x/c.txt differs. */
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, &root1, &b);
                int k = tree_builder_put(b, "", TREE_ENTRY_DIR, 0755, 0, &root3, TREE_PUT_MERGE);
                const char *c = tree_builder_conflict(b);
                check(k == -EEXIST && c && strcmp(c, "x/c.txt") == 0,
                      "MERGE of a whole tree with a different x/c.txt: -EEXIST, conflict \"%s\"", c ? c : "(null)");
        }
        {
                /* The same merge under REPLACE takes the new file. */
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                ObjectId out;
                tree_builder_new(s, &root1, &b);
                check(tree_builder_put(b, "", TREE_ENTRY_DIR, 0755, 0, &root3, TREE_PUT_REPLACE) == 0 &&
                              tree_builder_write(b, t, &out, NULL) == 0 && object_id_equal(&out, &root3),
                      "the same put under REPLACE gives root3's tree");
        }
        {
                /* A file where the other side has a directory. */
                _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
                tree_builder_new(s, &root1, &b);
                int k = put_file(b, "x/y", &c1, 12, TREE_PUT_MERGE);
                const char *c = tree_builder_conflict(b);
                check(k == -EEXIST && c && strcmp(c, "x/y") == 0, "MERGE of a file over a directory: conflict \"%s\"",
                      c ? c : "(null)");
        }
        store_txn_abort(t);
}

int main(void) {
        uint64_t seed = test_seed(), state = seed;
        tap_diag("seed %" PRIu64 " (set ISLE_TEST_SEED to replay)", seed);

        test_canonical(&state);
        test_add_and_sort();
        test_decode_rejects();

        Fixture f = {};
        _cleanup_free_ char *tmp = make_temp_dir("tree");
        if (asprintf(&f.dir, "%s/store", tmp) < 0)
                tap_bail_out("oom");
        if (store_init(f.dir) < 0 || store_open(f.dir, true, &f.store) < 0)
                tap_bail_out("cannot make a store in %s", f.dir);
        test_builder(&f);
        store_free(f.store);
        free(f.dir);
        rm_rf(tmp);
        return tap_done_testing();
}
