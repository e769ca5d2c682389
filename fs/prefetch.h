/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Loads ahead of sequential readers: a few threads that fill the chunk
 * cache with the chunks a reader will ask for next, so that the disk read
 * and decompression of those overlap with the kernel copying the current
 * ones (the kernel's own read-ahead keeps only about 128 KiB in flight).
 *
 * A job is a hint: when the queue is full it is refused and the reader
 * loads the chunk itself when it gets there. Thread safe. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct Prefetch Prefetch;

/* What a worker does with a job, and what becomes of a job that never
 * runs (still queued when the pool is freed). */
typedef void (*PrefetchFn)(void *job);

int prefetch_new(unsigned threads, size_t queue_max, PrefetchFn run, PrefetchFn drop, Prefetch **ret);
/* Stops the workers (after the jobs they are running) and drops what is
 * still queued. NULL-safe. */
Prefetch *prefetch_free(Prefetch *p);
DEFINE_FREEP(Prefetch, prefetch_free)

/* Queues job; false (job not taken) when the queue is full. */
bool prefetch_submit(Prefetch *p, void *job);
