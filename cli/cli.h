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
