/* SPDX-License-Identifier: Apache-2.0 */
#include "mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "mount-fs.h"
#include "reterr.h"
#include "store.h"

/* Start-up: the parent checks the mount point, forks and waits on a pipe.
 * The child detaches, opens the store, mounts, starts the loop and a
 * readiness thread that stat()s the mount point through the kernel: once
 * that is answered by our own root the mount serves, and the child writes
 * "0" to the pipe ("1" and a message if anything failed). The parent exits
 * with that. Shutdown: the loop ends on a signal or when the kernel ends
 * the connection (unmount); then the poller stops and the session goes. */

#define POLL_INTERVAL_MS 250
/* Each busy thread pins at most its request's chunks (a few MiB): this
 * bounds what the cache can exceed its size by. */
#define LOOP_MAX_THREADS 16
#define LOOP_IDLE_THREADS 8
#define READAHEAD_KB "1024"
/* How long `isle mount` waits for the daemon to answer. */
#define READY_TIMEOUT_MS 60000
/* A fixed threshold: glibc's sliding one would move big temporary buffers
 * (compressed payloads) into the arenas after the first free, where they
 * linger. Chunk buffers have their own pool (buffer-pool.h). */
#define MMAP_THRESHOLD (256 << 10)

/* ---- the mount table ---- */

/* Undoes the octal escapes of /proc/self/mountinfo (\040 for a space). */
static void mountinfo_unescape(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
                    p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = 0;
}

/* 1 and the file system type (malloc'd, optional) when path is a mount
 * point, 0 when it is not. path must be absolute and canonical. */
static int mountinfo_find(const char *path, char **ret_fstype) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t n = 0;
        int found = 0;
        while (getline(&line, &n, f) > 0) {
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
                char *save = NULL, *field = strtok_r(line, " \n", &save);
                for (int i = 0; field && i < 4; i++)
                        field = strtok_r(NULL, " \n", &save);
                if (!field)
                        continue;
                mountinfo_unescape(field);
                if (strcmp(field, path) != 0)
                        continue;
                /* The last match wins: a mount stacked on top is what path shows. */
                found = 1;
                char *fstype = NULL;
                while ((field = strtok_r(NULL, " \n", &save)))
                        if (strcmp(field, "-") == 0) {
                                fstype = strtok_r(NULL, " \n", &save);
                                break;
                        }
                if (ret_fstype) {
                        free(*ret_fstype);
                        *ret_fstype = fstype ? strdup(fstype) : NULL;
                }
        }
        free(line);
        fclose(f);
        return found;
}

/* An absolute path without resolving the last component (which may be a
 * dead mount that cannot be stat()ed). */
static char *absolute_path(const char *path) {
        if (path[0] == '/')
                return strdup(path);
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        return cwd ? path_join(cwd, path) : NULL;
}

int mount_check_mountpoint(const char *path, char **reterr) {
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return reterr_printf(reterr, -ENOENT, "mount point %s does not exist", path);
                if (errno == ENOTCONN)
                        return reterr_printf(reterr, -EBUSY,
                                    "%s is a dead mount (its daemon is gone): run `isle umount %s` first", path,
                                    path);
                return reterr_printf(reterr, -errno, "cannot use %s as a mount point: %s", path, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode))
                return reterr_printf(reterr, -ENOTDIR, "mount point %s is not a directory", path);
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return reterr_printf(reterr, -errno, "cannot resolve %s: %s", path, strerror(errno));
        _cleanup_free_ char *fstype = NULL;
        int r = mountinfo_find(real, &fstype);
        if (r < 0)
                return reterr_printf(reterr, r, "cannot read the mount table: %s", strerror(-r));
        if (r > 0) {
                if (fstype && strcmp(fstype, MOUNT_FSTYPE) == 0)
                        return reterr_printf(reterr, -EBUSY, "%s is already mounted by isle: run `isle umount %s` first",
                                    path, path);
                return reterr_printf(reterr, -EBUSY, "%s is already a mount point (%s): isle mounts only on a plain empty "
                                            "directory",
                            path, fstype ? fstype : "unknown type");
        }
        DIR *d = opendir(real);
        if (!d)
                return reterr_printf(reterr, -errno, "cannot read mount point %s: %s", path, strerror(errno));
        struct dirent *de;
        bool empty = true;
        while (empty && (de = readdir(d)))
                empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
        closedir(d);
        if (!empty)
                return reterr_printf(reterr, -ENOTEMPTY, "mount point %s is not empty: isle mounts only on an empty directory",
                            path);
        return 0;
}

