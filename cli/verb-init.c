/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli.h"

static int run(int argc, char **argv) {
        if (argc > 1) {
                cli_usage(&verb_init, stderr);
                return 2;
        }
        int r = store_init(cli.store_path);
        if (r == -EEXIST)
                return cli_fail(0, "%s already exists and is not empty; not creating a store there", cli.store_path);
        if (r < 0)
                return cli_fail(r, "cannot create a store in %s", cli.store_path);
        if (cli.json)
                cli_print_json(json_pack("{s:s}", "store", cli.store_path));
        else if (!cli.quiet)
                printf("Created an empty isle store in %s\n", cli.store_path);
        return 0;
}

const Verb verb_init = {
        .name = "init",
        .summary = "create a store",
        .usage = "init\n\n"
                 "Creates a store in --store DIR, $ISLE_STORE, or the default (/var/lib/isle for root,\n"
                 "./.isle otherwise). The directory must not exist or be empty.",
        .run = run,
};
