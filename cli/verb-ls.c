/* SPDX-License-Identifier: Apache-2.0 */
/* isle ls: the bundles; isle ls NAME[@REV]: what a revision holds. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "refs.h"
#include "tree-builder.h"

typedef struct BundleRow {
        char *name;
        uint32_t latest, revisions;
        ObjectId latest_id;
} BundleRow;

typedef struct BundleList {
        BundleRow *rows;
        size_t n, allocated;
} BundleList;

static int collect(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        BundleList *l = u;
        if (l->n == 0 || strcmp(l->rows[l->n - 1].name, bundle) != 0) {
                int r = GROW(l->rows, l->allocated, l->n + 1);
                if (r < 0)
                        return r;
                l->rows[l->n++] = (BundleRow) { .name = strdup(bundle) };
        }
        BundleRow *b = &l->rows[l->n - 1];
        b->latest = rev;
        b->latest_id = *id;
        b->revisions++;
        return 0;
}

static void bundle_list_done(BundleList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->rows[i].name);
        free(l->rows);
}

/* The end of every listing: prints out with --json and frees it. Returns
 * the exit status, 1 when failed (and the failure was already said). */
static int finish(json_t *out, bool failed) {
        if (!failed && cli.json)
                cli_print_json(out);
        else
                json_decref(out);
        return failed ? 1 : 0;
}

static int list_bundles(Store *s) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(s), false, &t);
        if (r < 0)
                return cli_fail(r, "cannot read the catalog");
        BundleList l = {};
        r = catalog_foreach_revision(t, NULL, collect, &l);
        /* Which revision of each bundle is active in the current generation. */
        json_t *active = NULL;
        uint64_t cur;
        ObjectId gid;
        if (refs_current(t, &cur) >= 0 && catalog_get_generation(t, cur, &gid) >= 0) {
                json_t *g;
                if (refs_read_record(s, &gid, "generation", &g) >= 0) {
                        active = json_incref(json_object_get(g, "active"));
                        json_decref(g);
                }
        }
        json_t *out = json_array();
        if (!cli.json && r >= 0)
                printf("%-24s %8s %9s %10s %12s  %s\n", "BUNDLE", "LATEST", "REVISIONS", "ARTIFACTS", "SIZE",
                       "ACTIVE");
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                BundleRow *b = &l.rows[i];
                json_t *rec;
                r = refs_read_record(s, &b->latest_id, "revision", &rec);
                if (r < 0) {
                        cli_fail(r, "cannot read %s@%u", b->name, b->latest);
                        break;
                }
                json_int_t size = json_integer_value(json_object_get(rec, "size"));
                size_t artifacts = json_array_size(json_object_get(rec, "artifacts"));
                json_decref(rec);
                json_int_t active_rev = cli_active_in(active, b->name);
                if (cli.json)
                        json_array_append_new(out, json_pack("{s:s,s:i,s:i,s:I,s:I,s:o}", "bundle", b->name,
                                                             "latest", (json_int_t) b->latest, "revisions",
                                                             (json_int_t) b->revisions, "artifacts",
                                                             (json_int_t) artifacts, "size", size, "active",
                                                             active_rev ? json_integer(active_rev) : json_null()));
                else {
                        char buf[32], act[32] = "-";
                        if (active_rev)
                                snprintf(act, sizeof act, "@%" JSON_INTEGER_FORMAT, active_rev);
                        printf("%-24s %8u %9u %10zu %12s  %s\n", b->name, b->latest, b->revisions, artifacts,
                               format_bytes(buf, (uint64_t) size), act);
                }
        }
        bundle_list_done(&l);
        json_decref(active);
        return finish(out, r < 0);
}

