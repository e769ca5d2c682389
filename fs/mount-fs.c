/* SPDX-License-Identifier: Apache-2.0 */
#include "mount-fs.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include "buffer-pool.h"
#include "log.h"
#include "mount-nodes.h"
#include "object-cache.h"
#include "prefetch.h"
#include "refs.h"

/* Data flow of a read: the kernel looks a path up one name at a time
 * (lookup_child: catalog for the top level, cached decoded trees below),
 * each answer naming a node of the MountNodes table by its address;
 * open() turns a file node into its Blob (chunk list, and where each chunk
 * is stored), kept in an OpenFile in fi->fh; read() maps the byte range
 * onto chunks and replies with an iovec over pinned entries of the chunk
 * cache, which loads (pread, CRC-32, decompress) whatever is missing, once,
 * however many readers want it. A read that continues where the last one
 * ended also queues the chunks of the next few MiB on the prefetch pool. */

#define TIMEOUT_LONG 86400.0    /* stored content: never changes */
#define TIMEOUT_SHORT 0.5       /* the top level, which does */
#define XATTR_DIGEST "user.isle.digest"
#define DIGEST_LEN (sizeof "sha256:" - 1 + 2 * OBJECT_ID_SIZE)
#define TREE_CACHE_MIN (4u << 20)
#define IDLE_BUFFERS_MAX (16u << 20)
#define SYMLINK_MAX 4096
#define IOV_ON_STACK 64
#define FILE_BLKSIZE (128u << 10)
#define PREFETCH_AHEAD (4u << 20)       /* bytes queued ahead of a sequential reader */
#define PREFETCH_SLACK (1u << 20)       /* how far from the last end a read still counts as sequential */
#define PAGE_TABLE_CACHE_MIN (1u << 20)
#define PREFETCH_QUEUE 1024
#define PREFETCH_THREADS 2              /* a disk read and a decompression in flight at once */

struct MountFs {
        Store *store;
        MountNodes *nodes;
        ObjectCache *chunks;    /* chunk id -> ChunkData, verified */
        ObjectCache *trees;     /* tree id -> Tree */
        ObjectCache *pages;     /* chunk id -> PageTable, of chunks stored PAGED */
        BufferPool *buffers;    /* where ChunkData live */
        Prefetch *prefetch;
        struct fuse_session *session;
        uid_t uid;
        gid_t gid;
        /* Only the thread calling mount_fs_refresh() touches these. */
        uint64_t sequence;
        bool sequence_known;
        /* Lock order: statfs_lock, then LMDB. Held while scanning, so that
         * concurrent statfs calls after a change scan once. */
        pthread_mutex_t statfs_lock;
        bool statfs_valid;                      /* protected by statfs_lock */
        uint64_t statfs_sequence;               /* protected by statfs_lock */
        uint64_t logical_bytes, objects;        /* protected by statfs_lock */
        atomic_uint_fast64_t reads, read_bytes, lookups, damaged, part_reads;
};

/* A cached chunk: its size travels with the bytes, so a recipe that names a
 * known chunk with a wrong size is caught instead of read past. */
typedef struct ChunkData {
        uint32_t size;
        uint8_t bytes[];
} ChunkData;

/* ---- small helpers ---- */

static MountNode *node_of(MountFs *fs, fuse_ino_t ino) {
        if (ino == FUSE_ROOT_ID)
                return mount_nodes_fixed(fs->nodes, MOUNT_NODE_ROOT);
        return (MountNode *) (uintptr_t) ino;
}

static fuse_ino_t ino_of(const MountNode *n) {
        return n->key.kind == MOUNT_NODE_ROOT ? FUSE_ROOT_ID : (fuse_ino_t) (uintptr_t) n;
}

static bool node_is_dir(const MountNode *n) {
        switch (n->key.kind) {
        case MOUNT_NODE_CURRENT:
        case MOUNT_NODE_LATEST:
        case MOUNT_NODE_FILE:
        case MOUNT_NODE_SYMLINK:
                return false;
        default:
                return true;
        }
}

static bool node_has_tree(const MountNode *n) {
        return n->key.kind == MOUNT_NODE_DIR || n->key.kind == MOUNT_NODE_GENERATION ||
               n->key.kind == MOUNT_NODE_REVISION;
}

/* What the kernel gets for a failure to read stored objects: damage and
 * missing objects are I/O errors; running out of memory stays what it is. */
static int object_error(int r) {
        return r == -ENOMEM ? -ENOMEM : -EIO;
}

static double entry_timeout(const MountNode *n) {
        switch (n->key.kind) {
        case MOUNT_NODE_CURRENT:
        case MOUNT_NODE_BUNDLE:
        case MOUNT_NODE_LATEST:
        case MOUNT_NODE_GENERATION:
        case MOUNT_NODE_REVISION:
                return TIMEOUT_SHORT;
        default:
                return TIMEOUT_LONG;
        }
}

/* Canonical decimal (no sign, no leading zero), 1..max; -ENOENT otherwise:
 * a name that is not a number is simply not there. */
