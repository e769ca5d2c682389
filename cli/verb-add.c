/* SPDX-License-Identifier: Apache-2.0 */
/* isle add KIND SRC...: one new revision of a bundle holding the parent's
 * artifacts plus what the sources bring (import/importer.h). All or
 * nothing: any error aborts the transaction and the store stays exactly as
 * it was. */
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "file-import.h"
#include "importer.h"
#include "fileio.h"
#include "log.h"
#include "publish.h"
#include "refs.h"

static void on_progress(uint64_t bytes, void *userdata) {
        progress_update(userdata, bytes);
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "message", required_argument, NULL, 'm' },
                { "prefix", required_argument, NULL, 'p' },
                { "activate", no_argument, NULL, 'a' },
                { "name", required_argument, NULL, 'n' },
                {},
        };
        ImportOptions o = { .bundle = "default" };
        bool activate = false;
        const char *message = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "b:m:p:a", options, NULL)) >= 0)
                switch (c) {
                case 'b': o.bundle = optarg; break;
                case 'm': message = optarg; break;
                case 'p': o.prefix = optarg; break;
                case 'n': o.name = optarg; break;
                case 'a': activate = true; break;
                default: cli_usage(&verb_add, stderr); return 2;
                }
        if (argc - optind < 2) {
                cli_usage(&verb_add, stderr);
                return 2;
        }
        const char *kind = argv[optind];
        const Importer *k = importer_find(kind);
        if (!k)
                return cli_fail(0, "unknown kind '%s' for add (known: %s)", kind, importer_names());
        if (!bundle_name_valid(o.bundle))
                return cli_fail(0, "'%s' is not a valid bundle name (letters, digits, '.', '_', '-'; at most 128)",
                                o.bundle);
        if (o.prefix && file_import_check_prefix(o.prefix) < 0)
                return cli_fail(0, "--prefix %s: must be a relative path inside the files view (no '..', no "
                                   "leading '/')",
                                o.prefix);

        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;

        json_t *artifacts = NULL;
        int r = publish_parent_artifacts(t, o.bundle, &artifacts, NULL);
        if (r < 0)
                return cli_fail(r, "cannot read bundle %s", o.bundle);
        json_t *summary = json_object();
        _cleanup_free_ char *err = NULL;
        _cleanup_(progress_freep) Progress *p = progress_new("adding", 0);
        import_set_progress(on_progress, p);
        r = k->add(t, artifacts, argv + optind + 1, argc - optind - 1, &o, summary, &err);
        import_set_progress(NULL, NULL);
        if (r < 0) {
                json_decref(artifacts);
                json_decref(summary);
                return cli_fail_detail(r, err, "add %s", kind);
        }
        uint32_t rev;
        _cleanup_free_ char *msg = NULL;
        if (!message && asprintf(&msg, "add %s", kind) < 0)
                return cli_fail(-ENOMEM, "add");
        r = publish_revision(t, o.bundle, artifacts, message ? message : msg, &rev, &err);
        json_decref(artifacts);
        if (r < 0) {
                json_decref(summary);
                return cli_fail_detail(r, err, "cannot make a revision of %s", o.bundle);
        }
        uint64_t gen = 0;
        if (activate) {
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
        .usage = "add KIND SRC... [--bundle NAME] [-m MSG] [--activate] [--prefix DIR] [--name REPO[:TAG]]\n\n"
                 "  file PATH...        files, directories (recursively) and symlinks; modes and empty\n"
                 "                      directories are kept. PATH/ or . adds a directory's contents.\n"
                 "  image SRC[:TAG]...  a docker-archive tar (docker save, skopeo docker-archive:), an\n"
                 "                      OCI layout directory (every tagged image, or DIR:TAG), or an\n"
                 "                      OCI archive tar; every digest is verified before commit\n"
                 "  --bundle NAME       the bundle to add to (default: default)\n"
                 "  -m, --message       the revision's message\n"
                 "  --activate          also make the new revision current, in the same transaction\n"
                 "  --prefix DIR        file: where the sources go inside the files view\n"
                 "  --name REPO[:TAG]   image: the name to store it under (nginx:1.25 means\n"
                 "                      docker.io/library/nginx:1.25); REPO alone renames every image",
        .run = run,
};
