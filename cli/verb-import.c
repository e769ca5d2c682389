/* SPDX-License-Identifier: Apache-2.0 */
/* isle import FILE...|-: volumes of one export into the store
 * (import/transfer-import.h). Everything is checked before anything is
 * written, all the volumes given go in one transaction, and any failure
 * leaves the store exactly as it was. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "publish.h"
#include "store-config.h"
#include "transfer-import.h"

static int activate_revision(StoreTxn *t, const char *bundle, uint32_t rev, uint64_t *ret_gen, char **reterr) {
        char msg[300];
        snprintf(msg, sizeof msg, "import: activate %s@%u", bundle, rev);
        return publish_activate(t, bundle, rev, msg, ret_gen, reterr);
}

/* The progress line starts with the first record, when the total is known. */
typedef struct ProgressHolder {
        Progress *progress;
} ProgressHolder;

static void on_progress(uint64_t done, uint64_t total, void *userdata) {
        ProgressHolder *h = userdata;
        if (!h->progress)
                h->progress = progress_new("importing", total);
        progress_update(h->progress, done);
}

static const char *revision_list(const json_t *revs, char *buf, size_t n) {
        size_t i, k = 0;
        json_t *e;
        buf[0] = 0;
        json_array_foreach(revs, i, e)
                k += (size_t) snprintf(buf + MIN(k, n - 1), n - MIN(k, n - 1), "%s%s@%" JSON_INTEGER_FORMAT,
                                       i ? ", " : "", json_string_value(json_object_get(e, "bundle")),
                                       json_integer_value(json_object_get(e, "revision")));
        return buf;
}

static const char *volume_list(const TransferImportResult *res, char *buf, size_t n) {
        size_t k = 0;
        buf[0] = 0;
        for (size_t i = 0; i < res->n_volumes_missing; i++)
                k += (size_t) snprintf(buf + MIN(k, n - 1), n - MIN(k, n - 1), "%s%u", i ? ", " : "",
                                       res->volumes_missing[i]);
        return buf;
}

static json_t *result_json(const TransferImportResult *res) {
        static const char *const status[] = {
                [TRANSFER_IMPORT_COMMITTED] = "imported",
                [TRANSFER_IMPORT_STAGED] = "staged",
                [TRANSFER_IMPORT_NOTHING] = "nothing-to-do",
        };
        json_t *missing = json_array();
        for (size_t i = 0; i < res->n_volumes_missing; i++)
                json_array_append_new(missing, json_integer(res->volumes_missing[i]));
        json_t *j = json_pack("{s:s,s:s,s:O,s:i,s:I,s:I,s:I,s:I,s:I,s:o}", "status", status[res->status], "export",
                              object_id_hex(&res->export_id), "revisions", res->revisions, "volumes",
                              (int) res->volumes, "objects", (json_int_t) res->objects, "objects_new",
                              (json_int_t) res->objects_new, "bytes_new", (json_int_t) res->bytes_new,
                              "objects_missing", (json_int_t) res->objects_missing, "bytes_missing",
                              (json_int_t) res->bytes_missing, "volumes_missing", missing);
        if (j && res->generation)
                json_object_set_new(j, "generation", json_integer((json_int_t) res->generation));
        return j;
}

