/* bench-randread: random 4 KiB reads for scripts/bench when fio is missing.
 *
 *   bench-randread FILE N SEED
 *
 * Reads N blocks of 4 KiB, one at a time with pread(), at 4 KiB-aligned
 * offsets drawn from xorshift64* seeded with SEED (the same offsets for the
 * same file size and seed), and prints the seconds the reads took (monotonic
 * clock; opening the file is not counted). Exit status 1 on any error or
 * short read. scripts/bench compiles it into its work directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        static char buf[BLOCK] __attribute__((aligned(BLOCK)));
        struct stat st;
        char *end;

        if (argc != 4) {
                fprintf(stderr, "usage: bench-randread FILE N SEED\n");
                return 2;
        }
        long n = strtol(argv[2], &end, 10);
        if (*end || n <= 0) {
                fprintf(stderr, "bench-randread: bad N '%s'\n", argv[2]);
                return 2;
        }
        uint64_t x = strtoull(argv[3], &end, 10);
        if (*end) {
                fprintf(stderr, "bench-randread: bad SEED '%s'\n", argv[3]);
                return 2;
        }
        x = x ? x : 0x9e3779b97f4a7c15ULL; /* xorshift needs a non-zero state */

        int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "bench-randread: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        uint64_t blocks = (uint64_t) st.st_size / BLOCK;
        if (blocks == 0) {
                fprintf(stderr, "bench-randread: %s is smaller than %d bytes\n", argv[1], BLOCK);
                return 1;
        }
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);

        unsigned sum = 0;
        double t0 = now();
        for (long i = 0; i < n; i++) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                uint64_t off = ((x * 0x2545f4914f6cdd1dULL) % blocks) * BLOCK;
                ssize_t k = pread(fd, buf, BLOCK, (off_t) off);
                if (k != BLOCK) {
                        fprintf(stderr, "bench-randread: %s: read at %" PRIu64 ": %s\n", argv[1], off,
                                k < 0 ? strerror(errno) : "short read");
                        return 1;
                }
                sum += (unsigned char) buf[i % BLOCK];
        }
        double t1 = now();
        printf("%.6f\n", t1 - t0);
        fprintf(stderr, "bench-randread: %ld reads, checksum %u\n", n, sum);
        close(fd);
        return 0;
}
