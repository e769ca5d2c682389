/* SPDX-License-Identifier: Apache-2.0 */
#include "tree-builder.h"

#include <stdio.h>

/* A directory or leaf in the tree being built. A directory with loaded ==
 * false still stands for the stored tree `id`; its children are read on
 * first use. dirty marks directories whose id must be recomputed. */
typedef struct Node Node;
struct Node {
        char *name;
        uint8_t kind;
        uint32_t mode;
        uint64_t size;
        ObjectId id;
        bool loaded, dirty;
        Node **children;        /* sorted by name */
        size_t n_children, allocated;
};

struct TreeBuilder {
        Store *store;
        Node *root;
        char *conflict;
};

static Node *node_free(Node *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_children; i++)
                node_free(n->children[i]);
        free(n->children);
        free(n->name);
        free(n);
        return NULL;
}

static Node *node_new(const char *name, uint8_t kind, uint32_t mode, uint64_t size, const ObjectId *id) {
        Node *n = calloc(1, sizeof *n);
        if (!n)
                return NULL;
        n->name = strdup(name ? name : "");
        if (!n->name)
                return node_free(n);
        n->kind = kind;
        n->mode = mode & 07777;
        n->size = size;
        if (id)
                n->id = *id;
        /* A new directory without a stored tree is empty and loaded. */
        n->loaded = kind == TREE_ENTRY_DIR && !id;
        n->dirty = n->loaded;
        return n;
}

void tree_empty_id(ObjectId *ret) {
        Tree empty = { 0 };
        _cleanup_free_ void *buf = NULL;
        size_t n;
        if (tree_encode(&empty, &buf, &n) < 0)
                abort();
        object_id_hash(buf, n, ret);
}

static int node_load(TreeBuilder *b, Node *n) {
        if (n->loaded)
                return 0;
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(b->store, &n->id, &t);
        if (r < 0)
                return r;
        n->children = calloc(t->n_entries ? t->n_entries : 1, sizeof(Node *));
        if (!n->children)
                return -ENOMEM;
        n->allocated = t->n_entries;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                Node *c = node_new(e->name, e->kind, e->mode, e->size, &e->id);
                if (!c)
                        return -ENOMEM;
                n->children[n->n_children++] = c;
        }
        n->loaded = true;
        return 0;
}

/* Binary search: index of name, or where it would be inserted (*found false). */
static size_t node_find(const Node *n, const char *name, bool *found) {
        size_t lo = 0, hi = n->n_children;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name, n->children[mid]->name);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        *found = false;
        return lo;
}

static int node_insert(Node *n, size_t at, Node *c) {
        int r = GROW(n->children, n->allocated, n->n_children + 1);
        if (r < 0)
                return r;
        memmove(n->children + at + 1, n->children + at, (n->n_children - at) * sizeof(Node *));
        n->children[at] = c;
        n->n_children++;
        return 0;
}