static int parse_number(const char *s, uint64_t max, uint64_t *ret) {
        if (s[0] < '1' || s[0] > '9' || strlen(s) > 20)
                return -ENOENT;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -ENOENT;
                unsigned d = (unsigned) (*p - '0');
                if (v > (max - d) / 10)
                        return -ENOENT;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int begin_read(MountFs *fs, CatalogTxn **ret) {
        int r = catalog_begin(store_catalog(fs->store), false, ret);
        if (r < 0)
                return log_error_errno(r, "cannot read the catalog of %s", store_path(fs->store)), -EIO;
        return 0;
}

/* The root tree of a revision or generation record. */
static int record_root(MountFs *fs, const ObjectId *record, const char *type, ObjectId *ret) {
        json_t *j;
        int r = refs_read_record(fs->store, record, type, &j);
        if (r >= 0) {
                r = json_get_id(j, "root", ret);
                json_decref(j);
        }
        if (r < 0) {
                char hex[OBJECT_ID_HEX_SIZE];
                log_error_errno(r, "%s record %s cannot be read", type, object_id_to_hex(record, hex));
                return object_error(r);
        }
        return 0;
}

static void link_target(const MountNode *n, char buf[static 48]) {
        if (n->key.kind == MOUNT_NODE_CURRENT)
                snprintf(buf, 48, "generations/%" PRIu64, n->key.number);
        else
                snprintf(buf, 48, "%" PRIu64, n->key.number);
}

/* ---- caches ---- */

static void tree_free_value(void *value, size_t charge, void *userdata) {
        tree_free(value);
}

static int tree_load(const ObjectId *id, void *userdata, void **ret_value, size_t *ret_charge) {
        MountFs *fs = userdata;
        Tree *t;
        int r = store_read_tree(fs->store, id, &t);
        if (r < 0) {
                char hex[OBJECT_ID_HEX_SIZE];
                if (r == -EBADMSG)
                        atomic_fetch_add(&fs->damaged, 1);
                return log_error_errno(r, "tree %s cannot be read", object_id_to_hex(id, hex));
        }
        size_t charge = sizeof *t + t->n_entries * sizeof(TreeEntry);
        for (size_t i = 0; i < t->n_entries; i++)
                charge += strlen(t->entries[i].name) + 1 + 16; /* + malloc's overhead, roughly */
        *ret_value = t;
        *ret_charge = charge;
        return 0;
}

static int tree_get(MountFs *fs, const ObjectId *id, ObjectCacheEntry **ret) {
        int r = object_cache_get(fs->trees, id, tree_load, fs, ret);
        return r < 0 ? object_error(r) : 0;
}

/* An open file: the blob, located, for reads and for prefetch jobs. */
typedef struct OpenFile {
        atomic_uint refs;               /* the file handle's, plus one per queued prefetch job */
        Blob *blob;
        atomic_uint_fast64_t next;      /* where the latest read ended */
        atomic_uint_fast64_t ahead;     /* chunks below this have been queued */
} OpenFile;

static OpenFile *open_file_unref(OpenFile *f) {
        if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
                blob_free(f->blob);
                free(f);
        }
        return NULL;
}

typedef struct ChunkLoad {
        MountFs *fs;
        const Blob *blob;
        size_t index;
} ChunkLoad;

static int chunk_load(const ObjectId *id, void *userdata, void **ret_value, size_t *ret_charge) {
        ChunkLoad *l = userdata;
        const BlobChunk *chunk = &l->blob->chunks[l->index];
        size_t capacity;
        ChunkData *d = buffer_pool_get(l->fs->buffers, sizeof *d + chunk->size, &capacity);
        if (!d)
                return -ENOMEM;
        d->size = chunk->size;
        int r = store_read_blob_chunk(l->fs->store, l->blob, l->index, STORE_VERIFY_CHECKSUM, d->bytes);
        if (r < 0) {
                buffer_pool_release(l->fs->buffers, d, capacity);
                char b[OBJECT_ID_HEX_SIZE], c[OBJECT_ID_HEX_SIZE];
                if (r == -EBADMSG) {
                        atomic_fetch_add(&l->fs->damaged, 1);
                        log_error("blob sha256:%s: chunk sha256:%s (at offset %" PRIu64 ", %" PRIu32
                                  " bytes) is damaged in the store: its stored bytes do not match its digest; "
                                  "reads of it fail with EIO (run `isle fsck`)",
                                  object_id_to_hex(&l->blob->id, b), object_id_to_hex(id, c), chunk->offset,
                                  chunk->size);
                } else
                        log_error_errno(r, "blob sha256:%s: cannot read chunk sha256:%s",
                                        object_id_to_hex(&l->blob->id, b), object_id_to_hex(id, c));
                return r;
        }
        *ret_value = d;
        *ret_charge = capacity; /* what it costs, and what gives it back */
        return 0;
}

/* ---- nodes ---- */

static int key_from_tree_entry(const TreeEntry *e, MountNodeKey *ret) {
        switch (e->kind) {
        case TREE_ENTRY_DIR:
                *ret = (MountNodeKey) { .kind = MOUNT_NODE_DIR, .id = e->id };
                return 0;
        case TREE_ENTRY_FILE:
                *ret = (MountNodeKey) { .kind = MOUNT_NODE_FILE, .mode = e->mode & 0111 ? 0555 : 0444, .id = e->id };
                return 0;
        case TREE_ENTRY_SYMLINK:
                *ret = (MountNodeKey) { .kind = MOUNT_NODE_SYMLINK, .mode = e->mode & 07777, .id = e->id };
                return 0;
        default:
                return -EIO; /* tree_decode() refuses unknown kinds */
        }
}

static mode_t key_type(const MountNodeKey *k) {
        switch (k->kind) {
        case MOUNT_NODE_FILE:
                return S_IFREG;
        case MOUNT_NODE_CURRENT:
        case MOUNT_NODE_LATEST:
        case MOUNT_NODE_SYMLINK:
                return S_IFLNK;
        default:
                return S_IFDIR;
        }
}

static void node_stat(MountFs *fs, const MountNode *n, struct stat *st) {
        *st = (struct stat) {
                .st_ino = n->ino,
                .st_nlink = 1, /* for directories too: "unknown", so find does not count on it */
                .st_uid = fs->uid,
                .st_gid = fs->gid,
                .st_blksize = FILE_BLKSIZE,
                .st_atim.tv_sec = 1,
                .st_mtim.tv_sec = 1,
                .st_ctim.tv_sec = 1,
        };
        switch (n->key.kind) {
        case MOUNT_NODE_FILE:
                st->st_mode = S_IFREG | n->key.mode;
                st->st_size = (off_t) n->size;
                break;
        case MOUNT_NODE_SYMLINK:
                st->st_mode = S_IFLNK | n->key.mode;
                st->st_size = (off_t) n->size;
                break;
        case MOUNT_NODE_CURRENT:
        case MOUNT_NODE_LATEST: {
                char target[48];
                link_target(n, target);
                st->st_mode = S_IFLNK | 0777;
                st->st_size = (off_t) strlen(target);
                break;
        }
        default:
                st->st_mode = S_IFDIR | 0555;
                break;
        }
        st->st_blocks = (st->st_size + 511) / 512;
}

static void node_entry(MountFs *fs, const MountNode *n, struct fuse_entry_param *e) {
        *e = (struct fuse_entry_param) {
                .ino = ino_of(n),
                .attr_timeout = TIMEOUT_LONG, /* a node's attributes never change */
                .entry_timeout = entry_timeout(n),
        };
        node_stat(fs, n, &e->attr);
}

