/* SPDX-License-Identifier: Apache-2.0 */
#include "publish.h"

#include <stdio.h>

#include "refs.h"
#include "render.h"

/* A copy of the array `field` of the record `id` of `type`. */
static int read_record_array(Store *s, const ObjectId *id, const char *type, const char *field, json_t **ret) {
        json_t *rec;
        int r = refs_read_record(s, id, type, &rec);
        if (r < 0)
                return r;
        json_t *a = json_deep_copy(json_object_get(rec, field));
        json_decref(rec);
        if (!json_is_array(a)) {
                json_decref(a);
                return -EBADMSG;
        }
        *ret = a;
        return 0;
}

int publish_parent_artifacts(StoreTxn *t, const char *bundle, json_t **ret_artifacts, uint32_t *ret_parent_rev) {
        uint32_t rev;
        ObjectId id;
        int r = refs_resolve(store_txn_catalog(t), bundle, 0, &rev, &id);
        if (r == -ENOENT) {
                *ret_artifacts = json_array();
                if (ret_parent_rev)
                        *ret_parent_rev = 0;
                return *ret_artifacts ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        r = read_record_array(store_txn_store(t), &id, "revision", "artifacts", ret_artifacts);
        if (r < 0)
                return r;
        if (ret_parent_rev)
                *ret_parent_rev = rev;
        return 0;
}

int publish_revision(StoreTxn *t, const char *bundle, json_t *artifacts, const char *message, uint32_t *ret_rev,
                     char **reterr) {
        CatalogTxn *c = store_txn_catalog(t);
        uint32_t parent_rev = 0;
        ObjectId parent;
        int r = refs_resolve(c, bundle, 0, &parent_rev, &parent);
        if (r < 0 && r != -ENOENT)
                return r;

        size_t n = json_array_size(artifacts);
        _cleanup_free_ RenderItem *items = calloc(n ? n : 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                items[i] = (RenderItem) { bundle, json_array_get(artifacts, i) };
        ObjectId root;
        uint64_t size;
        r = render_artifacts(t, items, n, &root, &size, reterr);
        if (r < 0)
                return r;

        char now[32];
        now_rfc3339(now);
        uint32_t rev = parent_rev + 1;
        char parent_hex[OBJECT_ID_HEX_SIZE], root_hex[OBJECT_ID_HEX_SIZE];
        json_t *rec = json_pack("{s:s,s:s,s:i,s:o,s:s,s:s,s:O,s:s,s:I}", "type", "revision", "bundle", bundle,
                                "revision", (json_int_t) rev,
                                "parent", parent_rev ? json_string(object_id_to_hex(&parent, parent_hex)) : json_null(),
                                "time", now, "message", message ? message : "", "artifacts", artifacts,
                                "root", object_id_to_hex(&root, root_hex), "size", (json_int_t) size);
        if (!rec)
                return -ENOMEM;
        ObjectId id;
        r = store_txn_put_json(t, rec, &id);
        json_decref(rec);
        if (r < 0)
                return r;
        r = catalog_put_revision(c, bundle, rev, &id);
        if (r < 0)
                return r;
        *ret_rev = rev;
        return 0;
}

int publish_current_active(StoreTxn *t, json_t **ret) {
        CatalogTxn *c = store_txn_catalog(t);
        uint64_t cur;
        int r = refs_current(c, &cur);
        if (r == -ENOENT) {
                *ret = json_array();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        ObjectId id;
        r = catalog_get_generation(c, cur, &id);
        if (r < 0)
                return r;
        return read_record_array(store_txn_store(t), &id, "generation", "active", ret);
}

/* Gathers the artifacts of every active revision, each tagged with its
 * bundle, and renders their union. */
static int render_active(StoreTxn *t, json_t *active, ObjectId *ret_root, uint64_t *ret_size, char **reterr) {
        Store *s = store_txn_store(t);
        size_t n_items = 0, allocated = 0;
        _cleanup_free_ RenderItem *items = NULL;
        json_t *records = json_array();
        if (!records)
                return -ENOMEM;
        int r = 0;
        size_t i;
        json_t *a;
        json_array_foreach(active, i, a) {
                ObjectId id;
                json_t *rec;
                if ((r = json_get_id(a, "id", &id)) < 0 ||
                    (r = refs_read_record(s, &id, "revision", &rec)) < 0)
                        goto out;
                json_array_append_new(records, rec);
                const char *bundle = json_string_value(json_object_get(rec, "bundle"));
                size_t j;
                json_t *art;
                json_array_foreach(json_object_get(rec, "artifacts"), j, art) {
                        if ((r = GROW(items, allocated, n_items + 1)) < 0)
                                goto out;
                        items[n_items++] = (RenderItem) { bundle ? bundle : "?", art };
                }
        }
        r = render_artifacts(t, items, n_items, ret_root, ret_size, reterr);
out:
        json_decref(records);
        return r;
}

static int active_compare(const void *a, const void *b) {
        const json_t *x = *(const json_t *const *) a, *y = *(const json_t *const *) b;
        return strcmp(json_string_value(json_object_get(x, "bundle")), json_string_value(json_object_get(y, "bundle")));
}

int publish_activate(StoreTxn *t, const char *bundle, uint32_t rev, const char *message, uint64_t *ret_gen,
                     char **reterr) {
        CatalogTxn *c = store_txn_catalog(t);
        json_t *old;
        int r = publish_current_active(t, &old);
        if (r < 0)
                return r;

        /* The new active list: the old one without bundle, plus bundle@rev;
         * sorted by bundle so the same set always renders alike. */
        size_t n = json_array_size(old), m = 0;
        _cleanup_free_ json_t **list = calloc(n + 1, sizeof *list);
        if (!list) {
                json_decref(old);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *a = json_array_get(old, i);
                if (strcmp(json_string_value(json_object_get(a, "bundle")), bundle) != 0)
                        list[m++] = a;
        }
        json_t *added = NULL;
        if (rev > 0) {
                ObjectId id;
                r = catalog_get_revision(c, bundle, rev, &id);
                if (r < 0) {
                        json_decref(old);
                        return r;
                }
                added = json_pack("{s:s,s:i,s:s}", "bundle", bundle, "revision", (json_int_t) rev, "id",
                                  object_id_hex(&id));
                list[m++] = added;
        }
        qsort(list, m, sizeof *list, active_compare);
        json_t *active = json_array();
        for (size_t i = 0; i < m; i++)
                json_array_append(active, list[i]);
        json_decref(added);
        json_decref(old);

        ObjectId root;
        uint64_t size;
        r = render_active(t, active, &root, &size, reterr);
        if (r < 0) {
                json_decref(active);
                return r;
        }

        uint64_t last;
        r = refs_last_generation(c, &last);
        if (r < 0) {
                json_decref(active);
                return r;
        }
        char now[32];
        now_rfc3339(now);
        json_t *rec = json_pack("{s:s,s:I,s:s,s:s,s:o,s:s,s:I}", "type", "generation", "generation",
                                (json_int_t) (last + 1), "time", now, "message", message ? message : "", "active",
                                active, "root", object_id_hex(&root), "size", (json_int_t) size);
        if (!rec)
                return -ENOMEM;
        ObjectId id;
        r = store_txn_put_json(t, rec, &id);
        json_decref(rec);
        if (r < 0)
                return r;
        r = catalog_put_generation(c, last + 1, &id);
        if (r >= 0)
                r = catalog_put_u64(c, "current", last + 1);
        if (r < 0)
                return r;
        if (ret_gen)
                *ret_gen = last + 1;
        return 0;
}

int publish_rollback(StoreTxn *t, uint64_t gen) {
        CatalogTxn *c = store_txn_catalog(t);
        ObjectId id;
        int r = catalog_get_generation(c, gen, &id);
        if (r < 0)
                return r;
        return catalog_put_u64(c, "current", gen);
}