/* ---- the daemon ---- */

typedef struct Daemon {
        const MountOptions *options;
        MountFs *fs;
        struct fuse_session *session;
        int ready_fd;                   /* owned by the readiness thread once it runs */

        pthread_mutex_t lock;
        pthread_cond_t wake;            /* with CLOCK_MONOTONIC */
        bool stopping;                  /* protected by lock */
} Daemon;

/* Reports to the parent (if there is one) and closes the pipe. */
static void report(int *fd, const char *error) {
        if (*fd < 0)
                return;
        if (error) {
                (void) write_full(*fd, "1", 1);
                (void) write_full(*fd, error, strlen(error));
        } else
                (void) write_full(*fd, "0", 1);
        close(*fd);
        *fd = -1;
}

/* The kernel offers FUSE only a 128 KiB readahead window at INIT and takes
 * no more from the reply, so sequential reads arrive as 128 KiB requests
 * one at a time. A window of 1 MiB (our largest request) gets whole 1 MiB
 * requests, the next one already in flight: about twice the cold
 * throughput. Only root may raise it; others keep the default. */
static void raise_readahead(dev_t dev) {
        char path[64];
        snprintf(path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", major(dev), minor(dev));
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        int r = fd < 0 ? -errno : write_full(fd, READAHEAD_KB, strlen(READAHEAD_KB));
        if (r < 0)
                log_debug("cannot raise the readahead window (%s): %s", path, strerror(-r));
}

static void *ready_thread(void *p) {
        Daemon *d = p;
        const char *mp = d->options->mountpoint;
        /* stat() goes through the kernel to our own loop: it is answered once
         * the mount serves, by our root (st_ino 1) if the mount is still
         * there. (Not statfs(): that may scan the catalog.) */
        struct stat st;
        _cleanup_free_ char *fstype = NULL;
        char error[PATH_MAX + 128];
        bool ok = false;
        if (stat(mp, &st) < 0)
                snprintf(error, sizeof error, "the new mount at %s does not answer: %s", mp, strerror(errno));
        else if (st.st_ino != 1 || mountinfo_find(mp, &fstype) <= 0 || !fstype || strcmp(fstype, MOUNT_FSTYPE) != 0)
                snprintf(error, sizeof error, "the mount at %s went away before it was ready", mp);
        else
                ok = true;
        if (ok) {
                raise_readahead(st.st_dev);
                log_info("serving %s read-only at %s", d->options->store_path, mp);
        } else
                log_error("%s", error);
        report(&d->ready_fd, ok ? NULL : error);
        return NULL;
}

static void *poll_thread(void *p) {
        Daemon *d = p;
        bool warned = false;
        pthread_mutex_lock(&d->lock);
        while (!d->stopping) {
                struct timespec deadline;
                clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_nsec += POLL_INTERVAL_MS * 1000000L;
                deadline.tv_sec += deadline.tv_nsec / 1000000000L;
                deadline.tv_nsec %= 1000000000L;
                while (!d->stopping && pthread_cond_timedwait(&d->wake, &d->lock, &deadline) != ETIMEDOUT)
                        ;
                if (d->stopping)
                        break;
                pthread_mutex_unlock(&d->lock);
                int r = mount_fs_refresh(d->fs);
                if (r < 0 && !warned)
                        log_warning_errno(r, "cannot check the store for changes (will retry)");
                warned = r < 0;
                pthread_mutex_lock(&d->lock);
        }
        pthread_mutex_unlock(&d->lock);
        return NULL;
}

/* Threads of ours take no signals: SIGTERM and SIGINT must reach the
 * thread in the loop, which libfuse's handlers wake. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int r = pthread_create(t, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -r;
}

static void stop_poller(Daemon *d, pthread_t poller) {
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        /* A notification can wait on a directory lock held by a request that
         * will never be answered now that the loop is gone; unmounting ends
         * the connection and frees it. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        if (pthread_timedjoin_np(poller, NULL, &deadline) == 0) {
                fuse_session_unmount(d->session);
                return;
        }
        fuse_session_unmount(d->session);
        pthread_join(poller, NULL);
}

static int open_store(const char *path, Store **ret, char **reterr) {
        int r = store_open(path, false, ret);
        return r < 0 ? store_open_error(reterr, path, r) : 0;
}

static struct fuse_session *new_session(const MountOptions *o, MountFs *fs, char **reterr) {
        _cleanup_free_ char *opts = NULL, *fsname = NULL;
        if (asprintf(&fsname, "fsname=%s", o->store_path) < 0 ||
            fuse_opt_add_opt(&opts, "ro,default_permissions,subtype=isle") < 0 ||
            fuse_opt_add_opt_escaped(&opts, fsname) < 0 ||
            (o->allow_other && fuse_opt_add_opt(&opts, "allow_other") < 0))
                return reterr_printf(reterr, -ENOMEM, "out of memory"), NULL;
        char *argv[] = { (char *) "isle", (char *) "-o", opts, o->debug ? (char *) "-d" : NULL, NULL };
        struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
        struct fuse_session *se = fuse_session_new(&args, &mount_fs_ops, sizeof mount_fs_ops, fs);
        fuse_opt_free_args(&args);
        if (!se)
                return reterr_printf(reterr, -EINVAL, "cannot start a FUSE session (options: %s)", opts), NULL;
        return se;
}

/* Everything after the fork (or in the foreground). *ready_fd: where to
 * report readiness, or -1; set to -1 once the readiness thread owns it
 * (until then, reporting a failure is the caller's job). */
static int serve(const MountOptions *o, int *ready_fd, char **reterr) {
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);

        _cleanup_(store_freep) Store *s = NULL;
        int r = open_store(o->store_path, &s, reterr);
        if (r < 0)
                return r;
        _cleanup_(mount_fs_freep) MountFs *fs = NULL;
        r = mount_fs_new(s, o->cache_size, &fs);
        if (r < 0)
                return reterr_printf(reterr, r, "cannot set up the mount: %s", strerror(-r));
        r = mount_fs_refresh(fs); /* the baseline */
        if (r < 0)
                return reterr_printf(reterr, r, "cannot read the catalog of %s: %s", o->store_path, strerror(-r));

        Daemon d = { .options = o, .fs = fs, .ready_fd = *ready_fd };
        d.session = new_session(o, fs, reterr);
        if (!d.session)
                return -EINVAL;
        pthread_mutex_init(&d.lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d.wake, &ca);
        pthread_condattr_destroy(&ca);

        struct fuse_loop_config *cfg = NULL;
        pthread_t poller, ready;
        bool poller_started = false, ready_started = false, mounted = false;
        if (fuse_set_signal_handlers(d.session) < 0) {
                r = reterr_printf(reterr, -EIO, "cannot install signal handlers");
                goto out;
        }
        if (fuse_session_mount(d.session, o->mountpoint) != 0) {
                r = reterr_printf(reterr, -EIO, "cannot mount on %s (is /dev/fuse there, and fuse allowed?%s)",
                         o->mountpoint, o->allow_other ? " allow_other needs user_allow_other in /etc/fuse.conf "
                                                         "for users other than root"
                                                       : "");
                goto out;
        }
        mounted = true;
        mount_fs_set_session(fs, d.session);
        cfg = fuse_loop_cfg_create();
        if (!cfg) {
                r = reterr_printf(reterr, -ENOMEM, "out of memory");
                goto out;
        }
        fuse_loop_cfg_set_clone_fd(cfg, 1);
        fuse_loop_cfg_set_max_threads(cfg, LOOP_MAX_THREADS);
        fuse_loop_cfg_set_idle_threads(cfg, LOOP_IDLE_THREADS);

        r = start_thread(&poller, poll_thread, &d);
        if (r < 0) {
                reterr_printf(reterr, r, "cannot start a thread: %s", strerror(-r));
                goto out;
        }
        poller_started = true;
        r = start_thread(&ready, ready_thread, &d);
        if (r < 0) {
                reterr_printf(reterr, r, "cannot start a thread: %s", strerror(-r));
                goto out;
        }
        ready_started = true;
        *ready_fd = -1; /* the readiness thread's now */

        r = fuse_session_loop_mt(d.session, cfg);
        /* > 0: the signal that ended it; both that and 0 are a clean end. */
        if (r < 0) {
                log_error_errno(r, "the FUSE loop failed");
                reterr_printf(reterr, r, "the FUSE loop failed: %s", strerror(-r));
        } else
                r = 0;

out:
        if (poller_started)
                stop_poller(&d, poller);
        else if (mounted)
                fuse_session_unmount(d.session);
        if (ready_started)
                pthread_join(ready, NULL); /* stat() returns once unmounted */
        fuse_remove_signal_handlers(d.session);
        fuse_session_destroy(d.session);
        if (cfg)
                fuse_loop_cfg_destroy(cfg);
        pthread_cond_destroy(&d.wake);
        pthread_mutex_destroy(&d.lock);
        if (ready_started && r >= 0) {
                MountFsStats st;
                mount_fs_stats(fs, &st);
                char b[32];
                log_info("unmounted %s: %" PRIu64 " reads (%s), %" PRIu64 " lookups, chunk cache %" PRIu64
                         " hits / %" PRIu64 " misses, %" PRIu64 " partial chunk reads, %" PRIu64
                         " damaged objects seen",
                         o->mountpoint, st.reads, format_bytes(b, st.read_bytes), st.lookups, st.chunk_hits,
                         st.chunk_misses, st.part_reads, st.damaged);
        }
        return r;
}