/* blobs/sha256/HEX: any object that is a file's bytes. */
static int blob_key(MountFs *fs, const char *name, MountNodeKey *ret, uint64_t *ret_size) {
        if (strlen(name) != 2 * OBJECT_ID_SIZE || strspn(name, "0123456789abcdef") != 2 * OBJECT_ID_SIZE)
                return -ENOENT;
        ObjectId id;
        if (object_id_from_hex(name, &id) < 0)
                return -ENOENT;
        ObjectLocation loc;
        int r = store_lookup(fs->store, &id, &loc);
        if (r < 0)
                return r == -ENOENT ? -ENOENT : -EIO;
        if (loc.type != OBJECT_RECIPE && loc.type != OBJECT_CHUNK)
                return -ENOENT;
        *ret = (MountNodeKey) { .kind = MOUNT_NODE_FILE, .mode = 0444, .id = id };
        *ret_size = loc.size;
        return 0;
}

/* Looks a name up in a directory node; on success the child node carries
 * one more reference, which the caller hands to the kernel or drops. */
static int lookup_child(MountFs *fs, const MountNode *dir, const char *name, MountNode **ret) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        MountNodeKey key = {};
        uint64_t size = 0;
        ObjectId tree;
        const ObjectId *with_tree = NULL;
        int r;

        switch (dir->key.kind) {
        case MOUNT_NODE_ROOT:
                if (strcmp(name, "current") == 0) {
                        if ((r = begin_read(fs, &t)) < 0)
                                return r;
                        r = refs_current(t, &key.number);
                        if (r < 0)
                                return r == -ENOENT ? -ENOENT : -EIO;
                        key.kind = MOUNT_NODE_CURRENT;
                } else if (strcmp(name, "generations") == 0)
                        key.kind = MOUNT_NODE_GENERATIONS;
                else if (strcmp(name, "bundles") == 0)
                        key.kind = MOUNT_NODE_BUNDLES;
                else if (strcmp(name, "blobs") == 0)
                        key.kind = MOUNT_NODE_BLOBS;
                else
                        return -ENOENT;
                break;

        case MOUNT_NODE_BLOBS:
                if (strcmp(name, "sha256") != 0)
                        return -ENOENT;
                key.kind = MOUNT_NODE_BLOBS_SHA256;
                break;

        case MOUNT_NODE_BLOBS_SHA256:
                r = blob_key(fs, name, &key, &size);
                if (r < 0)
                        return r;
                break;

        case MOUNT_NODE_GENERATIONS:
                key.kind = MOUNT_NODE_GENERATION;
                if (parse_number(name, UINT64_MAX, &key.number) < 0)
                        return -ENOENT;
                if ((r = begin_read(fs, &t)) < 0)
                        return r;
                r = catalog_get_generation(t, key.number, &key.id);
                if (r < 0)
                        return r == -ENOENT ? -ENOENT : -EIO;
                t = catalog_abort(t);
                if (mount_nodes_ref_existing(fs->nodes, &key, ret) > 0)
                        return 0;
                r = record_root(fs, &key.id, "generation", &tree);
                if (r < 0)
                        return r;
                with_tree = &tree;
                break;

        case MOUNT_NODE_BUNDLES: {
                if (!bundle_name_valid(name))
                        return -ENOENT;
                if ((r = begin_read(fs, &t)) < 0)
                        return r;
                uint32_t latest;
                r = catalog_latest_revision(t, name, &latest);
                if (r < 0)
                        return r == -ENOENT ? -ENOENT : -EIO;
                key = (MountNodeKey) { .kind = MOUNT_NODE_BUNDLE, .name = name };
                break;
        }

        case MOUNT_NODE_BUNDLE: {
                if ((r = begin_read(fs, &t)) < 0)
                        return r;
                if (strcmp(name, "latest") == 0) {
                        uint32_t latest;
                        r = catalog_latest_revision(t, dir->key.name, &latest);
                        if (r < 0)
                                return r == -ENOENT ? -ENOENT : -EIO;
                        key = (MountNodeKey) { .kind = MOUNT_NODE_LATEST, .name = dir->key.name, .number = latest };
                        break;
                }
                key = (MountNodeKey) { .kind = MOUNT_NODE_REVISION, .name = dir->key.name };
                if (parse_number(name, UINT32_MAX, &key.number) < 0)
                        return -ENOENT;
                r = catalog_get_revision(t, dir->key.name, (uint32_t) key.number, &key.id);
                if (r < 0)
                        return r == -ENOENT ? -ENOENT : -EIO;
                t = catalog_abort(t);
                if (mount_nodes_ref_existing(fs->nodes, &key, ret) > 0)
                        return 0;
                r = record_root(fs, &key.id, "revision", &tree);
                if (r < 0)
                        return r;
                with_tree = &tree;
                break;
        }

        case MOUNT_NODE_DIR:
        case MOUNT_NODE_GENERATION:
        case MOUNT_NODE_REVISION: {
                ObjectCacheEntry *ce;
                r = tree_get(fs, &dir->tree, &ce);
                if (r < 0)
                        return r;
                const TreeEntry *e = tree_find(object_cache_entry_value(ce), name);
                if (e) {
                        r = key_from_tree_entry(e, &key);
                        size = e->size;
                }
                object_cache_release(fs->trees, ce);
                if (!e)
                        return -ENOENT;
                if (r < 0)
                        return r;
                if (key.kind == MOUNT_NODE_DIR)
                        with_tree = &key.id;
                break;
        }

        default:
                return -ENOTDIR;
        }

        r = mount_nodes_ref(fs->nodes, &key, size, with_tree, ret);
        return r < 0 ? r : 0;
}

