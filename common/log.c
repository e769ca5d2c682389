/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static int max_level = LOG_LEVEL_INFO;
static bool to_syslog;

void log_set_level(int level) {
        max_level = level;
}

int log_get_level(void) {
        return max_level;
}

void log_use_syslog(bool on) {
        to_syslog = on;
        if (on)
                openlog("isle", LOG_PID, LOG_DAEMON);
}

int log_full_errno(int level, int r, const char *fmt, ...) {
        if (level > max_level)
                return r;

        int saved = errno;
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (to_syslog) {
                static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
                if (r < 0)
                        syslog(prio[level], "%s: %s", msg, strerror(-r));
                else
                        syslog(prio[level], "%s", msg);
        } else {
                static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
                if (r < 0)
                        fprintf(stderr, "isle: %s%s: %s\n", prefix[level], msg, strerror(-r));
                else
                        fprintf(stderr, "isle: %s%s\n", prefix[level], msg);
        }
        errno = saved;
        return r;
}