/* log_fd: the log file (stderr from now on), or -1 for syslog. The
 * terminal, or whatever pipe the caller reads, is let go: a caller that
 * runs `out=$(isle mount …)` must not wait for the daemon to exit. */
static int daemon_child(const MountOptions *o, int ready_fd, int log_fd) {
        (void) setsid();
        if (chdir("/") < 0)
                return 1;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(log_fd >= 0 ? log_fd : null, STDERR_FILENO);
                if (null > STDERR_FILENO)
                        close(null);
        }
        if (log_fd > STDERR_FILENO)
                close(log_fd);
        log_use_syslog(log_fd < 0);
        _cleanup_free_ char *error = NULL;
        int r = serve(o, &ready_fd, &error);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                report(&ready_fd, error ? error : strerror(-r)); /* unless the readiness thread took it */
        }
        return r < 0 ? 1 : 0;
}

int mount_run(const MountOptions *options, char **reterr) {
        MountOptions o = *options;
        if (o.debug)
                o.foreground = true;
        if (o.cache_size == 0)
                o.cache_size = MOUNT_CACHE_SIZE_DEFAULT;

        int r = mount_check_mountpoint(o.mountpoint, reterr);
        if (r < 0)
                return r;
        /* The daemon runs from /: absolute paths. */
        _cleanup_free_ char *mp = realpath(o.mountpoint, NULL);
        if (!mp)
                return reterr_printf(reterr, -errno, "cannot resolve %s: %s", o.mountpoint, strerror(errno));
        _cleanup_free_ char *store = realpath(o.store_path, NULL);
        if (!store) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return reterr_printf(reterr, -ENOENT, "%s is not an isle store (create one with `isle --store %s init`)",
                                    o.store_path, o.store_path);
                return reterr_printf(reterr, -errno, "cannot resolve %s: %s", o.store_path, strerror(errno));
        }
        o.mountpoint = mp;
        o.store_path = store;

        if (o.foreground) {
                int no_fd = -1;
                return serve(&o, &no_fd, reterr);
        }

        _cleanup_close_ int log_fd = -1;
        if (o.log_path) {
                log_fd = open(o.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
                if (log_fd < 0)
                        return reterr_printf(reterr, -errno, "cannot open log file %s: %s", o.log_path, strerror(errno));
        }
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return reterr_printf(reterr, -errno, "cannot create a pipe: %s", strerror(errno));
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
                r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return reterr_printf(reterr, r, "cannot fork: %s", strerror(-r));
        }
        if (pid == 0) {
                close(pipefd[0]);
                exit(daemon_child(&o, pipefd[1], TAKE_FD(log_fd)));
        }
        close(pipefd[1]);

        /* "0": serving. "1" + message: failed. Nothing: the child died. */
        char buf[4096];
        size_t n = 0;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
                int k = waited < READY_TIMEOUT_MS ? poll(&pfd, 1, (int) (READY_TIMEOUT_MS - waited)) : 0;
                if (k < 0 && errno == EINTR)
                        continue;
                if (k == 0) {
                        close(pipefd[0]);
                        kill(pid, SIGTERM);
                        return reterr_printf(reterr, -ETIMEDOUT, "the mount daemon did not answer within %d s (stopped it)",
                                    READY_TIMEOUT_MS / 1000);
                }
                ssize_t got = k < 0 ? -1 : read(pipefd[0], buf + n, sizeof buf - 1 - n);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                n += (size_t) got;
                if (n == sizeof buf - 1)
                        break;
        }
        close(pipefd[0]);
        buf[n] = 0;
        if (n > 0 && buf[0] == '0')
                return 0;
        if (n > 1)
                return reterr_printf(reterr, -EIO, "%s", buf + 1);
        int status = 0;
        (void) waitpid(pid, &status, 0);
        if (WIFSIGNALED(status))
                return reterr_printf(reterr, -EIO, "the mount daemon died (signal %d) before the mount was ready",
                            WTERMSIG(status));
        return reterr_printf(reterr, -EIO, "the mount daemon exited (status %d) before the mount was ready",
                    WEXITSTATUS(status));
}

