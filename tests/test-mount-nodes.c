/* SPDX-License-Identifier: Apache-2.0 */
/* The mount's inode table (fs/mount-nodes.h): one node per key, counted
 * references, stable inode numbers, fixed top-level nodes. */
#include "mount-nodes.h"
#include "tap.h"

static ObjectId id_of(const char *s) {
        ObjectId id;
        object_id_hash(s, strlen(s), &id);
        return id;
}

static void count_fn(const MountNode *n, void *u) {
        (*(size_t *) u)++;
}

int main(void) {
        MountNodes *t;
        check(mount_nodes_new(&t) == 0, "new");

        MountNode *root = mount_nodes_fixed(t, MOUNT_NODE_ROOT);
        check(root->ino == 1, "the root is inode 1");
        MountNodeKey gens = { .kind = MOUNT_NODE_GENERATIONS };
        MountNode *n;
        check(mount_nodes_ref(t, &gens, 0, NULL, &n) == 0 && n == mount_nodes_fixed(t, MOUNT_NODE_GENERATIONS),
              "a fixed key gives the fixed node");
        mount_nodes_unref(t, n, 5); /* ignored for fixed nodes */
        check(mount_nodes_count(t) == 0, "fixed nodes are not counted");

        ObjectId blob = id_of("blob");
        MountNodeKey file = { .kind = MOUNT_NODE_FILE, .mode = 0444, .id = blob };
        MountNode *a, *b, *x;
        check(mount_nodes_ref(t, &file, 1234, NULL, &a) == 1, "created");
        check(mount_nodes_ref(t, &file, 1234, NULL, &b) == 0 && a == b, "the same key is the same node");
        check(a->size == 1234 && a->ino == mount_node_key_ino(&file) && a->ino >= 16, "size and st_ino");
        MountNodeKey exec = file;
        exec.mode = 0555;
        check(mount_nodes_ref(t, &exec, 1234, NULL, &x) == 1 && x != a && x->ino != a->ino,
              "another mode is another node");
        check(mount_nodes_ref_existing(t, &exec, &b) == 1 && b == x, "ref_existing finds it");
        MountNodeKey dir = { .kind = MOUNT_NODE_DIR, .id = blob };
        check(mount_nodes_ref_existing(t, &dir, &b) == 0, "ref_existing: no node, nothing made");
        check(mount_nodes_count(t) == 2, "two nodes");

        /* Names are compared as strings, not pointers. */
        char name1[] = "app", name2[] = "app";
        MountNodeKey bundle1 = { .kind = MOUNT_NODE_BUNDLE, .name = name1 };
        MountNodeKey bundle2 = { .kind = MOUNT_NODE_BUNDLE, .name = name2 };
        MountNode *b1, *b2;
        check(mount_nodes_ref(t, &bundle1, 0, NULL, &b1) == 1, "bundle node");
        name1[0] = 'X'; /* the node owns a copy */
        check(mount_nodes_ref(t, &bundle2, 0, NULL, &b2) == 0 && b1 == b2 && strcmp(b2->key.name, "app") == 0,
              "found by name");
        MountNodeKey rev1 = { .kind = MOUNT_NODE_REVISION, .name = "app", .number = 1, .id = id_of("r1") };
        MountNodeKey rev2 = rev1;
        rev2.id = id_of("r1 again"); /* the number reused for another record */
        MountNode *r1, *r2;
        check(mount_nodes_ref(t, &rev1, 0, &blob, &r1) == 1 && mount_nodes_ref(t, &rev2, 0, &blob, &r2) == 1 &&
                      r1 != r2 && r1->ino != r2->ino && object_id_equal(&r1->tree, &blob),
              "a revision number with another record is another node");
        size_t n_revs = 0;
        mount_nodes_foreach(t, MOUNT_NODE_REVISION, count_fn, &n_revs);
        check(n_revs == 2, "foreach sees both revisions");

        /* Forget: freed at zero, and then made anew. */
        mount_nodes_unref(t, a, 2);
        check(mount_nodes_count(t) == 4, "a node with no references is gone");
        check(mount_nodes_ref_existing(t, &file, &b) == 0, "and not found");
        check(mount_nodes_ref(t, &file, 1234, NULL, &a) == 1 && a->ino == mount_node_key_ino(&file),
              "made again with the same st_ino");

        /* Many nodes: the table grows and still finds each. */
        bool all = true;
        for (unsigned i = 0; i < 5000; i++) {
                MountNodeKey k = { .kind = MOUNT_NODE_DIR };
                object_id_hash(&i, sizeof i, &k.id);
                all = all && mount_nodes_ref(t, &k, 0, &k.id, &n) == 1;
        }
        for (unsigned i = 0; i < 5000; i++) {
                MountNodeKey k = { .kind = MOUNT_NODE_DIR };
                object_id_hash(&i, sizeof i, &k.id);
                all = all && mount_nodes_ref_existing(t, &k, &n) == 1 && n->nlookup == 2;
        }
        check(all && mount_nodes_count(t) == 5005, "5000 more nodes, each found");
        mount_nodes_free(t); /* frees the rest (ASan: no leak) */
        return tap_done_testing();
}
