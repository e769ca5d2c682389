/* SPDX-License-Identifier: Apache-2.0 */
#include "fileio.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "macro.h"

ssize_t read_full(int fd, void *buf, size_t n) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = read(fd, (uint8_t *) buf + done, n - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

ssize_t pread_full(int fd, void *buf, size_t n, uint64_t offset) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = pread(fd, (uint8_t *) buf + done, n - done, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

int write_full(int fd, const void *buf, size_t n) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = write(fd, (const uint8_t *) buf + done, n - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        return 0;
}

int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = write_full(fd, data, n);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        return fsync_parent_dir(path);
}

int fsync_parent_dir(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        return fsync_dir(slash ? (*dir ? dir : "/") : ".");
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, (size_t) st.st_size);
        if (n < 0)
                return (int) n;
        buf[n] = 0;
        if (ret_size)
                *ret_size = (size_t) n;
        *ret = TAKE_PTR(buf);
        return 0;
}

const char *format_bytes(char buf[static 32], uint64_t n) {
        static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        if (n < 1024) {
                snprintf(buf, 32, "%" PRIu64 " B", n);
                return buf;
        }
        double v = (double) n;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(unit)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, 32, "%.1f %s", v, unit[u]);
        return buf;
}

int parse_size(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -EINVAL;
        uint64_t mult = 1;
        switch (*end) {
        case 0: break;
        case 'k': case 'K': mult = 1ULL << 10; end++; break;
        case 'm': case 'M': mult = 1ULL << 20; end++; break;
        case 'g': case 'G': mult = 1ULL << 30; end++; break;
        case 't': case 'T': mult = 1ULL << 40; end++; break;
        default: return -EINVAL;
        }
        if (*end == 'i' && end[-1] != 0)
                end++;
        if (*end == 'B')
                end++;
        if (*end)
                return -EINVAL;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

char *path_join(const char *a, const char *b) {
        char *p;
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (asprintf(&p, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return p;
}

void hex_encode(const void *p, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 15];
        }
        out[2 * n] = 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode(const char *s, size_t slen, void *out) {
        if (slen % 2)
                return -EINVAL;
        uint8_t *b = out;
        for (size_t i = 0; i < slen / 2; i++) {
                int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                b[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}
