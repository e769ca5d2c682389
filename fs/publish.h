/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Making states visible: new bundle revisions and new generations. Each
 * renders its artifact set (render.h), stores the record and moves the
 * refs inside the caller's transaction; nothing is visible until the
 * caller commits it. On failure *reterr may explain in words. */

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* The artifacts of bundle's latest revision (a new reference), or an empty
 * array when the bundle does not exist yet. */
int publish_parent_artifacts(StoreTxn *t, const char *bundle, json_t **ret_artifacts, uint32_t *ret_parent_rev);

/* Adds a revision of bundle with exactly these artifacts (the caller has
 * merged the parent's in). *ret_rev = its number. */
int publish_revision(StoreTxn *t, const char *bundle, json_t *artifacts, const char *message, uint32_t *ret_rev,
                     char **reterr);

/* Makes a new current generation from the current one with bundle at rev
 * (rev 0: remove the bundle from the active set). */
int publish_activate(StoreTxn *t, const char *bundle, uint32_t rev, const char *message, uint64_t *ret_gen,
                     char **reterr);

/* Points current at an existing generation. */
int publish_rollback(StoreTxn *t, uint64_t gen);

/* The active list of the current generation (new reference; empty array
 * when none). */
int publish_current_active(StoreTxn *t, json_t **ret);
