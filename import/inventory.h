/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The inventory of a store: every object id it holds, written by `isle
 * inventory` on the receiving side and read by `isle export --have`, which
 * then leaves those objects out. Format: transfer-format.h (InventoryHeader
 * and one zstd frame of sorted ids). */

#include <stdint.h>

#include "id-set.h"
#include "store.h"

/* Writes the inventory of s to fd, sequentially (a pipe will do).
 * *ret_count = ids written. */
int inventory_write(Store *s, int fd, uint64_t *ret_count);

/* Reads an inventory from fd and adds its ids to `into`. -EBADMSG when it
 * is truncated, damaged or not an inventory (*reterr says which),
 * -EPROTONOSUPPORT for an unknown version or feature. */
int inventory_read(int fd, IdSet *into, uint64_t *ret_count, char **reterr);