/* ---- handlers: nodes ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn) {
        /* Parallel reads of one file (kernel readahead), lookups in one
         * directory at a time, symlink targets in the page cache (a node's
         * target never changes), attributes with listings. No POSIX ACLs:
         * without the capability the kernel answers "not supported" for
         * them itself, and `ls -l` stops asking for the rest of its run
         * instead of sending one request per file. Nothing is ever written,
         * so the kernel need not drop cached pages when it sees attributes
         * again. */
        static const unsigned wanted[] = {
                FUSE_CAP_ASYNC_READ, FUSE_CAP_PARALLEL_DIROPS, FUSE_CAP_CACHE_SYMLINKS,
                FUSE_CAP_READDIRPLUS, FUSE_CAP_READDIRPLUS_AUTO,
        };
        for (size_t i = 0; i < ELEMENTSOF(wanted); i++)
                if (conn->capable & wanted[i])
                        conn->want |= wanted[i];
        conn->want &= ~(unsigned) (FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_POSIX_ACL);
        conn->max_background = 64;
        conn->congestion_threshold = 48;
        conn->time_gran = 1000000000;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
        MountFs *fs = fuse_req_userdata(req);
        atomic_fetch_add(&fs->lookups, 1);
        MountNode *n;
        int r = lookup_child(fs, node_of(fs, parent), name, &n);
        if (r < 0)
                return (void) fuse_reply_err(req, -r);
        struct fuse_entry_param e;
        node_entry(fs, n, &e);
        if (fuse_reply_entry(req, &e) != 0)
                mount_nodes_unref(fs->nodes, n, 1); /* the kernel never got it */
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
        MountFs *fs = fuse_req_userdata(req);
        mount_nodes_unref(fs->nodes, node_of(fs, ino), nlookup);
        fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
        MountFs *fs = fuse_req_userdata(req);
        for (size_t i = 0; i < count; i++)
                mount_nodes_unref(fs->nodes, node_of(fs, forgets[i].ino), forgets[i].nlookup);
        fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        MountFs *fs = fuse_req_userdata(req);
        struct stat st;
        node_stat(fs, node_of(fs, ino), &st);
        fuse_reply_attr(req, &st, TIMEOUT_LONG);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
        MountFs *fs = fuse_req_userdata(req);
        MountNode *n = node_of(fs, ino);
        if (n->key.kind == MOUNT_NODE_CURRENT || n->key.kind == MOUNT_NODE_LATEST) {
                char target[48];
                link_target(n, target);
                return (void) fuse_reply_readlink(req, target);
        }
        if (n->key.kind != MOUNT_NODE_SYMLINK)
                return (void) fuse_reply_err(req, EINVAL);
        _cleanup_free_ char *target = NULL;
        size_t size;
        int r = store_read_blob(fs->store, &n->key.id, SYMLINK_MAX, (void **) &target, &size);
        if (r < 0) {
                char hex[OBJECT_ID_HEX_SIZE];
                if (r == -EBADMSG)
                        atomic_fetch_add(&fs->damaged, 1);
                log_error_errno(r, "symlink blob sha256:%s cannot be read", object_id_to_hex(&n->key.id, hex));
                return (void) fuse_reply_err(req, -object_error(r));
        }
        fuse_reply_readlink(req, target);
}

/* The logical size: every distinct object's uncompressed bytes, once. */
static int statfs_add(const ObjectId *id, const ObjectLocation *loc, void *userdata) {
        uint64_t *sums = userdata;
        if (object_type_is_literal(loc->type))
                sums[0] += loc->raw_size;
        sums[1]++;
        return 0;
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
        MountFs *fs = fuse_req_userdata(req);
        uint64_t bytes, objects;
        int r = 0;

        pthread_mutex_lock(&fs->statfs_lock);
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        uint64_t seq = 0;
        r = begin_read(fs, &t);
        if (r >= 0) {
                r = catalog_get_u64(t, "sequence", &seq);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0 && (!fs->statfs_valid || seq != fs->statfs_sequence)) {
                /* One scan per change of the store, in one snapshot. */
                uint64_t sums[2] = {};
                r = catalog_foreach_object(t, statfs_add, sums);
                if (r >= 0) {
                        fs->logical_bytes = sums[0];
                        fs->objects = sums[1];
                        fs->statfs_sequence = seq;
                        fs->statfs_valid = true;
                }
        }
        t = catalog_abort(t);
        bytes = fs->logical_bytes;
        objects = fs->objects;
        pthread_mutex_unlock(&fs->statfs_lock);
        if (r < 0)
                return (void) fuse_reply_err(req, EIO);

        struct statvfs sv = {
                .f_bsize = 4096,
                .f_frsize = 4096,
                .f_blocks = (bytes + 4095) / 4096,
                .f_files = objects,
                .f_namemax = TREE_NAME_MAX,
        };
        fuse_reply_statfs(req, &sv);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
        MountFs *fs = fuse_req_userdata(req);
        MountNode *n = node_of(fs, ino);
        /* Only user.* exists here. "Not supported" for the other name
         * spaces (security.selinux, ...) lets `ls -l` stop asking for them
         * after the first file, where "no data" would cost a request each. */
        if (strncmp(name, "user.", 5) != 0)
                return (void) fuse_reply_err(req, EOPNOTSUPP);
        if (n->key.kind != MOUNT_NODE_FILE || strcmp(name, XATTR_DIGEST) != 0)
                return (void) fuse_reply_err(req, ENODATA);
        if (size == 0)
                return (void) fuse_reply_xattr(req, DIGEST_LEN);
        if (size < DIGEST_LEN)
                return (void) fuse_reply_err(req, ERANGE);
        char hex[OBJECT_ID_HEX_SIZE], value[DIGEST_LEN + 1];
        snprintf(value, sizeof value, "sha256:%s", object_id_to_hex(&n->key.id, hex));
        fuse_reply_buf(req, value, DIGEST_LEN);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
        MountFs *fs = fuse_req_userdata(req);
        static const char names[] = XATTR_DIGEST; /* with its NUL: the list format */
        size_t n = node_of(fs, ino)->key.kind == MOUNT_NODE_FILE ? sizeof names : 0;
        if (size == 0)
                return (void) fuse_reply_xattr(req, n);
        if (size < n)
                return (void) fuse_reply_err(req, ERANGE);
        fuse_reply_buf(req, names, n);
}

/* ---- handlers: files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        MountFs *fs = fuse_req_userdata(req);
        MountNode *n = node_of(fs, ino);
        if (n->key.kind != MOUNT_NODE_FILE)
                return (void) fuse_reply_err(req, node_is_dir(n) ? EISDIR : EINVAL);
        if ((fi->flags & O_ACCMODE) != O_RDONLY)
                return (void) fuse_reply_err(req, EROFS);

        /* The chunk list is resolved once: the open file reads this blob to
         * its end, whatever `current` points at meanwhile. */
        _cleanup_(blob_freep) Blob *b = NULL;
        int r = store_open_blob(fs->store, &n->key.id, &b);
        if (r >= 0)
                r = store_blob_locate(fs->store, b);
        char hex[OBJECT_ID_HEX_SIZE];
        if (r < 0) {
                if (r == -EBADMSG)
                        atomic_fetch_add(&fs->damaged, 1);
                log_error_errno(r, "blob sha256:%s cannot be opened", object_id_to_hex(&n->key.id, hex));
                return (void) fuse_reply_err(req, -object_error(r));
        }
        if (b->size != n->size) {
                atomic_fetch_add(&fs->damaged, 1);
                log_error("blob sha256:%s is %" PRIu64 " bytes, but its directory entry says %" PRIu64
                          "; refusing to read it",
                          object_id_to_hex(&n->key.id, hex), b->size, n->size);
                return (void) fuse_reply_err(req, EIO);
        }
        OpenFile *f = calloc(1, sizeof *f);
        if (!f)
                return (void) fuse_reply_err(req, ENOMEM);
        atomic_init(&f->refs, 1);
        f->blob = TAKE_PTR(b);
        fi->fh = (uint64_t) (uintptr_t) f;
        fi->keep_cache = 1;     /* the bytes of a node never change */
        fi->noflush = 1;        /* nothing to flush: spare the round trip on close */
        if (fuse_reply_open(req, fi) != 0)
                open_file_unref(f); /* interrupted: no release will come */
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        open_file_unref((OpenFile *) (uintptr_t) fi->fh);
        fuse_reply_err(req, 0);
}