static int list_tree(Store *s, const ObjectId *tree, const char *prefix, json_t *out) {
        _cleanup_(tree_freep) Tree *t = NULL;
        int r = store_read_tree(s, tree, &t);
        if (r < 0)
                return cli_fail(r, "cannot read tree %s (%s)", object_id_hex(tree), *prefix ? prefix : "/");
        for (size_t i = 0; i < t->n_entries; i++) {
                const TreeEntry *e = &t->entries[i];
                _cleanup_free_ char *path = *prefix ? path_join(prefix, e->name) : strdup(e->name);
                if (!path)
                        return -ENOMEM;
                _cleanup_free_ char *target = NULL;
                if (e->kind == TREE_ENTRY_SYMLINK) {
                        size_t n;
                        if (store_read_blob(s, &e->id, 4096, (void **) &target, &n) < 0)
                                target = strdup("?");
                }
                if (cli.json) {
                        json_t *row = json_pack("{s:s,s:s,s:s,s:I,s:s}", "path", path, "type",
                                                tree_entry_kind_to_string(e->kind), "mode", "", "size",
                                                (json_int_t) e->size, "digest", "");
                        char mode[8];
                        snprintf(mode, sizeof mode, "%04o", e->mode);
                        json_object_set_new(row, "mode", json_string(mode));
                        char digest[80];
                        snprintf(digest, sizeof digest, "sha256:%s", object_id_hex(&e->id));
                        json_object_set_new(row, "digest", json_string(digest));
                        if (target)
                                json_object_set_new(row, "target", json_string(target));
                        json_array_append_new(out, row);
                } else {
                        char kind = e->kind == TREE_ENTRY_DIR ? 'd' : e->kind == TREE_ENTRY_SYMLINK ? 'l' : '-';
                        printf("%c%04o %12" PRIu64 "  %s%s%s%s\n", kind, e->mode, e->size, path,
                               e->kind == TREE_ENTRY_DIR ? "/" : "", target ? " -> " : "", target ? target : "");
                }
                if (e->kind == TREE_ENTRY_DIR) {
                        r = list_tree(s, &e->id, path, out);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

/* isle ls --images: the image artifacts of one revision record. */
static void print_images(const json_t *rec, json_t *out) {
        const char *bundle = json_string_value(json_object_get(rec, "bundle"));
        json_int_t rev = json_integer_value(json_object_get(rec, "revision"));
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(rec, "artifacts"), i, a) {
                const char *kind = json_string_value(json_object_get(a, "kind"));
                if (!kind || strcmp(kind, "image") != 0)
                        continue;
                const char *repo = json_string_value(json_object_get(a, "repository"));
                const char *tag = json_string_value(json_object_get(a, "tag"));
                const char *digest = json_string_value(json_object_get(a, "digest"));
                json_t *platforms = json_object_get(a, "platforms");
                json_int_t bytes = json_integer_value(json_object_get(a, "bytes"));
                if (cli.json) {
                        json_array_append_new(out, json_pack("{s:s,s:I,s:s,s:s,s:s,s:O,s:O,s:I}", "bundle", bundle,
                                                             "revision", rev, "repository", repo ? repo : "", "tag",
                                                             tag ? tag : "", "digest", digest ? digest : "",
                                                             "mediaType", json_object_get(a, "mediaType"),
                                                             "platforms", platforms, "size", bytes));
                        continue;
                }
                char plat[256] = "", buf[32];
                size_t k;
                json_t *p;
                json_array_foreach(platforms, k, p)
                        snprintf(plat + strlen(plat), sizeof plat - strlen(plat), "%s%s", k ? "," : "",
                                 json_string_value(p));
                printf("%-16s %-40s %-16s %-19.19s %-24s %10s\n", bundle, repo ? repo : "?", tag ? tag : "?",
                       digest ? digest : "?", *plat ? plat : "-", format_bytes(buf, (uint64_t) bytes));
        }
}

static int list_images(Store *s, const char *spec) {
        json_t *out = json_array();
        if (!cli.json)
                printf("%-16s %-40s %-16s %-19s %-24s %10s\n", "BUNDLE", "REPOSITORY", "TAG", "DIGEST", "PLATFORMS",
                       "SIZE");
        int r = 0;
        if (spec) {
                json_t *rec;
                if (cli_read_revision(s, spec, &rec) < 0)
                        return finish(out, true);
                print_images(rec, out);
                json_decref(rec);
        } else {
                _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
                r = catalog_begin(store_catalog(s), false, &t);
                if (r < 0) {
                        json_decref(out);
                        return cli_fail(r, "cannot read the catalog");
                }
                BundleList l = {};
                r = catalog_foreach_revision(t, NULL, collect, &l);
                if (r < 0)
                        cli_fail(r, "cannot read the catalog");
                for (size_t i = 0; r >= 0 && i < l.n; i++) {
                        json_t *rec;
                        r = refs_read_record(s, &l.rows[i].latest_id, "revision", &rec);
                        if (r < 0) {
                                cli_fail(r, "cannot read %s@%u", l.rows[i].name, l.rows[i].latest);
                                break;
                        }
                        print_images(rec, out);
                        json_decref(rec);
                }
                bundle_list_done(&l);
        }
        return finish(out, r < 0);
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "images", no_argument, NULL, 'i' },
                {},
        };
        bool images = false;
        int c;
        while ((c = getopt_long(argc, argv, "i", options, NULL)) >= 0)
                switch (c) {
                case 'i': images = true; break;
                default: cli_usage(&verb_ls, stderr); return 2;
                }
        argc -= optind - 1;
        argv += optind - 1;
        if (argc > 2) {
                cli_usage(&verb_ls, stderr);
                return 2;
        }
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        if (images)
                return list_images(s, argc == 2 ? argv[1] : NULL);
        if (argc == 1)
                return list_bundles(s);

        json_t *rec;
        if (cli_read_revision(s, argv[1], &rec) < 0)
                return 1;
        ObjectId root;
        int r = json_get_id(rec, "root", &root);
        json_decref(rec);
        if (r < 0)
                return cli_fail(r, "%s: damaged revision record", argv[1]);
        json_t *out = json_array();
        r = list_tree(s, &root, "", out);
        return finish(out, r != 0);
}

const Verb verb_ls = {
        .name = "ls",
        .summary = "list bundles, or what a revision holds",
        .usage = "ls [NAME[@REV]] [--images]\n\n"
                 "Without an argument: every bundle with its latest revision, number of revisions,\n"
                 "artifacts, logical size and the revision active in the current generation.\n"
                 "With NAME[@REV]: every path of that revision's rendered tree (type, mode, size).\n"
                 "--images: the images (repository, tag, digest, platforms, size) of every bundle's\n"
                 "latest revision, or of NAME[@REV].",
        .run = run,
};
