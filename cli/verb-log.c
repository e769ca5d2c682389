/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "refs.h"

typedef struct LogWalk {
        Store *store;
        json_t *out;
        int r;
} LogWalk;

static int log_one(const char *bundle, uint32_t rev, const ObjectId *id, void *u) {
        LogWalk *w = u;
        json_t *rec;
        int r = refs_read_record(w->store, id, "revision", &rec);
        if (r < 0)
                return cli_fail(r, "cannot read %s@%u", bundle, rev), r;
        json_t *row = json_pack("{s:i,s:O,s:O,s:O,s:O,s:s}", "revision", (json_int_t) rev, "time",
                                json_object_get(rec, "time"), "message", json_object_get(rec, "message"), "root",
                                json_object_get(rec, "root"), "size", json_object_get(rec, "size"), "id",
                                object_id_hex(id));
        json_decref(rec);
        if (!row)
                return -EBADMSG;
        json_array_append_new(w->out, row);
        return 0;
}

static int run(int argc, char **argv) {
        if (argc != 2) {
                cli_usage(&verb_log, stderr);
                return 2;
        }
        const char *name = argv[1];
        if (!bundle_name_valid(name))
                return cli_fail(0, "'%s' is not a bundle name", name);
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        if (cli_open_read(&s, &t) < 0)
                return 1;
        LogWalk w = { s, json_array(), 0 };
        int r = catalog_foreach_revision(t, name, log_one, &w);
        if (r < 0) {
                json_decref(w.out);
                return 1;
        }
        if (json_array_size(w.out) == 0) {
                json_decref(w.out);
                return cli_fail(0, "no bundle named %s", name);
        }
        if (cli.json) {
                cli_print_json(w.out);
                return 0;
        }
        /* Newest first, as git log. */
        for (size_t i = json_array_size(w.out); i-- > 0;) {
                json_t *row = json_array_get(w.out, i);
                char buf[32];
                printf("%s@%" JSON_INTEGER_FORMAT "  %s  %10s  root %.12s  %s\n", name,
                       json_integer_value(json_object_get(row, "revision")),
                       json_string_value(json_object_get(row, "time")),
                       format_bytes(buf, (uint64_t) json_integer_value(json_object_get(row, "size"))),
                       json_string_value(json_object_get(row, "root")),
                       json_string_value(json_object_get(row, "message")));
        }
        json_decref(w.out);
        return 0;
}

const Verb verb_log = {
        .name = "log",
        .summary = "list a bundle's revisions",
        .usage = "log NAME\n\nEach revision, newest first: time, logical size, root tree id, message.",
        .run = run,
};
