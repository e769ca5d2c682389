/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A tiny TAP (Test Anything Protocol, version 12) producer for the test
 * executables, which meson runs with `protocol: 'tap'`.
 *
 *         int main(void) {
 *                 check(1 + 1 == 2, "addition");
 *                 check_eq(strlen("ab"), 2, "strlen(\"%s\")", "ab");
 *                 tap_diag("seed=%" PRIu64, seed);
 *                 return tap_done_testing();
 *         }
 *
 * Everything goes to stdout: "ok N - description", "not ok N - description"
 * followed by "# " lines saying where and why, and the plan "1..N". Without
 * tap_plan() the plan is printed last by tap_done_testing(), which returns
 * the exit code for main(): 0 when at least one test ran, all passed and
 * the count matches a declared plan, 1 otherwise.
 *
 * The state is one static per executable: include this header from the one
 * .c file holding the tests. Not thread safe; call it from one thread. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct TapState {
        unsigned run;     /* tests reported so far */
        unsigned failed;  /* of which "not ok" */
        unsigned planned; /* from tap_plan(), when has_plan */
        bool has_plan;
} TapState;

static inline TapState *tap_state(void) {
        static TapState state;
        return &state;
}

/* Declares up front that n tests will run. Optional; call at most once,
 * before the first test. */
static inline void tap_plan(unsigned n) {
        TapState *s = tap_state();
        s->planned = n;
        s->has_plan = true;
        printf("1..%u\n", n);
        fflush(stdout);
}

/* Prints a diagnostic line ("# ...") that TAP consumers show but do not
 * interpret. A trailing newline in fmt is not needed. */
__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...) {
        va_list ap;

        fputs("# ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

/* Reports one test. Returns pass, so callers can skip dependent checks
 * (`if (!check(...)) return;`). Use the check() macros instead. */
__attribute__((format(printf, 4, 5))) static inline bool tap_ok(
                bool pass, const char *file, int line, const char *fmt, ...) {
        TapState *s = tap_state();
        va_list ap;

        s->run++;
        if (!pass)
                s->failed++;

        printf("%s %u - ", pass ? "ok" : "not ok", s->run);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        if (!pass)
                printf("#   Failed at %s:%d\n", file, line);
        fflush(stdout);
        return pass;
}

/* Immediately gives up the whole test run, e.g. when setup failed. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void tap_bail_out(const char *fmt, ...) {
        va_list ap;

        fputs("Bail out! ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
        exit(EXIT_FAILURE);
}

/* Prints the plan if none was declared and returns main()'s exit code. */
static inline int tap_done_testing(void) {
        TapState *s = tap_state();

        if (!s->has_plan)
                printf("1..%u\n", s->run);
        if (s->run == 0)
                printf("# no tests ran\n");
        if (s->has_plan && s->planned != s->run)
                printf("# planned %u tests but ran %u\n", s->planned, s->run);
        if (s->failed > 0)
                printf("# failed %u of %u tests\n", s->failed, s->run);
        fflush(stdout);

        if (s->run == 0 || s->failed > 0 || (s->has_plan && s->planned != s->run))
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}

/* check(cond, fmt, ...): one test that passes when cond is true. */
#define check(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* check_eq(a, b, fmt, ...): one test that passes when the integers a and b
 * are equal; on failure both values are printed. Each argument is evaluated
 * once. */
#define check_eq(a, b, ...)                                                             \
        ({                                                                              \
                intmax_t _tap_a_ = (intmax_t) (a), _tap_b_ = (intmax_t) (b);            \
                bool _tap_pass_ = tap_ok(_tap_a_ == _tap_b_, __FILE__, __LINE__, __VA_ARGS__); \
                if (!_tap_pass_)                                                        \
                        tap_diag("  got %jd, expected %jd (%s == %s)", _tap_a_, _tap_b_, #a, #b); \
                _tap_pass_;                                                             \
        })