static void print_result(const TransferImportResult *res, bool activate) {
        char revs[1024], vols[512], a[32], b[32];
        revision_list(res->revisions, revs, sizeof revs);
        switch (res->status) {
        case TRANSFER_IMPORT_COMMITTED:
                printf("imported %s: %" PRIu64 " new objects, %s", revs, res->objects_new,
                       format_bytes(a, res->bytes_new));
                if (res->generation)
                        printf(" (activated: generation %" PRIu64 ")", res->generation);
                printf("\n");
                break;
        case TRANSFER_IMPORT_STAGED:
                printf("staged %" PRIu64 " new objects (%s) of export %.12s; still missing: volume%s %s of %u (%" PRIu64
                       " objects, %s). %s appears when they are imported%s.\n",
                       res->objects_new, format_bytes(a, res->bytes_new), object_id_hex(&res->export_id),
                       res->n_volumes_missing == 1 ? "" : "s", volume_list(res, vols, sizeof vols), res->volumes,
                       res->objects_missing, format_bytes(b, res->bytes_missing), revs,
                       activate ? " (pass --activate to that import)" : "");
                break;
        case TRANSFER_IMPORT_NOTHING:
                if (res->objects_missing > 0)
                        printf("nothing to do: these volumes of export %.12s are staged already; still missing: "
                               "volume%s %s of %u (%" PRIu64 " objects, %s)\n",
                               object_id_hex(&res->export_id), res->n_volumes_missing == 1 ? "" : "s",
                               volume_list(res, vols, sizeof vols), res->volumes, res->objects_missing,
                               format_bytes(b, res->bytes_missing));
                else
                        printf("nothing to do: %s already imported\n", revs);
                break;
        }
}

typedef struct Inputs {
        int *fds;
        size_t n;
} Inputs;

static void inputs_done(Inputs *in) {
        for (size_t i = 0; i < in->n; i++)
                if (in->fds[i] >= 0)
                        close(in->fds[i]);
        free(in->fds);
}

static int import_files(Store *s, const TransferImportOptions *o, char **files, size_t n_files) {
        _cleanup_(transfer_import_freep) TransferImport *ti = NULL;
        _cleanup_(inputs_done) Inputs in = { calloc(n_files, sizeof(int)), 0 };
        if (!in.fds || transfer_import_new(s, o, &ti) < 0)
                return cli_fail(-ENOMEM, "import");
        for (size_t i = 0; i < n_files; i++) {
                bool is_stdin = strcmp(files[i], "-") == 0;
                int fd = is_stdin ? dup(STDIN_FILENO) : open(files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return cli_fail(-errno, "cannot open %s", files[i]);
                in.fds[in.n++] = fd;
                _cleanup_free_ char *err = NULL;
                int r = transfer_import_add(ti, fd, is_stdin ? "stdin" : files[i], &err);
                if (r < 0)
                        return cli_fail_detail(r, err, "import refused");
        }
        TransferImportResult res = {};
        _cleanup_free_ char *err = NULL;
        int r = transfer_import_run(ti, &res, &err);
        ProgressHolder *h = o->userdata;
        h->progress = progress_free(h->progress);
        if (r < 0)
                return cli_fail_detail(r, err, "import refused");
        if (cli.json)
                cli_print_json(result_json(&res));
        else if (!cli.quiet)
                print_result(&res, o->activate != NULL);
        transfer_import_result_done(&res);
        return 0;
}

/* --pending: what is staged and still waits for volumes. */
static int list_pending(void) {
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        json_t *list;
        int r = transfer_pending_list(s, &list);
        if (r < 0)
                return cli_fail(r, "cannot read the pending imports of %s", store_path(s));
        if (cli.json) {
                cli_print_json(list);
                return 0;
        }
        if (json_array_size(list) == 0 && !cli.quiet)
                printf("no pending imports\n");
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                char revs[400];
                printf("export %.12s: %s; %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
                       " objects present, %" JSON_INTEGER_FORMAT " volume(s) in all\n",
                       json_string_value(json_object_get(e, "export")) ?: "?",
                       revision_list(json_object_get(e, "revisions"), revs, sizeof revs),
                       json_integer_value(json_object_get(e, "present")),
                       json_integer_value(json_object_get(e, "objects")),
                       json_integer_value(json_object_get(e, "volumes")));
        }
        json_decref(list);
        return 0;
}

/* --abandon EXPORT: the rest of the volumes will not come; let gc have
 * what the import staged. */
