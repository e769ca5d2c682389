/* SPDX-License-Identifier: Apache-2.0 */
/* isle activate NAME@REV / isle deactivate NAME: a new current generation
 * with one bundle's active revision changed. */
#include <stdio.h>

#include "cli.h"
#include "publish.h"
#include "refs.h"

/* rev_wanted: false for deactivate. */
static int switch_bundle(const char *spec, bool activate) {
        _cleanup_free_ char *name = NULL;
        uint32_t rev;
        if (revision_spec_parse(spec, &name, &rev) < 0)
                return cli_fail(0, "'%s' is not a revision: expected NAME or NAME@N", spec);
        if (!activate && rev)
                return cli_fail(0, "deactivate takes a bundle name, not a revision");
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;
        int r;
        if (activate) {
                r = refs_resolve(store_txn_catalog(t), name, rev, &rev, NULL);
                if (r == -ENOENT)
                        return rev ? cli_fail(0, "bundle %s has no revision %u", name, rev)
                                   : cli_fail(0, "no bundle named %s", name);
                if (r < 0)
                        return cli_fail(r, "cannot resolve %s", spec);
        } else {
                r = cli_active_revision(t, name, NULL);
                if (r < 0)
                        return 1;
                if (r == 0)
                        return cli_fail(0, "bundle %s is not active", name);
        }
        char msg[300];
        if (activate)
                snprintf(msg, sizeof msg, "activate %s@%u", name, rev);
        else
                snprintf(msg, sizeof msg, "deactivate %s", name);
        uint64_t gen;
        _cleanup_free_ char *err = NULL;
        r = publish_activate(t, name, activate ? rev : 0, msg, &gen, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "cannot %s", msg);
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0)
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        if (cli.json)
                cli_print_json(json_pack("{s:I,s:s}", "generation", (json_int_t) gen, "message", msg));
        else if (!cli.quiet)
                printf("generation %llu: %s\n", (unsigned long long) gen, msg);
        return 0;
}

static int run_activate(int argc, char **argv) {
        if (argc != 2) {
                cli_usage(&verb_activate, stderr);
                return 2;
        }
        return switch_bundle(argv[1], true);
}

static int run_deactivate(int argc, char **argv) {
        if (argc != 2) {
                cli_usage(&verb_deactivate, stderr);
                return 2;
        }
        return switch_bundle(argv[1], false);
}

const Verb verb_activate = {
        .name = "activate",
        .summary = "make a bundle revision part of what is current",
        .usage = "activate NAME[@REV]\n\n"
                 "Makes a new generation: the current one with NAME at REV (default: its latest), and\n"
                 "points current at it. Fails, naming both bundles and the path, when two active\n"
                 "bundles would put different bytes at the same path.",
        .run = run_activate,
};

const Verb verb_deactivate = {
        .name = "deactivate",
        .summary = "remove a bundle from what is current",
        .usage = "deactivate NAME\n\nMakes a new generation: the current one without bundle NAME.",
        .run = run_deactivate,
};