int tree_builder_new(Store *s, const ObjectId *base, TreeBuilder **ret) {
        TreeBuilder *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->store = s;
        b->root = node_new(NULL, TREE_ENTRY_DIR, 0755, 0, base);
        if (!b->root) {
                free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

TreeBuilder *tree_builder_free(TreeBuilder *b) {
        if (!b)
                return NULL;
        node_free(b->root);
        free(b->conflict);
        free(b);
        return NULL;
}

const char *tree_builder_conflict(const TreeBuilder *b) {
        return b->conflict;
}

static int set_conflict(TreeBuilder *b, const char *path) {
        free(b->conflict);
        b->conflict = strdup(path);
        return -EEXIST;
}

static bool same_entry(const Node *n, uint8_t kind, uint32_t mode, const ObjectId *id) {
        return n->kind == kind && n->mode == (mode & 07777) && object_id_equal(&n->id, id);
}

/* Walks to the directory that holds the last component of path, creating
 * (or, when creating is not allowed, failing on) missing directories. The
 * walk marks every directory on the way dirty. *ret_name points into path. */
static int walk_to_parent(TreeBuilder *b, const char *path, bool create, Node **ret_dir, char **ret_name) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        Node *dir = b->root;
        char *save = NULL, *comp = strtok_r(copy, "/", &save), *next;
        if (!comp)
                return -EINVAL;
        int r = node_load(b, dir);
        if (r < 0)
                return r;
        while ((next = strtok_r(NULL, "/", &save))) {
                if (!tree_name_valid(comp))
                        return -EINVAL;
                bool found;
                size_t i = node_find(dir, comp, &found);
                Node *c;
                if (found) {
                        c = dir->children[i];
                        if (c->kind != TREE_ENTRY_DIR) {
                                if (!create)
                                        return -ENOTDIR;
                                return set_conflict(b, path);
                        }
                } else {
                        if (!create)
                                return -ENOENT;
                        c = node_new(comp, TREE_ENTRY_DIR, 0755, 0, NULL);
                        if (!c)
                                return -ENOMEM;
                        r = node_insert(dir, i, c);
                        if (r < 0) {
                                node_free(c);
                                return r;
                        }
                }
                r = node_load(b, c);
                if (r < 0)
                        return r;
                dir->dirty = true;
                dir = c;
                comp = next;
        }
        if (!tree_name_valid(comp))
                return -EINVAL;
        dir->dirty = true;
        *ret_dir = dir;
        *ret_name = strdup(comp);
        return *ret_name ? 0 : -ENOMEM;
}

static int merge_tree_into(TreeBuilder *b, Node *dir, const ObjectId *tree_id, TreePutMode how, const char *path);

static int put_in(TreeBuilder *b, Node *dir, const char *name, uint8_t kind, uint32_t mode, uint64_t size,
                  const ObjectId *id, TreePutMode how, const char *path) {
        bool found;
        size_t i = node_find(dir, name, &found);
        if (found) {
                Node *c = dir->children[i];
                if (kind == TREE_ENTRY_DIR && c->kind == TREE_ENTRY_DIR) {
                        if (id && !(c->loaded == false && object_id_equal(&c->id, id))) {
                                int r = node_load(b, c);
                                if (r < 0)
                                        return r;
                                r = merge_tree_into(b, c, id, how, path);
                                if (r < 0)
                                        return r;
                        }
                        if (how == TREE_PUT_REPLACE && c->mode != (mode & 07777)) {
                                c->mode = mode & 07777;
                        }
                        dir->dirty = true;
                        return 0;
                }
                if (id && same_entry(c, kind, mode, id))
                        return 0;
                if (how == TREE_PUT_MERGE)
                        return set_conflict(b, path);
                node_free(c);
                Node *n = node_new(name, kind, mode, size, id);
                if (!n) {
                        memmove(dir->children + i, dir->children + i + 1, (dir->n_children - i - 1) * sizeof(Node *));
                        dir->n_children--;
                        return -ENOMEM;
                }
                dir->children[i] = n;
                dir->dirty = true;
                return 0;
        }
        Node *n = node_new(name, kind, mode, size, id);
        if (!n)
                return -ENOMEM;
        int r = node_insert(dir, i, n);
        if (r < 0) {
                node_free(n);
                return r;
        }
        dir->dirty = true;
        return 0;
}

static int merge_tree_into(TreeBuilder *b, Node *dir, const ObjectId *tree_id, TreePutMode how, const char *path) {
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(b->store, tree_id, &t);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                _cleanup_free_ char *sub = NULL;
                if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", e->name) < 0)
                        return -ENOMEM;
                r = put_in(b, dir, e->name, e->kind, e->mode, e->size, &e->id, how, sub);
                if (r < 0)
                        return r;
        }
        dir->dirty = true;
        return 0;
}

int tree_builder_put(TreeBuilder *b, const char *path, uint8_t kind, uint32_t mode, uint64_t size,
                     const ObjectId *id, TreePutMode how) {
        if (kind < TREE_ENTRY_FILE || kind > TREE_ENTRY_SYMLINK)
                return -EINVAL;
        while (*path == '/')
                path++;
        if (!*path) {
                /* The root itself: only a directory merges there. */
                if (kind != TREE_ENTRY_DIR || !id)
                        return -EINVAL;
                int r = node_load(b, b->root);
                if (r < 0)
                        return r;
                return merge_tree_into(b, b->root, id, how, "");
        }
        Node *dir;
        _cleanup_free_ char *name = NULL;
        int r = walk_to_parent(b, path, true, &dir, &name);
        if (r < 0)
                return r;
        return put_in(b, dir, name, kind, mode, size, id, how, path);
}

