/* SPDX-License-Identifier: Apache-2.0 */
#include "reterr.h"

#include <stdarg.h>
#include <stdio.h>

int reterr_printf(char **reterr, int r, const char *fmt, ...) {
        if (reterr && !*reterr) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(reterr, fmt, ap) < 0)
                        *reterr = NULL;
                va_end(ap);
        }
        return r;
}