typedef struct PrefetchJob {
        MountFs *fs;
        OpenFile *file;
        size_t index;
} PrefetchJob;

static void prefetch_run(void *userdata) {
        PrefetchJob *j = userdata;
        ChunkLoad load = { .fs = j->fs, .blob = j->file->blob, .index = j->index };
        ObjectCacheEntry *e;
        if (object_cache_get(j->fs->chunks, &j->file->blob->chunks[j->index].id, chunk_load, &load, &e) >= 0)
                object_cache_release(j->fs->chunks, e);
        open_file_unref(j->file);
        free(j);
}

static void prefetch_drop(void *userdata) {
        PrefetchJob *j = userdata;
        open_file_unref(j->file);
        free(j);
}

/* After a read of [start, end) that ended in chunk `last`: when it carried
 * on from where the previous read ended (give or take the kernel's
 * parallel read-ahead requests), queue the chunks up to PREFETCH_AHEAD
 * bytes past it that are not queued yet. Random readers queue nothing. */
static void prefetch_after(MountFs *fs, OpenFile *f, uint64_t start, uint64_t end, size_t last) {
        const Blob *b = f->blob;
        uint64_t next = atomic_load(&f->next);
        while (next < end && !atomic_compare_exchange_weak(&f->next, &next, end))
                ;
        if (start + PREFETCH_SLACK < next || start > next + PREFETCH_SLACK)
                return;
        uint64_t until = MIN(b->size, end + PREFETCH_AHEAD);
        size_t want = blob_find_chunk(b, until - 1) + 1;
        uint64_t from = atomic_load(&f->ahead);
        do {
                if (from >= want)
                        return;
        } while (!atomic_compare_exchange_weak(&f->ahead, &from, want));
        for (size_t i = MAX((size_t) from, last + 1); i < want; i++) {
                PrefetchJob *j = malloc(sizeof *j);
                if (!j)
                        return;
                *j = (PrefetchJob) { .fs = fs, .file = f, .index = i };
                atomic_fetch_add(&f->refs, 1);
                if (!prefetch_submit(fs->prefetch, j)) {
                        prefetch_drop(j);
                        return;
                }
        }
}

static int page_table_load(const ObjectId *id, void *userdata, void **ret_value, size_t *ret_charge) {
        ChunkLoad *l = userdata;
        uint32_t *table;
        int r = store_blob_chunk_pages(l->fs->store, l->blob, l->index, &table);
        if (r < 0)
                return r;
        *ret_value = table;
        *ret_charge = 4 * (size_t) pack_paged_pages(l->blob->chunks[l->index].size) + 64;
        return 0;
}

/* A random reader's piece of a chunk stored PAGED and not in the cache:
 * just the pages it touches, checked against the chunk's page table
 * (cached), instead of the whole chunk (up to 4 MiB for one 4 KiB read).
 * Any failure, damage included, is left to the whole-chunk read, which
 * looks a stale location up again and reports damage. */
static uint8_t *read_part(MountFs *fs, const Blob *b, size_t i, uint64_t from, size_t len) {
        if (!b->locations || b->locations[i].compression != PACK_COMPRESSION_PAGED)
                return NULL;
        ChunkLoad load = { .fs = fs, .blob = b, .index = i };
        ObjectCacheEntry *e;
        if (object_cache_get(fs->pages, &b->chunks[i].id, page_table_load, &load, &e) < 0)
                return NULL;
        uint8_t *buf = malloc(len);
        if (buf && store_read_blob_chunk_part(fs->store, b, i, object_cache_entry_value(e), from, len, buf) < 0) {
                free(buf);
                buf = NULL;
        }
        object_cache_release(fs->pages, e);
        return buf;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
        MountFs *fs = fuse_req_userdata(req);
        OpenFile *f = (OpenFile *) (uintptr_t) fi->fh;
        const Blob *b = f->blob;
        if (off < 0)
                return (void) fuse_reply_err(req, EINVAL);
        if ((uint64_t) off >= b->size || size == 0)
                return (void) fuse_reply_buf(req, NULL, 0);
        uint64_t start = (uint64_t) off, end = start + MIN((uint64_t) size, b->size - start);

        size_t first = blob_find_chunk(b, start), n = blob_find_chunk(b, end - 1) - first + 1;
        struct iovec iov_stack[IOV_ON_STACK];
        ObjectCacheEntry *pins_stack[IOV_ON_STACK];
        uint8_t *parts_stack[IOV_ON_STACK] = {};
        _cleanup_free_ struct iovec *iov_heap = NULL;
        _cleanup_free_ ObjectCacheEntry **pins_heap = NULL;
        _cleanup_free_ uint8_t **parts_heap = NULL;
        struct iovec *iov = iov_stack;
        ObjectCacheEntry **pins = pins_stack;
        uint8_t **parts = parts_stack;
        if (n > IOV_ON_STACK) {
                iov = iov_heap = calloc(n, sizeof *iov);
                pins = pins_heap = calloc(n, sizeof *pins);
                parts = parts_heap = calloc(n, sizeof *parts);
                if (!iov_heap || !pins_heap || !parts_heap)
                        return (void) fuse_reply_err(req, ENOMEM);
        }
        uint64_t next = atomic_load(&f->next);
        bool random = start + PREFETCH_SLACK < next || start > next + PREFETCH_SLACK;

        /* Pin every chunk of the range, then reply from the cache's buffers.
         * All or nothing: a short read would make the kernel zero-fill the
         * rest of the page cache, i.e. serve wrong bytes. */
        size_t pinned = 0;
        int r = 0;
        for (; pinned < n; pinned++) {
                const BlobChunk *c = &b->chunks[first + pinned];
                uint64_t from = MAX(start, c->offset), to = MIN(end, c->offset + c->size);
                pins[pinned] = NULL;
                if (random && object_cache_find(fs->chunks, &c->id, &pins[pinned]) < 0 &&
                    (parts[pinned] = read_part(fs, b, first + pinned, from - c->offset, to - from))) {
                        iov[pinned] = (struct iovec) { .iov_base = parts[pinned], .iov_len = to - from };
                        atomic_fetch_add(&fs->part_reads, 1);
                        continue;
                }
                ChunkLoad load = { .fs = fs, .blob = b, .index = first + pinned };
                r = pins[pinned] ? 0 : object_cache_get(fs->chunks, &c->id, chunk_load, &load, &pins[pinned]);
                if (r < 0)
                        break;
                const ChunkData *d = object_cache_entry_value(pins[pinned]);
                if (d->size != c->size) {
                        char hb[OBJECT_ID_HEX_SIZE], hc[OBJECT_ID_HEX_SIZE];
                        atomic_fetch_add(&fs->damaged, 1);
                        log_error("blob sha256:%s: its recipe gives chunk sha256:%s as %" PRIu32
                                  " bytes, but the chunk is %" PRIu32 "; refusing to read it",
                                  object_id_to_hex(&b->id, hb), object_id_to_hex(&c->id, hc), c->size, d->size);
                        pinned++;
                        r = -EBADMSG;
                        break;
                }
                iov[pinned] = (struct iovec) { .iov_base = (uint8_t *) d->bytes + (from - c->offset),
                                               .iov_len = to - from };
        }
        if (r < 0)
                fuse_reply_err(req, -object_error(r));
        else {
                prefetch_after(fs, f, start, end, first + n - 1);
                fuse_reply_iov(req, iov, (int) n);
                atomic_fetch_add(&fs->reads, 1);
                atomic_fetch_add(&fs->read_bytes, end - start);
        }
        for (size_t i = 0; i < pinned; i++) {
                object_cache_release(fs->chunks, pins[i]);
                free(parts[i]);
        }
}

