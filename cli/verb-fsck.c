/* SPDX-License-Identifier: Apache-2.0 */
/* isle fsck [--rebuild-index]: verify every object and reference; say what
 * any damage touches. Exit 0 only when everything is sound. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "fsck.h"
#include "log.h"

typedef struct FsckProgress {
        const char *phase;
        Progress *bar;
} FsckProgress;

/* A bar for the pack pass (bytes); the later phases are short. */
static void on_progress(const char *phase, uint64_t done, uint64_t total, void *u) {
        FsckProgress *p = u;
        if (!p->phase || strcmp(p->phase, phase) != 0) {
                p->bar = progress_free(p->bar);
                p->phase = phase;
                if (strcmp(phase, "packs") == 0)
                        p->bar = progress_new("verifying packs", total);
        }
        progress_update(p->bar, done);
}

/* Takes the lock so that no gc runs underneath (fsck writes nothing); a
 * store we may not lock (read-only media) is checked without it. */
static int open_for_fsck(bool rebuild, Store **ret) {
        if (!rebuild) {
                int r = store_open(cli.store_path, true, ret);
                if (r >= 0)
                        return r;
                if (r == -EACCES || r == -EROFS || r == -EPERM) {
                        log_warning("cannot lock %s (%s); checking without the lock", cli.store_path, strerror(-r));
                        return cli_open_store(false, ret);
                }
        }
        return cli_open_store(true, ret);
}

static json_t *report_json(const FsckReport *rep, bool rebuilt, uint64_t rebuilt_objects, uint64_t rebuilt_damaged) {
        json_t *problems = json_array(), *regions = json_array();
        for (size_t i = 0; i < rep->n_problems; i++) {
                const FsckProblem *p = &rep->problems[i];
                char hex[OBJECT_ID_HEX_SIZE], digest[80];
                snprintf(digest, sizeof digest, "sha256:%s", object_id_to_hex(&p->id, hex));
                json_t *touches = json_array();
                for (size_t k = 0; k < p->n_touches; k++)
                        json_array_append_new(touches, json_string(p->touches[k]));
                json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I}", "id", digest, "type",
                                      p->type ? object_type_to_string(p->type) : "unknown", "problem",
                                      fsck_problem_kind_to_string(p->kind), "detail", p->detail, "touches", touches,
                                      "more_touches", (json_int_t) p->more_touches);
                if (o && p->has_location) {
                        json_object_set_new(o, "pack", json_integer(p->location.pack));
                        json_object_set_new(o, "offset", json_integer((json_int_t) p->location.offset));
                }
                json_array_append_new(problems, o);
        }
        for (size_t i = 0; i < rep->n_regions; i++) {
                const FsckRegion *g = &rep->regions[i];
                json_array_append_new(regions, json_pack("{s:i,s:I,s:I,s:s}", "pack", (json_int_t) g->pack, "offset",
                                                         (json_int_t) g->offset, "size", (json_int_t) g->size, "what",
                                                         g->what));
        }
        json_t *doc = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o}", "clean",
                                fsck_report_clean(rep), "packs", (json_int_t) rep->packs, "pack_bytes",
                                (json_int_t) rep->pack_bytes, "objects", (json_int_t) rep->objects,
                                "objects_verified", (json_int_t) rep->objects_verified, "bytes_verified",
                                (json_int_t) rep->bytes_verified, "blobs_verified", (json_int_t) rep->blobs_verified,
                                "revisions", (json_int_t) rep->revisions, "generations",
                                (json_int_t) rep->generations, "reachable", (json_int_t) rep->reachable,
                                "uncommitted_bytes", (json_int_t) rep->uncommitted_bytes, "damaged_bytes",
                                (json_int_t) rep->damaged_bytes, "index_empty", rep->index_empty, "problems", problems,
                                "regions", regions);
        if (doc && rebuilt)
                json_object_set_new(doc, "rebuild", json_pack("{s:I,s:I}", "objects", (json_int_t) rebuilt_objects,
                                                              "damaged_bytes", (json_int_t) rebuilt_damaged));
        return doc;
}

