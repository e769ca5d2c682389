/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* STORE/config.json: a store's policy, set by `isle config`. Today one
 * setting:
 *
 *   {"require-signature":[{"ed25519":HEX,"name":TEXT}...]}
 *
 * When the list is non-empty, `isle import` refuses any export that is not
 * signed by one of these keys. The public keys themselves are kept (32 raw
 * bytes as hex), not the paths they came from, so the policy does not
 * depend on files elsewhere; "name" is only for showing.
 *
 * The file is replaced atomically (write_file_atomic); the caller holds the
 * store's writer lock while changing it. A missing file is an empty
 * configuration. */

#include <jansson.h>
#include <stddef.h>

#include "signature.h"

/* Reads the configuration (a new reference; {} when there is none).
 * -EBADMSG when the file is not a JSON object. */
int store_config_read(const char *store_path, json_t **ret);
/* Replaces it. */
int store_config_write(const char *store_path, const json_t *config);

/* Sets the keys `isle import` requires (n = 0: signatures not required).
 * names[i] is shown by `isle config`. */
int store_config_set_required_keys(json_t *config, SignatureKey *const *keys, const char *const *names, size_t n);

/* The required keys (a malloc'd array of n keys, or NULL and 0 when
 * signatures are not required). -EBADMSG when an entry is malformed. */
int store_config_required_keys(const json_t *config, SignatureKey ***ret, size_t *ret_n);
void signature_keys_free(SignatureKey **keys, size_t n);
