/* placeholder, being written */
#include "cli.h"
static int run(int argc, char **argv) { return cli_fail(-EOPNOTSUPP, "gc"); }
const Verb verb_gc = { .name = "gc", .summary = "gc", .usage = "gc", .run = run };