static int abandon_pending(const char *export_prefix) {
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(store_txn_abortp) StoreTxn *t = NULL;
        if (cli_open_write(&s, &t) < 0)
                return 1;
        json_t *entry;
        _cleanup_free_ char *err = NULL;
        int r = transfer_pending_abandon(t, export_prefix, &entry, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "cannot abandon %s", export_prefix);
        r = store_txn_commit(TAKE_PTR(t));
        if (r < 0) {
                json_decref(entry);
                return cli_fail(r, "cannot commit to %s", cli.store_path);
        }
        char revs[400];
        if (!cli.quiet && !cli.json)
                printf("abandoned the pending import of export %.12s (%s): run `isle gc` to reclaim what it "
                       "staged\n",
                       json_string_value(json_object_get(entry, "export")) ?: "?",
                       revision_list(json_object_get(entry, "revisions"), revs, sizeof revs));
        json_decref(entry);
        return 0;
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "verify", required_argument, NULL, 'k' },
                { "activate", no_argument, NULL, 'a' },
                { "pending", no_argument, NULL, 'p' },
                { "abandon", required_argument, NULL, 'x' },
                {},
        };
        const char *verify_path = NULL, *abandon = NULL;
        bool activate = false, pending = false;
        int c;
        while ((c = getopt_long(argc, argv, "k:a", options, NULL)) >= 0)
                switch (c) {
                case 'k': verify_path = optarg; break;
                case 'a': activate = true; break;
                case 'p': pending = true; break;
                case 'x': abandon = optarg; break;
                default: cli_usage(&verb_import, stderr); return 2;
                }
        if (pending || abandon) {
                if (optind < argc || (pending && abandon) || verify_path || activate) {
                        cli_usage(&verb_import, stderr);
                        return 2;
                }
                return pending ? list_pending() : abandon_pending(abandon);
        }
        if (optind >= argc) {
                cli_usage(&verb_import, stderr);
                return 2;
        }
        size_t n_files = (size_t) (argc - optind);
        for (int i = optind; i < argc; i++)
                if (strcmp(argv[i], "-") == 0 && n_files > 1)
                        return cli_fail(0, "'-' (stdin) must be the only input");

        _cleanup_(signature_key_freep) SignatureKey *verify = NULL;
        if (verify_path) {
                _cleanup_free_ char *err = NULL;
                int r = signature_key_load_public(verify_path, &verify, &err);
                if (r < 0)
                        return cli_fail_detail(r, err, "--verify %s", verify_path);
        }
        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(true, &s) < 0)
                return 1;
        json_t *config = NULL;
        int r = store_config_read(store_path(s), &config);
        if (r < 0)
                return cli_fail(r, "cannot read %s/config.json", store_path(s));
        SignatureKey **required = NULL;
        size_t n_required = 0;
        r = store_config_required_keys(config, &required, &n_required);
        json_decref(config);
        if (r < 0)
                return cli_fail(r, "%s/config.json: bad require-signature entry", store_path(s));

        ProgressHolder progress = {};
        TransferImportOptions o = {
                .verify = verify,
                .verify_name = verify_path,
                .required = required,
                .n_required = n_required,
                .activate = activate ? activate_revision : NULL,
                .progress = on_progress,
                .userdata = &progress,
        };
        int status = import_files(s, &o, argv + optind, n_files);
        progress_free(progress.progress);
        signature_keys_free(required, n_required);
        return status;
}

const Verb verb_import = {
        .name = "import",
        .summary = "import an export (all its volumes, or some of them) into the store",
        .usage = "import FILE...|- [--verify PUBKEY] [--activate]\n"
                 "import --pending | --abandon EXPORT\n\n"
                 "FILE... are volumes of one export, in any order (a split export's volumes may also\n"
                 "come one import at a time: each stages its objects, and the revisions appear with the\n"
                 "last). Every object is verified before it is stored; anything damaged, truncated,\n"
                 "reordered, unsigned (when required) or from another export is refused, and the store\n"
                 "stays as it was.\n\n"
                 "  --verify PUBKEY  the export must carry a valid signature by this Ed25519 key\n"
                 "  --activate       also activate the imported revisions, in the same transaction\n"
                 "  --pending        list imports that still wait for volumes (--json too)\n"
                 "  --abandon EXPORT give up on one (EXPORT: its id as --pending shows it, at least\n"
                 "                   8 hex digits); `isle gc` then reclaims what it staged",
        .run = run,
};
