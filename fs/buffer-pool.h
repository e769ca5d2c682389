/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reusable buffers for the chunk cache, so that the daemon's memory follows
 * what the cache holds. With plain malloc, buffers of a few hundred KiB
 * freed by one thread and wanted by another pile up as free space in
 * glibc's per-thread arenas: reading a few GiB through a 256 MiB cache
 * left twice that resident. Here a buffer of 16 KiB or more is its own
 * mapping, rounded up to one of four size classes per power of two, and
 * goes back to a bounded free list of its class (or to the kernel when the
 * list is full) when released; smaller ones are plain malloc.
 *
 * Thread safe: one mutex, held only to push or pop a free list. */

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct BufferPool BufferPool;

/* max_idle: bytes of released buffers to keep for reuse. */
int buffer_pool_new(uint64_t max_idle, BufferPool **ret);
/* Unmaps every idle buffer. Buffers still out must not be released after
 * this. NULL-safe. */
BufferPool *buffer_pool_free(BufferPool *p);
DEFINE_FREEP(BufferPool, buffer_pool_free)

/* A buffer of at least size bytes, or NULL. *ret_capacity is what it
 * really holds (what it costs), to pass back to buffer_pool_release(). */
void *buffer_pool_get(BufferPool *p, size_t size, size_t *ret_capacity);
void buffer_pool_release(BufferPool *p, void *buf, size_t capacity);

/* Bytes held idle right now. */
uint64_t buffer_pool_idle(BufferPool *p);
