/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Bundle revisions and generations: the records and the refs to them.
 *
 * A revision record (JSON, stored as an OBJECT_RECORD) is
 *   {"type":"revision","bundle":NAME,"revision":N,"parent":HEX|null,
 *    "time":RFC3339,"message":TEXT,"artifacts":[...],"root":HEX,"size":BYTES}
 * and a generation record is
 *   {"type":"generation","generation":N,"time":...,"message":...,
 *    "active":[{"bundle":NAME,"revision":N,"id":HEX}...],"root":HEX,"size":BYTES}
 * Records are immutable; the catalog maps (bundle, revision) and generation
 * numbers to them, and "current" to the generation in use. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "store.h"

/* [A-Za-z0-9][A-Za-z0-9._-]{0,127} */
bool bundle_name_valid(const char *name);

/* Parses NAME, NAME@N or NAME@latest. *ret_rev = 0 for latest. -EINVAL. */
int revision_spec_parse(const char *spec, char **ret_name, uint32_t *ret_rev);

/* Resolves name@rev (0 = latest) to its number and record id. -ENOENT
 * when the bundle or revision does not exist. */
int refs_resolve(CatalogTxn *t, const char *name, uint32_t rev, uint32_t *ret_rev, ObjectId *ret_id);

/* The current generation number; -ENOENT when nothing was ever activated. */
int refs_current(CatalogTxn *t, uint64_t *ret);
/* Highest generation number, 0 when none. */
int refs_last_generation(CatalogTxn *t, uint64_t *ret);

/* Reads a record, checking its "type". */
int refs_read_record(Store *s, const ObjectId *id, const char *type, json_t **ret);

/* Helpers for the record fields. */
int json_get_id(const json_t *obj, const char *key, ObjectId *ret);

/* The objects a revision's artifact list names, at any depth: every string
 * under a "tree" or "blob" key and every string in a "blobs" array that is
 * an id (other strings are not references). `kind` is the nearest enclosing
 * object's "kind" (NULL when there is none), `key` the key that named it.
 * The one reading of that list that gc, fsck and export share. Stops at
 * fn's first negative return and returns it. */
typedef int (*ArtifactRefFn)(const char *kind, const char *key, bool tree, const ObjectId *id, void *userdata);
int refs_foreach_artifact_ref(json_t *artifacts, ArtifactRefFn fn, void *userdata);
/* The current time as RFC 3339 UTC ("2026-11-22T20:35:46Z"). SOURCE_DATE_EPOCH
 * is honoured so tests and reproducible builds can pin it. */
void now_rfc3339(char buf[static 32]);