int tree_builder_mkdir(TreeBuilder *b, const char *path, uint32_t mode) {
        while (*path == '/')
                path++;
        if (!*path) {
                b->root->mode = mode & 07777;
                return 0;
        }
        Node *dir;
        _cleanup_free_ char *name = NULL;
        int r = walk_to_parent(b, path, true, &dir, &name);
        if (r < 0)
                return r;
        bool found;
        size_t i = node_find(dir, name, &found);
        if (found) {
                Node *c = dir->children[i];
                if (c->kind != TREE_ENTRY_DIR)
                        return set_conflict(b, path);
                c->mode = mode & 07777;
                return 0;
        }
        Node *n = node_new(name, TREE_ENTRY_DIR, mode, 0, NULL);
        if (!n)
                return -ENOMEM;
        r = node_insert(dir, i, n);
        if (r < 0)
                node_free(n);
        return r;
}

int tree_builder_put_bytes(TreeBuilder *b, StoreTxn *t, const char *path, const void *data, size_t n,
                           TreePutMode how) {
        ObjectId id;
        int r = store_txn_put_small_blob(t, data, n, &id);
        if (r < 0)
                return r;
        return tree_builder_put(b, path, TREE_ENTRY_FILE, 0644, n, &id, how);
}

int tree_builder_remove(TreeBuilder *b, const char *path) {
        Node *dir;
        _cleanup_free_ char *name = NULL;
        int r = walk_to_parent(b, path, false, &dir, &name);
        if (r < 0)
                return r;
        bool found;
        size_t i = node_find(dir, name, &found);
        if (!found)
                return -ENOENT;
        node_free(dir->children[i]);
        memmove(dir->children + i, dir->children + i + 1, (dir->n_children - i - 1) * sizeof(Node *));
        dir->n_children--;
        dir->dirty = true;
        return 0;
}

static int node_write(StoreTxn *t, Node *n) {
        if (n->kind != TREE_ENTRY_DIR || !n->dirty)
                return 0;
        _cleanup_(tree_freep) Tree *tree = tree_new();
        if (!tree)
                return -ENOMEM;
        uint64_t size = 0;
        for (size_t i = 0; i < n->n_children; i++) {
                Node *c = n->children[i];
                int r = node_write(t, c);
                if (r < 0)
                        return r;
                r = tree_add(tree, c->name, c->kind, c->mode, c->size, &c->id);
                if (r < 0)
                        return r;
                size += c->size;
        }
        int r = store_txn_put_tree(t, tree, &n->id);
        if (r < 0)
                return r;
        n->size = size;
        n->dirty = false;
        return 0;
}

int tree_builder_write(TreeBuilder *b, StoreTxn *t, ObjectId *ret_root, uint64_t *ret_size) {
        if (!b->root->loaded && !b->root->dirty) {
                /* Unchanged base: its id stands. */
                *ret_root = b->root->id;
                if (ret_size) {
                        _cleanup_(tree_freep) Tree *tree = NULL;
                        int r = store_read_tree(b->store, &b->root->id, &tree);
                        if (r < 0)
                                return r;
                        *ret_size = tree_total_size(tree);
                }
                return 0;
        }
        b->root->dirty = true;
        int r = node_write(t, b->root);
        if (r < 0)
                return r;
        *ret_root = b->root->id;
        if (ret_size)
                *ret_size = b->root->size;
        return 0;
}

int tree_lookup_path(Store *s, const ObjectId *root, const char *path, TreeEntry *ret) {
        TreeEntry cur = { .kind = TREE_ENTRY_DIR, .mode = 0755, .id = *root };
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                if (cur.kind != TREE_ENTRY_DIR)
                        return -ENOTDIR;
                _cleanup_(tree_freep) Tree *t = NULL;
                int r = store_read_tree(s, &cur.id, &t);
                if (r < 0)
                        return r;
                const TreeEntry *e = tree_find(t, comp);
                if (!e)
                        return -ENOENT;
                cur = *e;
                cur.name = NULL;
        }
        *ret = cur;
        return 0;
}
