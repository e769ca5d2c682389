/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What every verb shares: the global options, opening the store with a
 * message that says which store and what is wrong, and the verb table. */

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef struct Cli {
        const char *store_path; /* resolved: --store, $ISLE_STORE, or the default */
        bool json;
        bool quiet;
} Cli;

extern Cli cli;

typedef struct Verb {
        const char *name;
        const char *summary;
        const char *usage;      /* printed by --help, after "usage: isle " */
        int (*run)(int argc, char **argv);
} Verb;

/* Opens the store named by the global options; prints why not and returns
 * a negative errno on failure. */
int cli_open_store(bool write, Store **ret);

/* Starts a write transaction; prints why not (index lost, store busy) and
 * returns a negative errno on failure. */
int cli_begin(Store *s, StoreTxn **ret);

/* Opens the store read-only and begins a read transaction of its catalog
 * (abort it before freeing the store). Prints why not and returns a
 * negative errno on failure; sets nothing then. */
int cli_open_read(Store **ret_store, CatalogTxn **ret_txn);

/* Opens the store for writing and begins a write transaction (abort or
 * commit it before freeing the store): cli_open_store() then cli_begin().
 * Prints why not and returns a negative errno on failure; sets nothing
 * then. */
int cli_open_write(Store **ret_store, StoreTxn **ret_txn);

/* The revision of bundle in a generation's "active" array (objects with
 * "bundle" and "revision"), 0 when the bundle is not in it. */
uint32_t cli_active_in(const json_t *active, const char *bundle);

/* Whether bundle is active in the current generation: 1, with its revision
 * in *ret_rev (when not NULL), or 0 (also when nothing was ever
 * activated). Prints why not and returns a negative errno when the
 * current generation cannot be read. */
int cli_active_revision(StoreTxn *t, const char *bundle, uint32_t *ret_rev);

/* Option parsing for verbs whose whole command line is fixed: --json and
 * no arguments, or -o/--output FILE (required) and no arguments. Return 0
 * to go on, or the exit status (2) after printing the verb's usage. */
int cli_parse_json_only(const Verb *v, int argc, char **argv);
int cli_parse_output_only(const Verb *v, int argc, char **argv, const char **ret_out);

/* Prints an error naming what failed; returns the exit status to use (1). */
int cli_fail(int r, const char *fmt, ...) _printf_(2, 3);
/* Same, with an importer's explanation when there is one. */
int cli_fail_detail(int r, const char *detail, const char *fmt, ...) _printf_(3, 4);

/* Prints a JSON document to stdout (for --json). Steals the reference. */
void cli_print_json(json_t *doc);

/* Handles --help/-h for a verb: returns true (and prints usage) if asked. */
bool cli_wants_help(const Verb *v, int argc, char **argv);
const Verb *cli_find_verb(const char *name);
void cli_usage(const Verb *v, FILE *f);

/* Progress on a terminal (stderr), nothing otherwise. */
typedef struct Progress Progress;
Progress *progress_new(const char *what, uint64_t total);
void progress_update(Progress *p, uint64_t done);
Progress *progress_free(Progress *p);
DEFINE_FREEP(Progress, progress_free)

/* Resolves NAME[@REV] to a revision record (new reference) for reading. */
int cli_read_revision(Store *s, const char *spec, json_t **ret);

#define VERB(n) extern const Verb verb_##n
VERB(init);
VERB(add);
VERB(ls);
VERB(log);
VERB(diff);
VERB(cat);
VERB(activate);
VERB(deactivate);
VERB(generations);
VERB(rollback);
VERB(forget);
VERB(gc);
VERB(fsck);
VERB(stats);
VERB(mount); VERB(umount);
VERB(rm);
VERB(export);
VERB(import);
VERB(keygen);
VERB(inventory);
VERB(config);
