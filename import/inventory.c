/* SPDX-License-Identifier: Apache-2.0 */
#include "inventory.h"

#include <stdio.h>
#include <zstd.h>

#include "compressor.h"
#include "fileio.h"
#include "reterr.h"
#include "transfer-format.h"

/* The ids come out of the catalog already sorted (LMDB keeps keys in
 * order), so sorted-ness costs nothing and lets zstd take the shared
 * leading bytes of neighbours. The whole list is held in memory: 32 bytes
 * per object, 320 MiB for ten million. */

typedef struct Collect {
        uint8_t *ids;
        size_t n, allocated;
} Collect;

static int collect(const ObjectId *id, const ObjectLocation *loc _unused_, void *u) {
        Collect *c = u;
        if (c->n == c->allocated) {
                size_t a = c->allocated ? c->allocated * 2 : 65536;
                uint8_t *p = realloc(c->ids, a * OBJECT_ID_SIZE);
                if (!p)
                        return -ENOMEM;
                c->ids = p;
                c->allocated = a;
        }
        memcpy(c->ids + c->n * OBJECT_ID_SIZE, id->bytes, OBJECT_ID_SIZE);
        c->n++;
        return 0;
}

int inventory_write(Store *s, int fd, uint64_t *ret_count) {
        Collect c = {};
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(s), false, &t);
        if (r >= 0)
                r = catalog_foreach_object(t, collect, &c);
        if (r < 0) {
                free(c.ids);
                return r;
        }
        size_t raw = c.n * OBJECT_ID_SIZE;
        size_t bound = ZSTD_compressBound(raw);
        _cleanup_free_ uint8_t *z = malloc(bound ? bound : 1);
        if (!z) {
                free(c.ids);
                return -ENOMEM;
        }
        size_t k = ZSTD_compress(z, bound, c.ids, raw, 3);
        if (ZSTD_isError(k)) {
                free(c.ids);
                return -EIO;
        }
        ObjectId digest;
        object_id_hash(c.ids, raw, &digest);
        free(c.ids);

        uint8_t h[INVENTORY_HEADER_SIZE] = {};
        memcpy(h + offsetof(InventoryHeader, magic), INVENTORY_MAGIC, 8);
        le32_write(h + offsetof(InventoryHeader, version), INVENTORY_VERSION);
        le32_write(h + offsetof(InventoryHeader, features), 0);
        le64_write(h + offsetof(InventoryHeader, count), c.n);
        le64_write(h + offsetof(InventoryHeader, compressed_size), k);
        memcpy(h + offsetof(InventoryHeader, sha256), digest.bytes, OBJECT_ID_SIZE);
        r = write_full(fd, h, sizeof h);
        if (r >= 0)
                r = write_full(fd, z, k);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = c.n;
        return 0;
}

/* The header's sizes are only claims (a damaged one can say anything up
 * to TRANSFER_OBJECTS_MAX ids, as can the frame's own content size), so
 * memory grows with the bytes that actually arrive or come out, never to
 * a claimed size up front. */

/* Reads exactly n bytes into a new buffer; -EPIPE when fd ends first. */
static int read_growing(int fd, uint64_t n, uint8_t **ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t have = 0, allocated = 0;
        do {
                if (have == allocated) {
                        size_t a = (size_t) MIN(n, (uint64_t) MAX(allocated * 2, (size_t) 1 << 20));
                        uint8_t *p = realloc(buf, MAX(a, (size_t) 1));
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = a;
                }
                ssize_t k = read_full(fd, buf + have, allocated - have);
                if (k < 0)
                        return (int) k;
                if ((size_t) k < allocated - have)
                        return -EPIPE;
                have += (size_t) k;
        } while (have < n);
        *ret = TAKE_PTR(buf);
        return 0;
}

int inventory_read(int fd, IdSet *into, uint64_t *ret_count, char **reterr) {
        uint8_t h[INVENTORY_HEADER_SIZE];
        ssize_t n = read_full(fd, h, sizeof h);
        if (n < 0)
                return (int) n;
        if (n < (ssize_t) sizeof h || memcmp(h, INVENTORY_MAGIC, 8) != 0)
                return reterr_printf(reterr, -EBADMSG, "not an isle inventory (isle inventory writes one)");
        if (le32_read(h + offsetof(InventoryHeader, version)) != INVENTORY_VERSION ||
            (le32_read(h + offsetof(InventoryHeader, features)) & ~INVENTORY_FEATURES_KNOWN))
                return reterr_printf(reterr, -EPROTONOSUPPORT, "inventory made by a newer isle (unknown version or features)");
        uint64_t count = le64_read(h + offsetof(InventoryHeader, count));
        uint64_t zsize = le64_read(h + offsetof(InventoryHeader, compressed_size));
        if (count > TRANSFER_OBJECTS_MAX || zsize > ZSTD_compressBound(count * OBJECT_ID_SIZE) + 64)
                return reterr_printf(reterr, -EBADMSG, "inventory header is damaged (impossible sizes)");
        _cleanup_free_ uint8_t *z = NULL;
        int r = read_growing(fd, zsize, &z);
        if (r == -EPIPE)
                return reterr_printf(reterr, -EBADMSG, "inventory is truncated");
        if (r < 0)
                return r;
        /* The frame says how big it unpacks: believe the header only if both agree. */
        if (ZSTD_getFrameContentSize(z, zsize) != count * OBJECT_ID_SIZE)
                return reterr_printf(reterr, -EBADMSG, "inventory is damaged (the id list does not match its count)");
        _cleanup_free_ uint8_t *ids = NULL;
        r = zstd_decompress_exact(z, zsize, count * OBJECT_ID_SIZE, &ids);
        if (r == -EBADMSG)
                return reterr_printf(reterr, -EBADMSG, "inventory is damaged (the id list does not decompress)");
        if (r < 0)
                return r;
        size_t k = count * OBJECT_ID_SIZE;
        ObjectId digest;
        object_id_hash(ids, k, &digest);
        if (memcmp(digest.bytes, h + offsetof(InventoryHeader, sha256), OBJECT_ID_SIZE) != 0)
                return reterr_printf(reterr, -EBADMSG, "inventory is damaged (the id list does not match its hash)");
        r = id_set_reserve(into, id_set_size(into) + count);
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < count; i++) {
                ObjectId id;
                memcpy(id.bytes, ids + i * OBJECT_ID_SIZE, OBJECT_ID_SIZE);
                r = id_set_add(into, &id);
                if (r < 0)
                        return r;
        }
        if (ret_count)
                *ret_count = count;
        return 0;
}
