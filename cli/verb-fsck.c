/* placeholder, being written */
#include "cli.h"
static int run(int argc, char **argv) { return cli_fail(-EOPNOTSUPP, "fsck"); }
const Verb verb_fsck = { .name = "fsck", .summary = "fsck", .usage = "fsck", .run = run };
