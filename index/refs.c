/* SPDX-License-Identifier: Apache-2.0 */
#include "refs.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

bool bundle_name_valid(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > 128 || !isalnum((unsigned char) name[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) name[i]) && !strchr("._-", name[i]))
                        return false;
        return true;
}

int revision_spec_parse(const char *spec, char **ret_name, uint32_t *ret_rev) {
        const char *at = strchr(spec, '@');
        _cleanup_free_ char *name = at ? strndup(spec, (size_t) (at - spec)) : strdup(spec);
        if (!name)
                return -ENOMEM;
        if (!bundle_name_valid(name))
                return -EINVAL;
        uint32_t rev = 0;
        if (at && strcmp(at + 1, "latest") != 0) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(at + 1, &end, 10);
                if (errno || end == at + 1 || *end || v == 0 || v > UINT32_MAX || !isdigit((unsigned char) at[1]))
                        return -EINVAL;
                rev = (uint32_t) v;
        }
        *ret_name = TAKE_PTR(name);
        *ret_rev = rev;
        return 0;
}

int refs_resolve(CatalogTxn *t, const char *name, uint32_t rev, uint32_t *ret_rev, ObjectId *ret_id) {
        int r;
        if (rev == 0) {
                r = catalog_latest_revision(t, name, &rev);
                if (r < 0)
                        return r;
        }
        ObjectId id;
        r = catalog_get_revision(t, name, rev, &id);
        if (r < 0)
                return r;
        if (ret_rev)
                *ret_rev = rev;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int refs_current(CatalogTxn *t, uint64_t *ret) {
        return catalog_get_u64(t, "current", ret);
}

static int last_gen_fn(uint64_t gen, const ObjectId *id _unused_, void *u) {
        *(uint64_t *) u = gen;
        return 0;
}

int refs_last_generation(CatalogTxn *t, uint64_t *ret) {
        uint64_t gen = 0;
        int r = catalog_foreach_generation(t, last_gen_fn, &gen);
        if (r < 0)
                return r;
        *ret = gen;
        return 0;
}

int json_get_id(const json_t *obj, const char *key, ObjectId *ret) {
        const char *s = json_string_value(json_object_get(obj, key));
        if (!s)
                return -EBADMSG;
        return object_id_from_hex(s, ret) < 0 ? -EBADMSG : 0;
}

static int artifact_ref(const json_t *v, const char *kind, const char *key, bool tree, ArtifactRefFn fn,
                        void *userdata) {
        ObjectId id;
        if (object_id_from_hex(json_string_value(v) ?: "", &id) < 0)
                return 0;
        return fn(kind, key, tree, &id, userdata);
}

static int foreach_artifact_ref(json_t *j, const char *kind, ArtifactRefFn fn, void *userdata) {
        int r = 0;
        size_t i;
        json_t *e;
        if (json_is_array(j)) {
                json_array_foreach(j, i, e)
                        if ((r = foreach_artifact_ref(e, kind, fn, userdata)) < 0)
                                return r;
                return 0;
        }
        if (!json_is_object(j))
                return 0;
        const char *k = json_string_value(json_object_get(j, "kind")) ?: kind;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
                bool tree = strcmp(key, "tree") == 0;
                if ((tree || strcmp(key, "blob") == 0) && json_is_string(v))
                        r = artifact_ref(v, k, key, tree, fn, userdata);
                else if (strcmp(key, "blobs") == 0 && json_is_array(v)) {
                        json_array_foreach(v, i, e) {
                                r = json_is_string(e) ? artifact_ref(e, k, key, false, fn, userdata)
                                                      : foreach_artifact_ref(e, k, fn, userdata);
                                if (r < 0)
                                        break;
                        }
                } else
                        r = foreach_artifact_ref(v, k, fn, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int refs_foreach_artifact_ref(json_t *artifacts, ArtifactRefFn fn, void *userdata) {
        return foreach_artifact_ref(artifacts, NULL, fn, userdata);
}

int refs_read_record(Store *s, const ObjectId *id, const char *type, json_t **ret) {
        json_t *j = NULL;
        int r = store_read_json(s, id, &j);
        if (r < 0)
                return r;
        const char *t = json_string_value(json_object_get(j, "type"));
        if (!json_is_object(j) || !t || (type && strcmp(t, type) != 0)) {
                json_decref(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

void now_rfc3339(char buf[static 32]) {
        time_t now = time(NULL);
        const char *e = getenv("SOURCE_DATE_EPOCH");
        if (e && *e)
                now = (time_t) strtoll(e, NULL, 10);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
