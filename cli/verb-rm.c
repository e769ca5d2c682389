/* SPDX-License-Identifier: Apache-2.0 */
/* isle rm KIND SPEC...: one new revision of a bundle without the artifacts
 * the SPECs name (import/importer.h's remove). All or nothing, like add:
 * a SPEC that names nothing aborts and the store stays as it was. */
#include <stdio.h>

#include "cli.h"
#include "importer.h"
#include "log.h"
#include "publish.h"
#include "refs.h"

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "message", required_argument, NULL, 'm' },
                { "activate", no_argument, NULL, 'a' },
                {},
        };
        const char *bundle = "default", *message = NULL;
        bool activate = false;
        int c;
        while ((c = getopt_long(argc, argv, "b:m:a", options, NULL)) >= 0)
                switch (c) {
                case 'b': bundle = optarg; break;
                case 'm': message = optarg; break;
                case 'a': activate = true; break;
                default: cli_usage(&verb_rm, stderr); return 2;
                }
        if (argc - optind < 2) {
                cli_usage(&verb_rm, stderr);
                return 2;
        }
        const char *kind = argv[optind];
        const Importer *k = importer_find(kind);
        if (!k)
                return cli_fail(0, "unknown kind '%s' for rm (known: %s)", kind, importer_names());
        if (!k->remove)
                return cli_fail(0, "rm does not handle %s artifacts", kind);
        if (!bundle_name_valid(bundle))
                return cli_fail(0, "'%s' is not a valid bundle name", bundle);

        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;
        json_t *artifacts = NULL;
        uint32_t parent = 0;
        int r = publish_parent_artifacts(t, bundle, &artifacts, &parent);
        if (r < 0)
                return cli_fail(r, "cannot read bundle %s", bundle);
        if (parent == 0) {
                json_decref(artifacts);
                return cli_fail(0, "no bundle named %s", bundle);
        }
        json_t *summary = json_object();
        _cleanup_free_ char *err = NULL;
        r = k->remove(artifacts, argv + optind + 1, argc - optind - 1, summary, &err);
        if (r < 0) {
                json_decref(artifacts);
                json_decref(summary);
                return cli_fail_detail(r, err, "rm %s from %s", kind, bundle);
        }
        _cleanup_free_ char *msg = NULL;
        if (!message && asprintf(&msg, "rm %s", kind) < 0) {
                json_decref(artifacts);
                json_decref(summary);
                return cli_fail(-ENOMEM, "rm");
        }
        uint32_t rev;
        r = publish_revision(t, bundle, artifacts, message ? message : msg, &rev, &err);
        json_decref(artifacts);
        if (r < 0) {
                json_decref(summary);
                return cli_fail_detail(r, err, "cannot make a revision of %s", bundle);
        }
        uint64_t gen = 0;
        if (activate) {
                char m[256];
                snprintf(m, sizeof m, "activate %s@%u", bundle, rev);
                r = publish_activate(t, bundle, rev, m, &gen, &err);
                if (r < 0) {
                        json_decref(summary);
                        return cli_fail_detail(r, err, "cannot activate %s@%u", bundle, rev);
                }
        }
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0) {
                json_decref(summary);
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        }
        json_object_set_new(summary, "bundle", json_string(bundle));
        json_object_set_new(summary, "revision", json_integer(rev));
        if (gen)
                json_object_set_new(summary, "generation", json_integer((json_int_t) gen));
        if (cli.json)
                cli_print_json(summary);
        else {
                if (!cli.quiet)
                        printf("%s@%u: %d %s artifact%s removed%s\n", bundle, rev, argc - optind - 1, kind,
                               argc - optind - 1 == 1 ? "" : "s", gen ? " (activated)" : "");
                json_decref(summary);
        }
        return 0;
}

const Verb verb_rm = {
        .name = "rm",
        .summary = "remove artifacts from a bundle, as a new revision",
        .usage = "rm image REPO[:TAG]... [--bundle NAME] [-m MSG] [--activate]\n\n"
                 "  image REPO[:TAG]  images by name, normalised as `add image` does\n"
                 "                    (nginx:1.25 is docker.io/library/nginx:1.25; no tag is latest)\n"
                 "  --bundle NAME     the bundle to remove from (default: default)\n"
                 "  -m, --message     the revision's message\n"
                 "  --activate        also make the new revision current, in the same transaction",
        .run = run,
};
