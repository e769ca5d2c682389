/* SPDX-License-Identifier: Apache-2.0 */
/* isle gc: reclaim every object no revision, generation or the refs
 * snapshot reaches; rewrite packs that are mostly dead. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "gc.h"

static int run(int argc, char **argv) {
        int r = cli_parse_json_only(&verb_gc, argc, argv);
        if (r != 0)
                return r;
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(true, &s) < 0)
                return 1;
        GcReport rep;
        _cleanup_free_ char *detail = NULL;
        r = store_gc(s, &rep, &detail);
        if (r == -EBADMSG)
                return cli_fail_detail(r, detail,
                                       "gc stopped before changing anything: what a damaged object reaches is "
                                       "unknown (see `isle fsck`)");
        if (r < 0)
                return cli_fail_detail(r, detail, "gc of %s failed", cli.store_path);

        int64_t freed = (int64_t) rep.bytes_before - (int64_t) rep.bytes_after;
        if (cli.json) {
                cli_print_json(json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "bytes_freed",
                                         (json_int_t) freed, "bytes_before", (json_int_t) rep.bytes_before,
                                         "bytes_after", (json_int_t) rep.bytes_after, "objects_before",
                                         (json_int_t) rep.objects_before, "objects_removed",
                                         (json_int_t) rep.objects_removed, "objects_moved",
                                         (json_int_t) rep.objects_moved, "bytes_moved", (json_int_t) rep.bytes_moved,
                                         "packs_before", (json_int_t) rep.packs_before, "packs_after",
                                         (json_int_t) rep.packs_after, "packs_deleted",
                                         (json_int_t) rep.packs_deleted, "packs_rewritten",
                                         (json_int_t) rep.packs_rewritten, "packs_kept_damaged",
                                         (json_int_t) rep.packs_kept_damaged, "objects_after",
                                         (json_int_t) (rep.objects_before - rep.objects_removed)));
                return 0;
        }
        if (!cli.quiet) {
                char a[32], b[32], d[32], e[32];
                /* The packs can grow by gc's own commit record when there
                 * was nothing to free: say that, not "freed -192 B". */
                if (freed < 0)
                        snprintf(a, sizeof a, "nothing");
                else
                        format_bytes(a, (uint64_t) freed);
                printf("freed %s (packs: %s -> %s); removed %" PRIu64 " of %" PRIu64 " objects; "
                       "%" PRIu64 " pack(s) deleted, %" PRIu64 " rewritten (%" PRIu64 " live objects, %s moved)\n",
                       a, format_bytes(b, rep.bytes_before), format_bytes(d, rep.bytes_after), rep.objects_removed,
                       rep.objects_before, rep.packs_deleted, rep.packs_rewritten, rep.objects_moved,
                       format_bytes(e, rep.bytes_moved));
                if (rep.packs_kept_damaged)
                        printf("%" PRIu64 " pack(s) kept as they are: a live record in them is damaged "
                               "(see `isle fsck`)\n",
                               rep.packs_kept_damaged);
        }
        return 0;
}

const Verb verb_gc = {
        .name = "gc",
        .summary = "reclaim what no revision or generation reaches",
        .usage = "gc [--json]\n\n"
                 "Marks everything the bundle revisions, the generations and the refs snapshot reach,\n"
                 "drops the rest from the index, deletes packs with nothing live in them and rewrites\n"
                 "packs that are less than half live (their live records are copied as stored, then\n"
                 "the old pack is deleted). Reports the bytes freed. Safe to interrupt at any moment:\n"
                 "the store stays consistent and the next gc finishes the job.\n\n"
                 "  --json  print the figures as JSON",
        .run = run,
};
