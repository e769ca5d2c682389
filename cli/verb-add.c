/* SPDX-License-Identifier: Apache-2.0 */
/* isle add KIND SRC...: one new revision of a bundle holding the parent's
 * artifacts plus what the sources bring. All or nothing: any error aborts
 * the transaction and the store stays exactly as it was. */
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "file-import.h"
#include "fileio.h"
#include "log.h"
#include "publish.h"
#include "refs.h"

typedef struct AddOptions {
        const char *bundle;
        const char *message;
        const char *prefix;
        bool activate;
} AddOptions;

/* One source kind: merges what srcs bring into the artifact list. */
typedef struct AddKind {
        const char *name;
        int (*add)(StoreTxn *t, json_t *artifacts, char **srcs, int n, const AddOptions *o, json_t *summary,
                   char **reterr);
} AddKind;

static void on_progress(uint64_t bytes, void *userdata) {
        progress_update(userdata, bytes);
}

/* Where src lands: its base name under the prefix; "dir/" and "." put a
 * directory's contents at the prefix itself. */
static char *file_dest(const char *src, const char *prefix) {
        size_t n = strlen(src);
        bool contents = strcmp(src, ".") == 0 || (n > 1 && src[n - 1] == '/') || strcmp(src, "/") == 0;
        if (contents)
                return strdup(prefix ? prefix : "");
        _cleanup_free_ char *copy = strdup(src);
        if (!copy)
                return NULL;
        const char *base = basename(copy);
        if (strcmp(base, "..") == 0 || strcmp(base, ".") == 0)
                return strdup(prefix ? prefix : "");
        return prefix && *prefix ? path_join(prefix, base) : strdup(base);
}

static int add_files(StoreTxn *t, json_t *artifacts, char **srcs, int n, const AddOptions *o, json_t *summary,
                     char **reterr) {
        Store *s = store_txn_store(t);
        /* The files artifact is one tree; the new one is the parent's with
         * the sources laid over it. */
        json_t *old = NULL;
        size_t i;
        json_t *a;
        json_array_foreach(artifacts, i, a)
                if (strcmp(json_string_value(json_object_get(a, "kind")), "files") == 0) {
                        old = a;
                        break;
                }
        ObjectId base;
        bool have_base = old && json_get_id(old, "tree", &base) >= 0;

        _cleanup_(tree_builder_freep) TreeBuilder *b = NULL;
        int r = tree_builder_new(s, have_base ? &base : NULL, &b);
        if (r < 0)
                return r;
        _cleanup_(blob_writer_freep) BlobWriter *w = NULL;
        r = blob_writer_new(t, &w);
        if (r < 0)
                return r;

        FileImportStats stats = {};
        _cleanup_(progress_freep) Progress *p = progress_new("adding files", 0);
        for (int k = 0; k < n; k++) {
                _cleanup_free_ char *dest = file_dest(srcs[k], o->prefix);
                if (!dest)
                        return -ENOMEM;
                if (!*dest) {
                        struct stat st;
                        if (stat(srcs[k], &st) == 0 && !S_ISDIR(st.st_mode)) {
                                if (asprintf(reterr, "%s: a file needs a name; give --prefix", srcs[k]) < 0)
                                        *reterr = NULL;
                                return -EINVAL;
                        }
                }
                r = file_import(w, b, srcs[k], dest, &stats, on_progress, p, reterr);
                if (r < 0)
                        return r;
        }
        ObjectId root;
        uint64_t size;
        r = tree_builder_write(b, t, &root, &size);
        if (r < 0)
                return r;
        json_t *art = json_pack("{s:s,s:s,s:I}", "kind", "files", "tree", object_id_hex(&root), "size",
                                (json_int_t) size);
        if (!art)
                return -ENOMEM;
        if (old)
                json_array_set_new(artifacts, i, art);
        else
                json_array_append_new(artifacts, art);
        json_object_set_new(summary, "files", json_integer((json_int_t) stats.files));
        json_object_set_new(summary, "directories", json_integer((json_int_t) stats.dirs));
        json_object_set_new(summary, "symlinks", json_integer((json_int_t) stats.symlinks));
        json_object_set_new(summary, "bytes", json_integer((json_int_t) stats.bytes));
        json_object_set_new(summary, "new_bytes", json_integer((json_int_t) blob_writer_bytes_new(w)));
        return 0;
}