/* ---- handlers: directories ---- */

/* One entry of a top-level directory, listed from the catalog at opendir. */
typedef struct DynEntry {
        char *name;
        mode_t type;            /* S_IFDIR or S_IFLNK */
        uint64_t ino;
} DynEntry;

typedef struct DirHandle {
        ObjectCacheEntry *tree; /* tree-backed directories: the pinned tree */
        DynEntry *entries;      /* the others: sorted by name */
        size_t n_entries, allocated;
} DirHandle;

static DirHandle *dir_handle_free(MountFs *fs, DirHandle *h) {
        if (!h)
                return NULL;
        object_cache_release(fs->trees, h->tree);
        for (size_t i = 0; i < h->n_entries; i++)
                free(h->entries[i].name);
        free(h->entries);
        free(h);
        return NULL;
}

static int dyn_add(DirHandle *h, const char *name, const MountNodeKey *key) {
        if (GROW(h->entries, h->allocated, h->n_entries + 1) < 0)
                return -ENOMEM;
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        h->entries[h->n_entries++] = (DynEntry) {
                .name = copy,
                .type = key_type(key),
                .ino = mount_node_key_ino(key),
        };
        return 0;
}

static int dyn_compare(const void *a, const void *b) {
        return strcmp(((const DynEntry *) a)->name, ((const DynEntry *) b)->name);
}

static int list_generation(uint64_t gen, const ObjectId *id, void *u) {
        char name[24];
        snprintf(name, sizeof name, "%" PRIu64, gen);
        MountNodeKey key = { .kind = MOUNT_NODE_GENERATION, .number = gen, .id = *id };
        return dyn_add(u, name, &key);
}

static int list_bundle(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        DirHandle *h = u;
        /* Revisions come grouped by bundle: one entry per group. */
        if (h->n_entries > 0 && strcmp(h->entries[h->n_entries - 1].name, bundle) == 0)
                return 0;
        MountNodeKey key = { .kind = MOUNT_NODE_BUNDLE, .name = bundle };
        return dyn_add(h, bundle, &key);
}

static int list_revision(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        char name[16];
        snprintf(name, sizeof name, "%" PRIu32, rev);
        MountNodeKey key = { .kind = MOUNT_NODE_REVISION, .name = bundle, .number = rev, .id = *id };
        return dyn_add(u, name, &key);
}

/* Lists a top-level directory from one catalog snapshot. */
static int list_dynamic(MountFs *fs, const MountNode *dir, DirHandle *h) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = begin_read(fs, &t);
        if (r < 0)
                return r;
        switch (dir->key.kind) {
        case MOUNT_NODE_ROOT: {
                static const MountNodeKind fixed[] = { MOUNT_NODE_BLOBS, MOUNT_NODE_BUNDLES, MOUNT_NODE_GENERATIONS };
                static const char *const names[] = { "blobs", "bundles", "generations" };
                for (size_t i = 0; i < ELEMENTSOF(fixed) && r >= 0; i++)
                        r = dyn_add(h, names[i], &mount_nodes_fixed(fs->nodes, fixed[i])->key);
                uint64_t gen;
                if (r >= 0 && refs_current(t, &gen) >= 0) {
                        MountNodeKey key = { .kind = MOUNT_NODE_CURRENT, .number = gen };
                        r = dyn_add(h, "current", &key);
                }
                break;
        }
        case MOUNT_NODE_GENERATIONS:
                r = catalog_foreach_generation(t, list_generation, h);
                break;
        case MOUNT_NODE_BUNDLES:
                r = catalog_foreach_revision(t, NULL, list_bundle, h);
                break;
        case MOUNT_NODE_BUNDLE: {
                r = catalog_foreach_revision(t, dir->key.name, list_revision, h);
                uint32_t latest;
                if (r >= 0 && catalog_latest_revision(t, dir->key.name, &latest) >= 0) {
                        MountNodeKey key = { .kind = MOUNT_NODE_LATEST, .name = dir->key.name, .number = latest };
                        r = dyn_add(h, "latest", &key);
                }
                break;
        }
        case MOUNT_NODE_BLOBS:
                r = dyn_add(h, "sha256", &mount_nodes_fixed(fs->nodes, MOUNT_NODE_BLOBS_SHA256)->key);
                break;
        default: /* blobs/sha256: nothing is listed, everything can be looked up */
                break;
        }
        if (r < 0)
                return r == -ENOMEM ? r : -EIO;
        /* Numbers too are sorted as names, like every directory here. */
        if (h->n_entries > 1)
                qsort(h->entries, h->n_entries, sizeof *h->entries, dyn_compare);
        return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        MountFs *fs = fuse_req_userdata(req);
        MountNode *n = node_of(fs, ino);
        if (!node_is_dir(n))
                return (void) fuse_reply_err(req, ENOTDIR);
        DirHandle *h = calloc(1, sizeof *h);
        if (!h)
                return (void) fuse_reply_err(req, ENOMEM);
        int r;
        if (node_has_tree(n)) {
                r = tree_get(fs, &n->tree, &h->tree);
                /* A stored directory never changes: the kernel may keep its
                 * listing for as long as it likes. */
                fi->cache_readdir = 1;
                fi->keep_cache = 1;
        } else
                r = list_dynamic(fs, n, h);
        if (r < 0) {
                dir_handle_free(fs, h);
                return (void) fuse_reply_err(req, -r);
        }
        fi->fh = (uint64_t) (uintptr_t) h;
        if (fuse_reply_open(req, fi) != 0)
                dir_handle_free(fs, h);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        dir_handle_free(fuse_req_userdata(req), (DirHandle *) (uintptr_t) fi->fh);
        fuse_reply_err(req, 0);
}

