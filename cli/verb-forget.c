/* SPDX-License-Identifier: Apache-2.0 */
/* isle forget NAME@REV: drop a revision that is not active, so gc can
 * reclaim what only it reached. */
#include <stdio.h>

#include "cli.h"
#include "refs.h"

static int run(int argc, char **argv) {
        if (argc != 2) {
                cli_usage(&verb_forget, stderr);
                return 2;
        }
        _cleanup_free_ char *name = NULL;
        uint32_t rev;
        if (revision_spec_parse(argv[1], &name, &rev) < 0 || rev == 0)
                return cli_fail(0, "'%s': expected NAME@N (a revision number)", argv[1]);
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;
        CatalogTxn *c = store_txn_catalog(t);
        int r = refs_resolve(c, name, rev, NULL, NULL);
        if (r == -ENOENT)
                return cli_fail(0, "bundle %s has no revision %u", name, rev);
        if (r < 0)
                return cli_fail(r, "cannot resolve %s", argv[1]);
        uint32_t active_rev;
        r = cli_active_revision(t, name, &active_rev);
        if (r < 0)
                return 1;
        if (r > 0 && active_rev == rev)
                return cli_fail(0, "%s@%u is active in the current generation; activate another revision or "
                                   "deactivate %s first",
                                name, rev, name);
        r = catalog_del_revision(c, name, rev);
        if (r < 0)
                return cli_fail(r, "cannot forget %s@%u", name, rev);
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0)
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        if (!cli.quiet && !cli.json)
                printf("forgot %s@%u (run `isle gc` to reclaim its space)\n", name, rev);
        return 0;
}

const Verb verb_forget = {
        .name = "forget",
        .summary = "drop a revision that is not active",
        .usage = "forget NAME@REV\n\n"
                 "Removes the revision from its bundle. Generations that used it keep it reachable\n"
                 "(so rollback stays exact); `isle gc` reclaims what nothing reaches any more.",
        .run = run,
};
