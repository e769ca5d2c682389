/* SPDX-License-Identifier: Apache-2.0 */
/* isle inventory -o FILE|-: the ids of every object in the store
 * (import/inventory.h), for `isle export --have` on the sending side. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "inventory.h"

static int write_to(Store *s, const char *out, uint64_t *ret_count) {
        if (strcmp(out, "-") == 0) {
                if (isatty(STDOUT_FILENO))
                        return cli_fail(0, "refusing to write an inventory to a terminal; use -o FILE or a pipe");
                int r = inventory_write(s, STDOUT_FILENO, ret_count);
                return r < 0 ? cli_fail(r, "cannot write the inventory") : 0;
        }
        /* Temporary name, fsync, rename: FILE is never half-written. */
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.partial-%d", out, (int) getpid()) < 0)
                return cli_fail(-ENOMEM, "inventory");
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return cli_fail(-errno, "cannot create %s", tmp);
        int r = inventory_write(s, fd, ret_count);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, out) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return cli_fail(r, "cannot write %s", out);
        }
        return 0;
}

static int run(int argc, char **argv) {
        const char *out;
        int r = cli_parse_output_only(&verb_inventory, argc, argv, &out);
        if (r != 0)
                return r;
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        uint64_t count = 0;
        if (write_to(s, out, &count) != 0)
                return 1;
        bool to_stdout = strcmp(out, "-") == 0;
        if (cli.json && !to_stdout)
                cli_print_json(json_pack("{s:s,s:I}", "output", out, "objects", (json_int_t) count));
        else if (!cli.quiet)
                fprintf(to_stdout ? stderr : stdout, "inventory of %" PRIu64 " objects written to %s\n", count,
                        to_stdout ? "stdout" : out);
        return 0;
}

const Verb verb_inventory = {
        .name = "inventory",
        .summary = "list the objects this store holds, for `isle export --have` elsewhere",
        .usage = "inventory -o FILE|-\n\n"
                 "Writes the id of every object in the store (compact: zstd-compressed, sorted). Carry it\n"
                 "to the sending side: `isle export ... --have FILE` then leaves those objects out.",
        .run = run,
};
