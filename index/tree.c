/* SPDX-License-Identifier: Apache-2.0 */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

Tree *tree_new(void) {
        return calloc(1, sizeof(Tree));
}

Tree *tree_free(Tree *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++)
                free(t->entries[i].name);
        free(t->entries);
        free(t);
        return NULL;
}

bool tree_name_valid(const char *name) {
        size_t n = strlen(name);
        return n > 0 && n <= TREE_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
               strcmp(name, "..") != 0;
}

int tree_add(Tree *t, const char *name, uint8_t kind, uint32_t mode, uint64_t size, const ObjectId *id) {
        if (!tree_name_valid(name) || kind < TREE_ENTRY_FILE || kind > TREE_ENTRY_SYMLINK)
                return -EINVAL;
        int r = GROW(t->entries, t->allocated, t->n_entries + 1);
        if (r < 0)
                return r;
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        t->entries[t->n_entries++] = (TreeEntry) {
                .name = copy,
                .kind = kind,
                .mode = mode & 07777,
                .size = size,
                .id = *id,
        };
        return 0;
}

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const TreeEntry *) a)->name, ((const TreeEntry *) b)->name);
}

int tree_sort(Tree *t) {
        if (t->n_entries > 1)
                qsort(t->entries, t->n_entries, sizeof(TreeEntry), entry_compare);
        for (size_t i = 1; i < t->n_entries; i++)
                if (strcmp(t->entries[i - 1].name, t->entries[i].name) == 0)
                        return -EEXIST;
        return 0;
}

int tree_encode(const Tree *t, void **ret, size_t *ret_size) {
        size_t size = TREE_HEADER_SIZE;
        for (size_t i = 0; i < t->n_entries; i++)
                size += TREE_ENTRY_FIXED_SIZE + strlen(t->entries[i].name);
        uint8_t *buf = malloc(size), *p = buf;
        if (!buf)
                return -ENOMEM;
        le32_write(p, TREE_MAGIC);
        le32_write(p + 4, TREE_VERSION);
        le32_write(p + 8, (uint32_t) t->n_entries);
        le32_write(p + 12, 0);
        p += TREE_HEADER_SIZE;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                size_t n = strlen(e->name);
                p[0] = e->kind;
                p[1] = 0;
                le16_write(p + 2, (uint16_t) n);
                le32_write(p + 4, e->mode);
                le64_write(p + 8, e->size);
                memcpy(p + 16, e->id.bytes, OBJECT_ID_SIZE);
                memcpy(p + TREE_ENTRY_FIXED_SIZE, e->name, n);
                p += TREE_ENTRY_FIXED_SIZE + n;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

int tree_decode(const void *data, size_t size, Tree **ret) {
        const uint8_t *p = data, *end = p + size;
        if (size < TREE_HEADER_SIZE || le32_read(p) != TREE_MAGIC)
                return -EBADMSG;
        if (le32_read(p + 4) != TREE_VERSION || le32_read(p + 12) != 0)
                return -EPROTONOSUPPORT;
        uint32_t count = le32_read(p + 8);
        if (count > (size - TREE_HEADER_SIZE) / TREE_ENTRY_FIXED_SIZE)
                return -EBADMSG;
        _cleanup_(tree_freep) Tree *t = tree_new();
        if (!t)
                return -ENOMEM;
        t->entries = calloc(count ? count : 1, sizeof(TreeEntry));
        if (!t->entries)
                return -ENOMEM;
        t->allocated = count;
        p += TREE_HEADER_SIZE;
        for (uint32_t i = 0; i < count; i++) {
                if ((size_t) (end - p) < TREE_ENTRY_FIXED_SIZE)
                        return -EBADMSG;
                size_t n = le16_read(p + 2);
                if (p[1] != 0 || n == 0 || n > TREE_NAME_MAX || (size_t) (end - p) < TREE_ENTRY_FIXED_SIZE + n)
                        return -EBADMSG;
                TreeEntry *e = &t->entries[i];
                e->name = strndup((const char *) p + TREE_ENTRY_FIXED_SIZE, n);
                if (!e->name)
                        return -ENOMEM;
                t->n_entries++;
                e->kind = p[0];
                e->mode = le32_read(p + 4);
                e->size = le64_read(p + 8);
                memcpy(e->id.bytes, p + 16, OBJECT_ID_SIZE);
                if (strlen(e->name) != n || !tree_name_valid(e->name) || e->kind < TREE_ENTRY_FILE ||
                    e->kind > TREE_ENTRY_SYMLINK || (e->mode & ~07777u))
                        return -EBADMSG;
                if (i > 0 && strcmp(t->entries[i - 1].name, e->name) >= 0)
                        return -EBADMSG; /* not canonical: unsorted or duplicate */
                p += TREE_ENTRY_FIXED_SIZE + n;
        }
        if (p != end)
                return -EBADMSG;
        *ret = TAKE_PTR(t);
        return 0;
}

const TreeEntry *tree_find(const Tree *t, const char *name) {
        size_t lo = 0, hi = t->n_entries;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name, t->entries[mid].name);
                if (c == 0)
                        return &t->entries[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

uint64_t tree_total_size(const Tree *t) {
        uint64_t s = 0;
        for (size_t i = 0; i < t->n_entries; i++)
                s += t->entries[i].size;
        return s;
}

const char *tree_entry_kind_to_string(uint8_t kind) {
        switch (kind) {
        case TREE_ENTRY_FILE: return "file";
        case TREE_ENTRY_DIR: return "dir";
        case TREE_ENTRY_SYMLINK: return "symlink";
        default: return "unknown";
        }
}