static const AddKind kinds[] = {
        { "file", add_files },
};

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "message", required_argument, NULL, 'm' },
                { "prefix", required_argument, NULL, 'p' },
                { "activate", no_argument, NULL, 'a' },
                {},
        };
        AddOptions o = { .bundle = "default" };
        int c;
        while ((c = getopt_long(argc, argv, "b:m:p:a", options, NULL)) >= 0)
                switch (c) {
                case 'b': o.bundle = optarg; break;
                case 'm': o.message = optarg; break;
                case 'p': o.prefix = optarg; break;
                case 'a': o.activate = true; break;
                default: cli_usage(&verb_add, stderr); return 2;
                }
        if (argc - optind < 2) {
                cli_usage(&verb_add, stderr);
                return 2;
        }
        const char *kind = argv[optind];
        const AddKind *k = NULL;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (strcmp(kinds[i].name, kind) == 0)
                        k = &kinds[i];
        if (!k)
                return cli_fail(0, "unknown kind '%s' for add (known: file)", kind);
        if (!bundle_name_valid(o.bundle))
                return cli_fail(0, "'%s' is not a valid bundle name (letters, digits, '.', '_', '-'; at most 128)",
                                o.bundle);
        if (o.prefix && file_import_check_prefix(o.prefix) < 0)
                return cli_fail(0, "--prefix %s: must be a relative path inside the files view (no '..', no "
                                   "leading '/')",
                                o.prefix);

        _cleanup_(store_freep) Store *s = NULL;
        int r = cli_open_store(true, &s);
        if (r < 0)
                return 1;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        r = store_begin(s, &t);
        if (r < 0)
                return cli_fail(r, "cannot start a transaction in %s", cli.store_path);

        json_t *artifacts = NULL;
        r = publish_parent_artifacts(t, o.bundle, &artifacts, NULL);
        if (r < 0)
                return cli_fail(r, "cannot read bundle %s", o.bundle);
        json_t *summary = json_object();
        _cleanup_free_ char *err = NULL;
        r = k->add(t, artifacts, argv + optind + 1, argc - optind - 1, &o, summary, &err);
        if (r < 0) {
                json_decref(artifacts);
                json_decref(summary);
                return cli_fail_detail(r, err, "add %s", kind);
        }
        uint32_t rev;
        _cleanup_free_ char *msg = NULL;
        if (!o.message && asprintf(&msg, "add %s", kind) < 0)
                return cli_fail(-ENOMEM, "add");
        r = publish_revision(t, o.bundle, artifacts, o.message ? o.message : msg, &rev, &err);
        json_decref(artifacts);
        if (r < 0) {
                json_decref(summary);
                return cli_fail_detail(r, err, "cannot make a revision of %s", o.bundle);
        }
        uint64_t gen = 0;
        if (o.activate) {
                char m[256];
                snprintf(m, sizeof m, "activate %s@%u", o.bundle, rev);
                r = publish_activate(t, o.bundle, rev, m, &gen, &err);
                if (r < 0) {
                        json_decref(summary);
                        return cli_fail_detail(r, err, "cannot activate %s@%u", o.bundle, rev);
                }
        }
        uint64_t written = store_txn_bytes_written(t);
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0) {
                json_decref(summary);
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        }
        json_object_set_new(summary, "bundle", json_string(o.bundle));
        json_object_set_new(summary, "revision", json_integer(rev));
        json_object_set_new(summary, "stored_bytes", json_integer((json_int_t) written));
        if (gen)
                json_object_set_new(summary, "generation", json_integer((json_int_t) gen));
        if (cli.json)
                cli_print_json(summary);
        else {
                char a[32], b[32];
                json_int_t bytes = json_integer_value(json_object_get(summary, "bytes"));
                if (!cli.quiet)
                        printf("%s@%u: %s added, %s new in the store%s\n", o.bundle, rev,
                               format_bytes(a, (uint64_t) bytes), format_bytes(b, written),
                               gen ? " (activated)" : "");
                json_decref(summary);
        }
        return 0;
}

const Verb verb_add = {
        .name = "add",
        .summary = "add sources as a new revision of a bundle",
        .usage = "add file PATH... [--bundle NAME] [-m MSG] [--prefix DIR] [--activate]\n\n"
                 "  file PATH...     files, directories (recursively) and symlinks; modes and empty\n"
                 "                   directories are kept. PATH/ or . adds a directory's contents.\n"
                 "  --bundle NAME    the bundle to add to (default: default)\n"
                 "  -m, --message    the revision's message\n"
                 "  --prefix DIR     where the sources go inside the files view\n"
                 "  --activate       also make the new revision current, in the same transaction",
        .run = run,
};
