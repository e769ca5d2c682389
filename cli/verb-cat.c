/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli.h"
#include "refs.h"
#include "tree-builder.h"

static int run(int argc, char **argv) {
        if (argc != 2) {
                cli_usage(&verb_cat, stderr);
                return 2;
        }
        const char *colon = strchr(argv[1], ':');
        if (!colon)
                return cli_fail(0, "'%s': expected NAME[@REV]:PATH", argv[1]);
        _cleanup_free_ char *spec = strndup(argv[1], (size_t) (colon - argv[1]));
        const char *path = colon + 1;

        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        json_t *rec;
        if (cli_read_revision(s, spec, &rec) < 0)
                return 1;
        ObjectId root;
        int r = json_get_id(rec, "root", &root);
        json_decref(rec);
        if (r < 0)
                return cli_fail(r, "%s: damaged revision record", spec);

        /* A path is looked up in the rendered tree, and inside files/ when
         * it is not found there, so `isle cat b:etc/x` finds files/etc/x. */
        TreeEntry e;
        r = tree_lookup_path(s, &root, path, &e);
        if (r == -ENOENT || r == -ENOTDIR) {
                _cleanup_free_ char *alt = NULL;
                if (asprintf(&alt, "files/%s", path) < 0)
                        return cli_fail(-ENOMEM, "cat");
                r = tree_lookup_path(s, &root, alt, &e);
        }
        if (r == -ENOENT || r == -ENOTDIR)
                return cli_fail(0, "%s has no file %s", spec, path);
        if (r < 0)
                return cli_fail(r, "%s:%s", spec, path);
        if (e.kind == TREE_ENTRY_DIR)
                return cli_fail(0, "%s:%s is a directory (use isle ls)", spec, path);

        _cleanup_(blob_freep) Blob *b = NULL;
        r = store_open_blob(s, &e.id, &b);
        if (r >= 0)
                r = store_blob_write_to_fd(s, b, STDOUT_FILENO);
        if (r == -EBADMSG)
                return cli_fail(0, "%s:%s: the stored bytes of blob sha256:%s are damaged (they do not match "
                                   "their digest); nothing wrong was written, run `isle fsck`",
                                spec, path, object_id_hex(&e.id));
        if (r == -EPIPE)
                return 0;
        if (r < 0)
                return cli_fail(r, "%s:%s (blob sha256:%s)", spec, path, object_id_hex(&e.id));
        return 0;
}

const Verb verb_cat = {
        .name = "cat",
        .summary = "write a file of a revision to stdout",
        .usage = "cat NAME[@REV]:PATH\n\n"
                 "PATH is a path in the revision's rendered tree (files/..., registry/...), or in its\n"
                 "files view. Every byte is verified against its digest before it is written.",
        .run = run,
};
