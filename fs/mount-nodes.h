/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The mount's inode table: which node the kernel means by a node id, and
 * how many references (lookups) it holds on each.
 *
 * Content-addressed objects appear at many paths under different parents,
 * so a node is named by a key, not by a path: a stored tree, file or
 * symlink by (kind, object id, mode), so the same object is the same inode
 * wherever it appears (like a hard link, which is right for a read-only
 * store); generations/N and bundles/NAME/REV by their number and record id;
 * bundles/NAME by its name; the symlinks `current` and bundles/NAME/latest
 * by their target, so a node's symlink target never changes and the kernel
 * may cache it: when `current` moves, its lookup gives another node. Five
 * fixed nodes make the top level (the root, generations, bundles, blobs,
 * blobs/sha256).
 *
 * Each node counts the kernel's lookups; a node whose count drops to zero
 * (forget) is freed, so the table holds only what the kernel holds. Fixed
 * nodes are never freed and not counted.
 *
 * st_ino is a 64-bit hash of the key, the same in every mount of any store,
 * so readdir can give an entry's inode number without making a node.
 *
 * Thread safe: one mutex, held only for the table operations. A node's
 * fields never change after creation, so a referenced node may be read
 * without the lock. Knows nothing of FUSE. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"

typedef enum MountNodeKind {
        MOUNT_NODE_ROOT,
        MOUNT_NODE_GENERATIONS,
        MOUNT_NODE_BUNDLES,
        MOUNT_NODE_BLOBS,
        MOUNT_NODE_BLOBS_SHA256,
        _MOUNT_NODE_FIXED_MAX,
        MOUNT_NODE_CURRENT = _MOUNT_NODE_FIXED_MAX, /* current -> generations/N */
        MOUNT_NODE_BUNDLE,              /* bundles/NAME */
        MOUNT_NODE_LATEST,              /* bundles/NAME/latest -> REV */
        MOUNT_NODE_GENERATION,          /* generations/N: a record and its root tree */
        MOUNT_NODE_REVISION,            /* bundles/NAME/REV: same */
        MOUNT_NODE_DIR,                 /* a stored tree */
        MOUNT_NODE_FILE,                /* a blob */
        MOUNT_NODE_SYMLINK,             /* a blob holding the target */
        _MOUNT_NODE_KIND_MAX,
} MountNodeKind;

typedef struct MountNodeKey {
        uint8_t kind;           /* MountNodeKind */
        uint32_t mode;          /* FILE: 0444 or 0555; SYMLINK: as stored; else 0 */
        uint64_t number;        /* GENERATION, REVISION, LATEST (the revision), CURRENT (the generation) */
        const char *name;       /* BUNDLE, LATEST, REVISION: the bundle; else NULL */
        ObjectId id;            /* DIR, FILE, SYMLINK: the object; GENERATION, REVISION: the record */
} MountNodeKey;

typedef struct MountNode {
        MountNodeKey key;       /* name owned by the node */
        uint64_t ino;           /* st_ino */
        uint64_t size;          /* FILE, SYMLINK: bytes */
        ObjectId tree;          /* DIR, GENERATION, REVISION: the tree it shows */
        uint64_t nlookup;       /* protected by the table's lock */
        struct MountNode *next; /* hash chain; protected by the table's lock */
} MountNode;

typedef struct MountNodes MountNodes;

int mount_nodes_new(MountNodes **ret);
/* Frees the table and every node in it. NULL-safe. */
MountNodes *mount_nodes_free(MountNodes *t);
DEFINE_FREEP(MountNodes, mount_nodes_free)

/* The fixed node of a kind < _MOUNT_NODE_FIXED_MAX. */
MountNode *mount_nodes_fixed(MountNodes *t, MountNodeKind kind);
static inline bool mount_node_is_fixed(const MountNode *n) {
        return n->key.kind < _MOUNT_NODE_FIXED_MAX;
}

/* st_ino for a key (what a node made from it will have). */
uint64_t mount_node_key_ino(const MountNodeKey *key);

/* Finds the node for key, or creates it with size and tree (tree may be
 * NULL), and adds one reference. Returns 1 when it was created, 0 when
 * found; -ENOMEM. A fixed key returns the fixed node. */
int mount_nodes_ref(MountNodes *t, const MountNodeKey *key, uint64_t size, const ObjectId *tree,
                    MountNode **ret);
/* Adds one reference to the node for key if there is one: 1 and *ret, or
 * 0 when there is none (nothing changes). Lets a caller skip the work of
 * computing size and tree when the node already exists. */
int mount_nodes_ref_existing(MountNodes *t, const MountNodeKey *key, MountNode **ret);
/* Drops count references (the kernel's forget); frees the node at zero. */
void mount_nodes_unref(MountNodes *t, MountNode *n, uint64_t count);

/* Calls fn for every node of the given kind, with the table's lock held:
 * fn must only copy what it needs (the node may be freed as soon as the
 * lock is released) and must not call back into the table. */
void mount_nodes_foreach(MountNodes *t, MountNodeKind kind, void (*fn)(const MountNode *n, void *u),
                         void *userdata);

/* Number of nodes in the table (fixed ones excluded). */
size_t mount_nodes_count(MountNodes *t);
