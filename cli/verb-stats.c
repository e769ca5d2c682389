/* SPDX-License-Identifier: Apache-2.0 */
/* isle stats: how much is stored, how much it would be without dedup and
 * compression, and what the store is made of. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "fileio.h"
#include "pack-writer.h"
#include "refs.h"

typedef struct Stats {
        Store *store;
        uint64_t objects, by_type[_OBJECT_TYPE_MAX];
        uint64_t unique_bytes;          /* raw sizes of the chunks */
        uint64_t stored_chunk_bytes;    /* their stored (compressed or raw) payloads */
        uint64_t logical_bytes;         /* sizes of every revision */
        uint64_t revisions, bundles, generations;
        uint64_t packs, stored_bytes, index_bytes;
        char *last_bundle;
} Stats;

static int count_object(const ObjectId *id _unused_, const ObjectLocation *loc, void *u) {
        Stats *st = u;
        st->objects++;
        if (loc->type < _OBJECT_TYPE_MAX)
                st->by_type[loc->type]++;
        if (loc->type == OBJECT_CHUNK) {
                st->unique_bytes += loc->raw_size;
                st->stored_chunk_bytes += loc->stored_size;
        }
        return 0;
}

static int count_revision(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        Stats *st = u;
        st->revisions++;
        if (!st->last_bundle || strcmp(st->last_bundle, bundle) != 0) {
                free(st->last_bundle);
                st->last_bundle = strdup(bundle);
                if (!st->last_bundle)
                        return -ENOMEM;
                st->bundles++;
        }
        json_t *rec;
        int r = refs_read_record(st->store, id, "revision", &rec);
        if (r < 0)
                return cli_fail(r, "cannot read the record of %s@%u", bundle, rev), r;
        json_int_t size = json_integer_value(json_object_get(rec, "size"));
        json_decref(rec);
        if (size > 0)
                st->logical_bytes += (uint64_t) size;
        return 0;
}

static int count_generation(uint64_t gen _unused_, const ObjectId *id _unused_, void *u) {
        ((Stats *) u)->generations++;
        return 0;
}

static int count_packs(Stats *st) {
        _cleanup_free_ uint32_t *packs = NULL;
        size_t n;
        int r = store_list_packs(st->store, &packs, &n);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = path_join(store_path(st->store), "packs");
        if (!dir)
                return -ENOMEM;
        st->packs = n;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = pack_path(dir, packs[i]);
                struct stat sb;
                if (!path)
                        return -ENOMEM;
                if (stat(path, &sb) >= 0)
                        st->stored_bytes += (uint64_t) sb.st_size;
        }
        return 0;
}

static double ratio(uint64_t a, uint64_t b) {
        return b ? (double) a / (double) b : 0.0;
}

static int collect(Stats *st) {
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        int r = catalog_begin(store_catalog(st->store), false, &t);
        if (r < 0)
                return cli_fail(r, "cannot read the catalog");
        r = catalog_foreach_object(t, count_object, st);
        if (r < 0)
                return cli_fail(r, "cannot read the objects in the catalog");
        r = catalog_foreach_revision(t, NULL, count_revision, st);
        if (r < 0)
                return 1; /* said by count_revision */
        r = catalog_foreach_generation(t, count_generation, st);
        if (r < 0)
                return cli_fail(r, "cannot read the generations");
        r = count_packs(st);
        if (r < 0)
                return cli_fail(r, "cannot list the packs of %s", cli.store_path);
        r = catalog_size(store_catalog(st->store), &st->index_bytes);
        if (r < 0)
                return cli_fail(r, "cannot measure the index");
        return 0;
}

static void print_text(const Stats *st) {
        char a[32], b[32], c[32], d[32], e[32];
        printf("logical bytes       %12s  sum of the sizes of %" PRIu64 " revisions in %" PRIu64 " bundles\n",
               format_bytes(a, st->logical_bytes), st->revisions, st->bundles);
        printf("unique content      %12s  chunk bytes before compression\n", format_bytes(b, st->unique_bytes));
        printf("stored bytes        %12s  in %" PRIu64 " packs (chunks: %s)\n", format_bytes(c, st->stored_bytes),
               st->packs, format_bytes(d, st->stored_chunk_bytes));
        printf("dedup ratio         %11.2fx  logical / unique\n", ratio(st->logical_bytes, st->unique_bytes));
        printf("compression ratio   %11.2fx  unique / stored chunk bytes\n",
               ratio(st->unique_bytes, st->stored_chunk_bytes));
        printf("objects             %12" PRIu64 "  %" PRIu64 " chunks, %" PRIu64 " blobs (recipes), %" PRIu64
               " trees, %" PRIu64 " records, %" PRIu64 " state snapshots\n",
               st->objects, st->by_type[OBJECT_CHUNK], st->by_type[OBJECT_RECIPE], st->by_type[OBJECT_TREE],
               st->by_type[OBJECT_RECORD], st->by_type[OBJECT_STATE]);
        printf("generations         %12" PRIu64 "\n", st->generations);
        printf("index size          %12s\n", format_bytes(e, st->index_bytes));
}

static int run(int argc, char **argv) {
        int r = cli_parse_json_only(&verb_stats, argc, argv);
        if (r != 0)
                return r;
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        Stats st = { .store = s };
        r = collect(&st);
        free(st.last_bundle);
        if (r != 0)
                return r;
        if (!cli.json) {
                print_text(&st);
                return 0;
        }
        cli_print_json(json_pack(
                "{s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "logical_bytes",
                (json_int_t) st.logical_bytes, "unique_bytes", (json_int_t) st.unique_bytes, "stored_bytes",
                (json_int_t) st.stored_bytes, "stored_chunk_bytes", (json_int_t) st.stored_chunk_bytes,
                "dedup_ratio", ratio(st.logical_bytes, st.unique_bytes), "compression_ratio",
                ratio(st.unique_bytes, st.stored_chunk_bytes), "objects", (json_int_t) st.objects, "chunks",
                (json_int_t) st.by_type[OBJECT_CHUNK], "blobs", (json_int_t) st.by_type[OBJECT_RECIPE], "trees",
                (json_int_t) st.by_type[OBJECT_TREE], "records", (json_int_t) st.by_type[OBJECT_RECORD], "states",
                (json_int_t) st.by_type[OBJECT_STATE], "packs", (json_int_t) st.packs, "index_bytes",
                (json_int_t) st.index_bytes, "bundles", (json_int_t) st.bundles, "revisions",
                (json_int_t) st.revisions, "generations", (json_int_t) st.generations));
        return 0;
}

const Verb verb_stats = {
        .name = "stats",
        .summary = "logical and stored bytes, dedup and compression ratios, objects",
        .usage = "stats [--json]\n\n"
                 "  logical bytes      the sizes of every bundle revision added up (what a naive copy\n"
                 "                     of each revision would take)\n"
                 "  unique content     the bytes of the distinct chunks, before compression\n"
                 "  stored bytes       the pack files on disk\n"
                 "  dedup ratio        logical / unique content\n"
                 "  compression ratio  unique content / the chunks' stored bytes\n"
                 "  objects            chunks, blobs (multi-chunk recipes), trees, records, snapshots;\n"
                 "                     packs, and the size of the index\n\n"
                 "  --json  print the figures as JSON",
        .run = run,
};