/* ---- unmounting ---- */

static int run_fusermount(const char *path, bool lazy) {
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (lazy)
                        execlp("fusermount3", "fusermount3", "-u", "-z", "--", path, (char *) NULL);
                else
                        execlp("fusermount3", "fusermount3", "-u", "--", path, (char *) NULL);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return -ENOENT;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBUSY;
}

int mount_unmount(const char *path, bool lazy, char **reterr) {
        /* realpath() fails on a dead mount (ENOTCONN): then take the path
         * as given, made absolute. */
        _cleanup_free_ char *abs = realpath(path, NULL);
        if (!abs && !(abs = absolute_path(path)))
                return reterr_printf(reterr, -ENOMEM, "out of memory");
        _cleanup_free_ char *fstype = NULL;
        int r = mountinfo_find(abs, &fstype);
        if (r < 0)
                return reterr_printf(reterr, r, "cannot read the mount table: %s", strerror(-r));
        if (r == 0)
                return reterr_printf(reterr, -EINVAL, "%s is not mounted", path);
        if (!fstype || strcmp(fstype, MOUNT_FSTYPE) != 0)
                return reterr_printf(reterr, -EINVAL, "%s is not an isle mount (it is %s)", path, fstype ? fstype : "unknown");

        if (geteuid() == 0) {
                if (umount2(abs, lazy ? MNT_DETACH : 0) == 0)
                        return 0;
                r = -errno;
        } else
                r = run_fusermount(abs, lazy);
        if (r == -EBUSY)
                return reterr_printf(reterr, r, "%s is busy: a process has a file open or its working directory there "
                                       "(close them, or use --lazy)",
                            path);
        if (r == -ENOENT && geteuid() != 0)
                return reterr_printf(reterr, r, "cannot unmount %s: fusermount3 is not installed", path);
        return reterr_printf(reterr, r, "cannot unmount %s: %s", path, strerror(-r));
}
