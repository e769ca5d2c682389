/* SPDX-License-Identifier: Apache-2.0 */
/* isle: the command line. Global options, then a verb and its arguments. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "log.h"
#include "publish.h"
#include "refs.h"

Cli cli;

static const Verb *const verbs[] = {
        &verb_init, &verb_add, &verb_ls, &verb_log, &verb_diff, &verb_cat, &verb_activate, &verb_deactivate,
        &verb_generations, &verb_rollback, &verb_forget, &verb_gc, &verb_fsck, &verb_stats,
        &verb_export, &verb_import, &verb_keygen, &verb_inventory, &verb_config,
        &verb_mount, &verb_umount,
        &verb_rm,
};

const Verb *cli_find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i]->name, name) == 0)
                        return verbs[i];
        return NULL;
}

void cli_usage(const Verb *v, FILE *f) {
        fprintf(f, "usage: isle [--store DIR] [--json] %s\n\n%s\n", v->usage, v->summary);
}

bool cli_wants_help(const Verb *v, int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        break;
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        cli_usage(v, stdout);
                        return true;
                }
        }
        return false;
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: isle [--store DIR] [--json] [-q] [-v] VERB [ARGS]\n\n"
                "A content-addressed, deduplicating artifact store for sites without the internet.\n\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-12s %s\n", verbs[i]->name, verbs[i]->summary);
        fprintf(f, "\nThe store is --store DIR, else $ISLE_STORE, else /var/lib/isle for root and ./.isle\n"
                   "for anyone else. `isle VERB --help` describes each verb.\n");
}

int cli_fail(int r, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                log_error("%s: %s", msg, strerror(-r));
        else
                log_error("%s", msg);
        return 1;
}

int cli_fail_detail(int r, const char *detail, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (detail)
                log_error("%s: %s", msg, detail);
        else if (r < 0)
                log_error("%s: %s", msg, strerror(-r));
        else
                log_error("%s", msg);
        return 1;
}

int cli_open_store(bool write, Store **ret) {
        int r = store_open(cli.store_path, write, ret);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;
                store_open_error(&msg, cli.store_path, r);
                log_error("%s", msg ? msg : strerror(-r));
        }
        return r;
}

int cli_begin(Store *s, StoreTxn **ret) {
        int r = store_begin(s, ret);
        if (r == -ENOTRECOVERABLE)
                log_error("store %s has packs but its index is missing, empty or from an older isle; nothing "
                          "was changed. "
                          "Rebuild the index from the packs with `isle fsck --rebuild-index`",
                          cli.store_path);
        else if (r < 0)
                log_error("cannot start a transaction in %s: %s", cli.store_path, strerror(-r));
        return r;
}

int cli_open_read(Store **ret_store, CatalogTxn **ret_txn) {
        _cleanup_(store_freep) Store *s = NULL;
        int r = cli_open_store(false, &s);
        if (r < 0)
                return r;
        r = catalog_begin(store_catalog(s), false, ret_txn);
        if (r < 0)
                return cli_fail(r, "cannot read the catalog"), r;
        *ret_store = TAKE_PTR(s);
        return 0;
}

int cli_open_write(Store **ret_store, StoreTxn **ret_txn) {
        _cleanup_(store_freep) Store *s = NULL;
        int r = cli_open_store(true, &s);
        if (r < 0)
                return r;
        r = cli_begin(s, ret_txn);
        if (r < 0)
                return r;
        *ret_store = TAKE_PTR(s);
        return 0;
}

uint32_t cli_active_in(const json_t *active, const char *bundle) {
        size_t i;
        json_t *a;
        json_array_foreach(active, i, a)
                if (strcmp(json_string_value(json_object_get(a, "bundle")), bundle) == 0)
                        return (uint32_t) json_integer_value(json_object_get(a, "revision"));
        return 0;
}

int cli_active_revision(StoreTxn *t, const char *bundle, uint32_t *ret_rev) {
        json_t *active;
        int r = publish_current_active(t, &active);
        if (r < 0)
                return cli_fail(r, "cannot read the current generation"), r;
        uint32_t rev = cli_active_in(active, bundle);
        json_decref(active);
        if (rev == 0)
                return 0;
        if (ret_rev)
                *ret_rev = rev;
        return 1;
}

int cli_parse_json_only(const Verb *v, int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'j': cli.json = true; break;
                default: cli_usage(v, stderr); return 2;
                }
        if (optind != argc) {
                cli_usage(v, stderr);
                return 2;
        }
        return 0;
}

int cli_parse_output_only(const Verb *v, int argc, char **argv, const char **ret_out) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                {},
        };
        const char *out = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (c) {
                case 'o': out = optarg; break;
                default: cli_usage(v, stderr); return 2;
                }
        if (!out || optind != argc) {
                cli_usage(v, stderr);
                return 2;
        }
        *ret_out = out;
        return 0;
}

void cli_print_json(json_t *doc) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) {
                puts(s);
                free(s);
        }
        json_decref(doc);
}

int cli_read_revision(Store *s, const char *spec, json_t **ret) {
        _cleanup_free_ char *name = NULL;
        uint32_t rev;
        int r = revision_spec_parse(spec, &name, &rev);
        if (r < 0)
                return cli_fail(0, "'%s' is not a revision: expected NAME or NAME@N", spec), r;
        _cleanup_(catalog_abortp) CatalogTxn *t = NULL;
        r = catalog_begin(store_catalog(s), false, &t);
        if (r < 0)
                return cli_fail(r, "cannot read the catalog"), r;
        ObjectId id;
        r = refs_resolve(t, name, rev, &rev, &id);
        if (r == -ENOENT) {
                if (rev)
                        cli_fail(0, "bundle %s has no revision %u", name, rev);
                else
                        cli_fail(0, "no bundle named %s", name);
                return r;
        }
        if (r < 0)
                return cli_fail(r, "cannot resolve %s", spec), r;
        r = refs_read_record(s, &id, "revision", ret);
        if (r < 0)
                return cli_fail(r, "cannot read the record of %s@%u", name, rev), r;
        return 0;
}

struct Progress {
        char *what;
        uint64_t total;
        struct timespec start, last;
        bool shown;
};

static double elapsed(const struct timespec *a, const struct timespec *b) {
        return (double) (b->tv_sec - a->tv_sec) + (double) (b->tv_nsec - a->tv_nsec) / 1e9;
}

Progress *progress_new(const char *what, uint64_t total) {
        if (cli.quiet || cli.json || !isatty(STDERR_FILENO))
                return NULL;
        Progress *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->what = strdup(what);
        p->total = total;
        clock_gettime(CLOCK_MONOTONIC, &p->start);
        p->last = p->start;
        return p;
}

void progress_update(Progress *p, uint64_t done) {
        if (!p)
                return;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (elapsed(&p->last, &now) < 0.1)
                return;
        p->last = now;
        double secs = elapsed(&p->start, &now);
        char a[32], b[32], rate[32];
        format_bytes(rate, secs > 0 ? (uint64_t) ((double) done / secs) : 0);
        if (p->total)
                fprintf(stderr, "\r%s: %s / %s (%3.0f%%) %s/s   ", p->what, format_bytes(a, done),
                        format_bytes(b, p->total), 100.0 * (double) done / (double) p->total, rate);
        else
                fprintf(stderr, "\r%s: %s %s/s   ", p->what, format_bytes(a, done), rate);
        p->shown = true;
}

Progress *progress_free(Progress *p) {
        if (!p)
                return NULL;
        if (p->shown)
                fprintf(stderr, "\r\033[K");
        free(p->what);
        free(p);
        return NULL;
}

static const char *default_store(void) {
        const char *e = getenv("ISLE_STORE");
        if (e && *e)
                return e;
        return geteuid() == 0 ? "/var/lib/isle" : "./.isle";
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "store", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        cli.store_path = default_store();
        int c;
        /* '+': stop at the verb; its options are its own. */
        while ((c = getopt_long(argc, argv, "+s:jqvhV", options, NULL)) >= 0) {
                switch (c) {
                case 's': cli.store_path = optarg; break;
                case 'j': cli.json = true; break;
                case 'q': cli.quiet = true; log_set_level(LOG_LEVEL_WARNING); break;
                case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
                case 'h': usage(stdout); return 0;
                case 'V': puts("isle " ISLE_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        const Verb *v = cli_find_verb(argv[optind]);
        if (!v) {
                log_error("unknown verb '%s' (see `isle --help`)", argv[optind]);
                return 2;
        }
        argc -= optind;
        argv += optind;
        if (cli_wants_help(v, argc, argv))
                return 0;
        optind = 0; /* reset getopt for the verb */
        return v->run(argc, argv);
}
