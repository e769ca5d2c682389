/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Messages to stderr, prefixed with the program name. Only cli/ and the
 * mount daemon's top level call these; libraries return errors. The
 * *_errno() forms append strerror(-r) and return r (negative errno) so a
 * caller can `return log_error_errno(r, "...")`. */

#include <stdbool.h>

#include "macro.h"

enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(int level);
int log_get_level(void);
/* Sends messages to syslog instead of stderr (the daemonized mount). */
void log_use_syslog(bool on);

int log_full_errno(int level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
