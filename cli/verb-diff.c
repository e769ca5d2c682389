/* SPDX-License-Identifier: Apache-2.0 */
/* isle diff A B: paths added, removed and changed between two revisions.
 * Subtrees with equal ids are skipped whole, so the cost follows the size
 * of the change, not of the trees. */
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "refs.h"
#include "tree-builder.h"

typedef struct Diff {
        Store *store;
        json_t *added, *removed, *changed;
} Diff;

static int report(Diff *d, json_t *list, char sign, const char *path, const TreeEntry *e);

/* Every path below (and including) a subtree, as added or removed. */
static int report_all(Diff *d, json_t *list, char sign, const char *path, const TreeEntry *e) {
        if (e->kind != TREE_ENTRY_DIR)
                return report(d, list, sign, path, e);
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(d->store, &e->id, &t);
        if (r < 0)
                return r;
        if (t->n_entries == 0)
                return report(d, list, sign, path, e);
        for (size_t i = 0; i < t->n_entries; i++) {
                _cleanup_free_ char *sub = path_join(path, t->entries[i].name);
                if (!sub)
                        return -ENOMEM;
                r = report_all(d, list, sign, sub, &t->entries[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int report(Diff *d, json_t *list, char sign, const char *path, const TreeEntry *e) {
        json_array_append_new(list, json_string(path));
        if (!cli.json)
                printf("%c %s%s\n", sign, path, e && e->kind == TREE_ENTRY_DIR ? "/" : "");
        return 0;
}

static int diff_trees(Diff *d, const ObjectId *a, const ObjectId *b, const char *prefix) {
        if (object_id_equal(a, b))
                return 0;
        _cleanup_(tree_freep) Tree *ta = NULL, *tb = NULL;
        int r = store_read_tree(d->store, a, &ta);
        if (r >= 0)
                r = store_read_tree(d->store, b, &tb);
        if (r < 0)
                return r;
        size_t i = 0, j = 0;
        while (i < ta->n_entries || j < tb->n_entries) {
                const TreeEntry *x = i < ta->n_entries ? &ta->entries[i] : NULL;
                const TreeEntry *y = j < tb->n_entries ? &tb->entries[j] : NULL;
                int c = !x ? 1 : !y ? -1 : strcmp(x->name, y->name);
                _cleanup_free_ char *path = path_join(prefix, c <= 0 ? x->name : y->name);
                if (!path)
                        return -ENOMEM;
                const char *p = *prefix ? path : path + 1;
                if (c < 0) {
                        r = report_all(d, d->removed, '-', p, x);
                        i++;
                } else if (c > 0) {
                        r = report_all(d, d->added, '+', p, y);
                        j++;
                } else {
                        if (x->kind == TREE_ENTRY_DIR && y->kind == TREE_ENTRY_DIR) {
                                if (x->mode != y->mode)
                                        r = report(d, d->changed, 'M', p, y);
                                if (r >= 0)
                                        r = diff_trees(d, &x->id, &y->id, p);
                        }
                        else if (x->kind != y->kind || x->mode != y->mode || !object_id_equal(&x->id, &y->id))
                                r = report(d, d->changed, 'M', p, y);
                        i++;
                        j++;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_root(Store *s, const char *spec, ObjectId *ret) {
        json_t *rec;
        if (cli_read_revision(s, spec, &rec) < 0)
                return -ENOENT;
        int r = json_get_id(rec, "root", ret);
        json_decref(rec);
        if (r < 0)
                cli_fail(r, "%s: damaged revision record", spec);
        return r;
}

static int run(int argc, char **argv) {
        if (argc != 3) {
                cli_usage(&verb_diff, stderr);
                return 2;
        }
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        ObjectId a, b;
        if (read_root(s, argv[1], &a) < 0 || read_root(s, argv[2], &b) < 0)
                return 1;
        Diff d = { s, json_array(), json_array(), json_array() };
        int r = diff_trees(&d, &a, &b, "");
        if (r < 0) {
                json_decref(d.added);
                json_decref(d.removed);
                json_decref(d.changed);
                return cli_fail(r, "cannot compare %s and %s", argv[1], argv[2]);
        }
        if (cli.json)
                cli_print_json(json_pack("{s:o,s:o,s:o}", "added", d.added, "removed", d.removed, "changed",
                                         d.changed));
        else {
                json_decref(d.added);
                json_decref(d.removed);
                json_decref(d.changed);
        }
        return 0;
}

const Verb verb_diff = {
        .name = "diff",
        .summary = "what changed between two revisions",
        .usage = "diff NAME@A NAME@B\n\n"
                 "Paths of the rendered trees: '+' added, '-' removed, 'M' changed (content, mode or type).",
        .run = run,
};