/* Offsets: 0 ".", 1 "..", 2 + i the i-th entry; each entry carries the
 * offset of the next. With plus, entries of stored trees come with their
 * node (one reference each, given back if the reply does not arrive);
 * "." and ".." and the top level come without (node id 0: the kernel
 * looks them up when it needs them). */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi,
                           bool plus) {
        MountFs *fs = fuse_req_userdata(req);
        MountNode *dir = node_of(fs, ino);
        DirHandle *h = (DirHandle *) (uintptr_t) fi->fh;
        const Tree *tree = h->tree ? object_cache_entry_value(h->tree) : NULL;
        size_t total = 2 + (tree ? tree->n_entries : h->n_entries);
        _cleanup_free_ char *buf = malloc(size);
        /* A direntplus is at least 150 bytes: this bounds the nodes handed out. */
        size_t max_refs = size / 128 + 1, n_refs = 0;
        _cleanup_free_ MountNode **refs = plus ? calloc(max_refs, sizeof *refs) : NULL;
        if (!buf || (plus && !refs))
                return (void) fuse_reply_err(req, ENOMEM);

        size_t used = 0;
        for (uint64_t i = off < 0 ? 0 : (uint64_t) off; i < total; i++) {
                const char *name;
                struct fuse_entry_param e = {};
                MountNode *child = NULL;
                if (i < 2) {
                        name = i == 0 ? "." : "..";
                        e.attr.st_mode = S_IFDIR;
                        e.attr.st_ino = i == 0 ? dir->ino : mount_nodes_fixed(fs->nodes, MOUNT_NODE_ROOT)->ino;
                } else if (tree) {
                        const TreeEntry *te = &tree->entries[i - 2];
                        MountNodeKey key;
                        int r = key_from_tree_entry(te, &key);
                        if (r < 0)
                                return (void) fuse_reply_err(req, EIO);
                        name = te->name;
                        if (plus && n_refs < max_refs) {
                                r = mount_nodes_ref(fs->nodes, &key, te->size,
                                                    key.kind == MOUNT_NODE_DIR ? &key.id : NULL, &child);
                                if (r < 0)
                                        break;
                                node_entry(fs, child, &e);
                        } else {
                                e.attr.st_mode = key_type(&key);
                                e.attr.st_ino = mount_node_key_ino(&key);
                        }
                } else {
                        const DynEntry *de = &h->entries[i - 2];
                        name = de->name;
                        e.attr.st_mode = de->type;
                        e.attr.st_ino = de->ino;
                }
                size_t k = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t) i + 1)
                                : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t) i + 1);
                if (k > size - used) {
                        if (child)
                                mount_nodes_unref(fs->nodes, child, 1);
                        break;
                }
                used += k;
                if (child)
                        refs[n_refs++] = child;
        }
        if (fuse_reply_buf(req, buf, used) != 0)
                for (size_t i = 0; i < n_refs; i++)
                        mount_nodes_unref(fs->nodes, refs[i], 1);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
        readdir_common(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
        readdir_common(req, ino, size, off, fi, true);
}

const struct fuse_lowlevel_ops mount_fs_ops = {
        .init = op_init,
        .lookup = op_lookup,
        .forget = op_forget,
        .forget_multi = op_forget_multi,
        .getattr = op_getattr,
        .readlink = op_readlink,
        .open = op_open,
        .read = op_read,
        .release = op_release,
        .opendir = op_opendir,
        .readdir = op_readdir,
        .readdirplus = op_readdirplus,
        .releasedir = op_releasedir,
        .statfs = op_statfs,
        .getxattr = op_getxattr,
        .listxattr = op_listxattr,
};

/* ---- life cycle ---- */

static void page_table_free_value(void *value, size_t charge, void *userdata) {
        free(value);
}

static void chunk_free_value(void *value, size_t charge, void *userdata) {
        buffer_pool_release(userdata, value, charge);
}

int mount_fs_new(Store *s, uint64_t cache_size, MountFs **ret) {
        _cleanup_(mount_fs_freep) MountFs *fs = calloc(1, sizeof *fs);
        if (!fs)
                return -ENOMEM;
        fs->store = s;
        fs->uid = getuid();
        fs->gid = getgid();
        pthread_mutex_init(&fs->statfs_lock, NULL);
        /* The budget: trees get a sixteenth (at least 4 MiB), chunks the
         * rest; released chunk buffers kept for reuse come on top. */
        uint64_t trees = MAX(cache_size / 16, TREE_CACHE_MIN);
        uint64_t chunks = cache_size > 2 * trees ? cache_size - trees : trees;
        int r = mount_nodes_new(&fs->nodes);
        if (r >= 0)
                r = buffer_pool_new(MIN(cache_size / 16, IDLE_BUFFERS_MAX), &fs->buffers);
        if (r >= 0)
                r = object_cache_new(chunks, chunk_free_value, fs->buffers, &fs->chunks);
        if (r >= 0)
                r = object_cache_new(trees, tree_free_value, NULL, &fs->trees);
        /* A page table is 1/1024 of its chunk: this covers 32x the chunk cache. */
        if (r >= 0)
                r = object_cache_new(MAX(chunks / 32, PAGE_TABLE_CACHE_MIN), page_table_free_value, NULL, &fs->pages);
        if (r >= 0)
                r = prefetch_new(PREFETCH_THREADS, PREFETCH_QUEUE, prefetch_run, prefetch_drop, &fs->prefetch);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(fs);
        return 0;
}

