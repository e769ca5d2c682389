/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Explanations for the user, handed up from importers, the transfer and
 * the mount daemon (`char **reterr`): the first one set wins, since it is
 * the closest to the cause. */

#include "macro.h"

/* Formats into *reterr unless reterr is NULL or already set; returns r, so
 * that `return reterr_printf(reterr, -EBADMSG, "%s: ...", path);` reads as
 * one step. */
int reterr_printf(char **reterr, int r, const char *fmt, ...) _printf_(3, 4);