static void report_text(const FsckReport *rep) {
        char a[32], b[32];
        /* What touches revisions first, then what nothing readable reaches. */
        for (size_t k = 0; k < 2 * rep->n_problems; k++) {
                const FsckProblem *p = &rep->problems[k % rep->n_problems];
                if ((k < rep->n_problems) != (p->n_touches > 0))
                        continue;
                printf("%s %s %s: %s\n", fsck_problem_kind_to_string(p->kind),
                       p->type ? object_type_to_string(p->type) : "object", object_id_hex(&p->id), p->detail);
                for (size_t t = 0; t < p->n_touches; t++)
                        printf("  %s\n", p->touches[t]);
                if (p->more_touches)
                        printf("  ... and %" PRIu64 " more\n", p->more_touches);
                if (p->n_touches == 0)
                        printf("  (not reached through any readable revision, generation or tree)\n");
        }
        for (size_t i = 0; i < rep->n_regions; i++) {
                const FsckRegion *g = &rep->regions[i];
                printf("pack-%06" PRIu32 ": %s at offset %" PRIu64 " (%" PRIu64 " bytes)\n", g->pack, g->what,
                       g->offset, g->size);
        }
        if (rep->index_empty)
                printf("the index is lost but %" PRIu64 " pack(s) exist: run `isle fsck --rebuild-index`\n",
                       rep->packs);
        printf("%s: %" PRIu64 " of %" PRIu64 " objects verified (%s of content, %" PRIu64
               " multi-chunk blobs), %" PRIu64 " packs (%s), %" PRIu64 " revisions, %" PRIu64 " generations",
               fsck_report_clean(rep) ? "ok" : "DAMAGED", rep->objects_verified, rep->objects,
               format_bytes(a, rep->bytes_verified), rep->blobs_verified, rep->packs, format_bytes(b, rep->pack_bytes),
               rep->revisions, rep->generations);
        if (rep->n_problems)
                printf("; %zu damaged or missing objects", rep->n_problems);
        if (rep->damaged_bytes)
                printf("; %s of damaged pack bytes", format_bytes(a, rep->damaged_bytes));
        if (rep->uncommitted_bytes)
                printf("; %s uncommitted (left by a writer that died; the next one cuts it off)",
                       format_bytes(a, rep->uncommitted_bytes));
        printf("\n");
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "rebuild-index", no_argument, NULL, 'r' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        bool rebuild = false;
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'r': rebuild = true; break;
                case 'j': cli.json = true; break;
                default: cli_usage(&verb_fsck, stderr); return 2;
                }
        if (optind != argc) {
                cli_usage(&verb_fsck, stderr);
                return 2;
        }
        _cleanup_(store_freep) Store *s = NULL;
        if (open_for_fsck(rebuild, &s) < 0)
                return 1;

        uint64_t objects = 0, damaged = 0;
        if (rebuild) {
                int r = store_rebuild_index(s, &objects, &damaged);
                if (r < 0)
                        return cli_fail(r, "cannot rebuild the index of %s", cli.store_path);
                if (!cli.json && !cli.quiet) {
                        char buf[32];
                        printf("rebuilt the index from the packs: %" PRIu64 " objects", objects);
                        if (damaged)
                                printf(", %s of damaged pack bytes skipped", format_bytes(buf, damaged));
                        printf("\n");
                }
        }

        FsckProgress fp = {};
        FsckOptions o = { .progress = on_progress, .userdata = &fp };
        FsckReport rep;
        int r = store_fsck(s, &o, &rep);
        progress_free(fp.bar);
        if (r < 0)
                return cli_fail(r, "cannot check %s", cli.store_path);
        bool clean = fsck_report_clean(&rep);
        if (cli.json)
                cli_print_json(report_json(&rep, rebuild, objects, damaged));
        else if (!clean || !cli.quiet)
                report_text(&rep);
        fsck_report_clear(&rep);
        return clean ? 0 : 1;
}

const Verb verb_fsck = {
        .name = "fsck",
        .summary = "verify every object and reference; rebuild a lost index",
        .usage = "fsck [--rebuild-index] [--json]\n\n"
                 "Re-reads every pack record and re-hashes every object (every blob as a whole too),\n"
                 "follows every reference from the bundle revisions, generations and the refs snapshot,\n"
                 "and scans the packs for damaged stretches. Each damaged or missing object is listed\n"
                 "with the revisions and paths it touches (\"BUNDLE@REV: PATH\"). Exit status 0 only\n"
                 "when everything is sound, 1 otherwise.\n\n"
                 "  --rebuild-index  first rebuild the index (index/) from the packs alone: every valid\n"
                 "                   record, and the refs from the newest complete state snapshot.\n"
                 "                   Takes the writer lock. Use it when the index is lost or damaged.\n"
                 "  --json           print the report as JSON",
        .run = run,
};
