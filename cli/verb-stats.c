/* placeholder, being written */
#include "cli.h"
static int run(int argc, char **argv) { return cli_fail(-EOPNOTSUPP, "stats"); }
const Verb verb_stats = { .name = "stats", .summary = "stats", .usage = "stats", .run = run };
