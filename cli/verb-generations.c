/* SPDX-License-Identifier: Apache-2.0 */
/* isle generations: every generation; isle rollback [GEN]: point current
 * at an earlier one. Generations are never changed, so a rollback is exact. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "publish.h"
#include "refs.h"

typedef struct GenWalk {
        Store *store;
        uint64_t current;
        json_t *out;
} GenWalk;

static int gen_one(uint64_t gen, const ObjectId *id, void *u) {
        GenWalk *w = u;
        json_t *rec;
        int r = refs_read_record(w->store, id, "generation", &rec);
        if (r < 0)
                return cli_fail(r, "cannot read generation %" PRIu64, gen), r;
        json_t *row = json_pack("{s:I,s:O,s:O,s:O,s:O,s:O,s:b}", "generation", (json_int_t) gen, "time",
                                json_object_get(rec, "time"), "message", json_object_get(rec, "message"), "active",
                                json_object_get(rec, "active"), "root", json_object_get(rec, "root"), "size",
                                json_object_get(rec, "size"), "current", gen == w->current);
        json_decref(rec);
        if (!row)
                return -EBADMSG;
        json_array_append_new(w->out, row);
        return 0;
}

static int run_generations(int argc, char **argv) {
        if (argc != 1) {
                cli_usage(&verb_generations, stderr);
                return 2;
        }
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (cli_open_read(&s, &t) < 0)
                return 1;
        GenWalk w = { s, 0, json_array() };
        (void) refs_current(t, &w.current);
        int r = catalog_foreach_generation(t, gen_one, &w);
        if (r < 0) {
                json_decref(w.out);
                return 1;
        }
        if (cli.json) {
                cli_print_json(w.out);
                return 0;
        }
        size_t i;
        json_t *row;
        json_array_foreach(w.out, i, row) {
                char buf[32];
                printf("%s %4" JSON_INTEGER_FORMAT "  %s  %10s  ", json_is_true(json_object_get(row, "current")) ? "*" : " ",
                       json_integer_value(json_object_get(row, "generation")),
                       json_string_value(json_object_get(row, "time")),
                       format_bytes(buf, (uint64_t) json_integer_value(json_object_get(row, "size"))));
                size_t k;
                json_t *a;
                json_array_foreach(json_object_get(row, "active"), k, a)
                        printf("%s%s@%" JSON_INTEGER_FORMAT, k ? " " : "", json_string_value(json_object_get(a, "bundle")),
                               json_integer_value(json_object_get(a, "revision")));
                if (json_array_size(json_object_get(row, "active")) == 0)
                        printf("(empty)");
                printf("\n");
        }
        json_decref(w.out);
        return 0;
}

static int prev_fn(uint64_t gen, const ObjectId *id _unused_, void *u) {
        uint64_t *v = u; /* v[0] = current, v[1] = best below it */
        if (gen < v[0])
                v[1] = gen;
        return 0;
}

static int run_rollback(int argc, char **argv) {
        if (argc > 2) {
                cli_usage(&verb_rollback, stderr);
                return 2;
        }
        uint64_t target = 0;
        if (argc == 2) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(argv[1], &end, 10);
                if (errno || *end || end == argv[1] || v == 0)
                        return cli_fail(0, "'%s' is not a generation number", argv[1]);
                target = v;
        }
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;
        CatalogTxn *c = store_txn_catalog(t);
        int r;
        uint64_t cur = 0;
        if (refs_current(c, &cur) < 0)
                return cli_fail(0, "nothing was ever activated; there is no generation to roll back to");
        if (target == 0) {
                uint64_t v[2] = { cur, 0 };
                r = catalog_foreach_generation(c, prev_fn, v);
                if (r < 0)
                        return cli_fail(r, "cannot read the generations");
                if (v[1] == 0)
                        return cli_fail(0, "generation %" PRIu64 " is the oldest; nothing to roll back to", cur);
                target = v[1];
        }
        r = publish_rollback(t, target);
        if (r == -ENOENT)
                return cli_fail(0, "there is no generation %" PRIu64, target);
        if (r < 0)
                return cli_fail(r, "cannot roll back to generation %" PRIu64, target);
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0)
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        if (cli.json)
                cli_print_json(json_pack("{s:I,s:I}", "current", (json_int_t) target, "previous", (json_int_t) cur));
        else if (!cli.quiet)
                printf("current is now generation %" PRIu64 " (was %" PRIu64 ")\n", target, cur);
        return 0;
}

const Verb verb_generations = {
        .name = "generations",
        .summary = "list generations (sets of active revisions)",
        .usage = "generations\n\nEvery generation with its time, size and active revisions; '*' marks current.",
        .run = run_generations,
};

const Verb verb_rollback = {
        .name = "rollback",
        .summary = "point current at an earlier generation",
        .usage = "rollback [GEN]\n\n"
                 "Makes generation GEN (default: the one before current) current again, exactly as\n"
                 "it was.",
        .run = run_rollback,
};