MountFs *mount_fs_free(MountFs *fs) {
        if (!fs)
                return NULL;
        prefetch_free(fs->prefetch); /* first: its jobs use the caches */
        object_cache_free(fs->chunks);
        object_cache_free(fs->trees);
        object_cache_free(fs->pages);
        buffer_pool_free(fs->buffers);
        mount_nodes_free(fs->nodes);
        pthread_mutex_destroy(&fs->statfs_lock);
        free(fs);
        return NULL;
}

void mount_fs_set_session(MountFs *fs, struct fuse_session *se) {
        fs->session = se;
}

void mount_fs_stats(MountFs *fs, MountFsStats *ret) {
        ObjectCacheStats cs;
        object_cache_stats(fs->chunks, &cs);
        *ret = (MountFsStats) {
                .reads = atomic_load(&fs->reads),
                .read_bytes = atomic_load(&fs->read_bytes),
                .lookups = atomic_load(&fs->lookups),
                .damaged = atomic_load(&fs->damaged),
                .part_reads = atomic_load(&fs->part_reads),
                .chunk_hits = cs.hits,
                .chunk_misses = cs.misses,
                .chunk_waits = cs.waits,
        };
}

/* ---- invalidation ---- */

/* A copy of a top-level node, taken under the table's lock. */
typedef struct Seen {
        uint8_t kind;
        uint64_t number;
        char *name;
        ObjectId id;
        fuse_ino_t nodeid;
        bool stale;
} Seen;

typedef struct SeenList {
        Seen *items;
        size_t n, allocated;
        bool oom;
} SeenList;

static void seen_add(const MountNode *n, void *u) {
        SeenList *l = u;
        if (l->oom || GROW(l->items, l->allocated, l->n + 1) < 0) {
                l->oom = true;
                return;
        }
        char *name = n->key.name ? strdup(n->key.name) : NULL;
        if (n->key.name && !name) {
                l->oom = true;
                return;
        }
        l->items[l->n++] = (Seen) {
                .kind = n->key.kind,
                .number = n->key.number,
                .name = name,
                .id = n->key.id,
                .nodeid = ino_of(n),
        };
}

static void seen_list_done(SeenList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].name);
        free(l->items);
}

static void inval_entry(MountFs *fs, fuse_ino_t parent, const char *name) {
        /* -ENOENT: the kernel has nothing cached there; fine. */
        (void) fuse_lowlevel_notify_inval_entry(fs->session, parent, name, strlen(name));
}

static fuse_ino_t fixed_ino(MountFs *fs, MountNodeKind kind) {
        return ino_of(mount_nodes_fixed(fs->nodes, kind));
}

int mount_fs_refresh(MountFs *fs) {
        /* A gc deletes packs after its commit: look at every poll, so their
         * disk space goes as soon as the files are gone. */
        pack_set_forget_gone(store_packs(fs->store));

        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = begin_read(fs, &t);
        if (r < 0)
                return r;
        uint64_t seq = 0;
        r = catalog_get_u64(t, "sequence", &seq);
        if (r < 0 && r != -ENOENT)
                return r;
        bool first = !fs->sequence_known;
        if (!first && seq == fs->sequence)
                return 0;
        fs->sequence = seq;
        fs->sequence_known = true;
        if (first || !fs->session)
                return 0; /* the baseline: nothing was handed out before it */

        /* What the kernel may hold at the top level, checked against the
         * catalog in the same snapshot that gave the new sequence. */
        SeenList seen = {};
        static const MountNodeKind kinds[] = { MOUNT_NODE_BUNDLE, MOUNT_NODE_GENERATION, MOUNT_NODE_REVISION };
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                mount_nodes_foreach(fs->nodes, kinds[i], seen_add, &seen);
        for (size_t i = 0; i < seen.n; i++) {
                Seen *s = &seen.items[i];
                ObjectId id;
                uint32_t latest;
                if (s->kind == MOUNT_NODE_BUNDLE)
                        s->stale = catalog_latest_revision(t, s->name, &latest) < 0;
                else if (s->kind == MOUNT_NODE_GENERATION)
                        s->stale = catalog_get_generation(t, s->number, &id) < 0 || !object_id_equal(&id, &s->id);
                else
                        s->stale = catalog_get_revision(t, s->name, (uint32_t) s->number, &id) < 0 ||
                                   !object_id_equal(&id, &s->id);
        }
        /* Notifications may wait for the kernel: no transaction or lock held. */
        t = catalog_abort(t);

        inval_entry(fs, FUSE_ROOT_ID, "current");
        (void) fuse_lowlevel_notify_inval_inode(fs->session, fixed_ino(fs, MOUNT_NODE_GENERATIONS), 0, 0);
        (void) fuse_lowlevel_notify_inval_inode(fs->session, fixed_ino(fs, MOUNT_NODE_BUNDLES), 0, 0);
        for (size_t i = 0; i < seen.n; i++) {
                const Seen *s = &seen.items[i];
                char name[24];
                switch (s->kind) {
                case MOUNT_NODE_BUNDLE:
                        inval_entry(fs, s->nodeid, "latest");
                        if (s->stale)
                                inval_entry(fs, fixed_ino(fs, MOUNT_NODE_BUNDLES), s->name);
                        break;
                case MOUNT_NODE_GENERATION:
                        if (s->stale) {
                                snprintf(name, sizeof name, "%" PRIu64, s->number);
                                inval_entry(fs, fixed_ino(fs, MOUNT_NODE_GENERATIONS), name);
                        }
                        break;
                case MOUNT_NODE_REVISION:
                        if (!s->stale)
                                break;
                        /* Its parent is the bundle's node, if the kernel
                         * still holds one; without it nothing is cached below. */
                        snprintf(name, sizeof name, "%" PRIu64, s->number);
                        for (size_t j = 0; j < seen.n; j++)
                                if (seen.items[j].kind == MOUNT_NODE_BUNDLE &&
                                    strcmp(seen.items[j].name, s->name) == 0)
                                        inval_entry(fs, seen.items[j].nodeid, name);
                        break;
                }
        }
        bool oom = seen.oom;
        seen_list_done(&seen);
        if (oom) /* some entries were not checked: their short timeouts still apply */
                log_warning("out of memory while invalidating the top level; changes may take a second");
        return 1;
}
