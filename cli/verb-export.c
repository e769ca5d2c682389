/* SPDX-License-Identifier: Apache-2.0 */
/* isle export NAME[@REV]... -o FILE|-: bundle revisions, or what changed
 * since a base the other side has, as a transfer file (import/export.h) for
 * media or a data diode. A file goes to a temporary name and is renamed
 * when whole, so FILE (or FILE.NNN) never exists half-written; stdout and
 * devices are written straight through, sequentially. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "export.h"
#include "fileio.h"
#include "inventory.h"
#include "log.h"

typedef struct Output {
        char *path;             /* final name; NULL for stdout */
        char *tmp;              /* what is written, renamed to path at the end; NULL if direct */
        int fd;
} Output;

static void output_discard(Output *o) {
        if (o->fd > STDERR_FILENO)
                close(o->fd);
        if (o->tmp)
                unlink(o->tmp);
        free(o->tmp);
        free(o->path);
        *o = (Output) { .fd = -1 };
}

static int output_open(const char *path, Output *ret) {
        *ret = (Output) { .fd = -1 };
        if (strcmp(path, "-") == 0) {
                ret->fd = STDOUT_FILENO;
                return 0;
        }
        struct stat st;
        ret->path = strdup(path);
        if (!ret->path)
                return -ENOMEM;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                /* A tape, a pipe, a device: write in place. */
                ret->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
                return ret->fd < 0 ? -errno : 0;
        }
        if (asprintf(&ret->tmp, "%s.partial-%d", path, (int) getpid()) < 0) {
                ret->tmp = NULL;
                return -ENOMEM;
        }
        ret->fd = open(ret->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (ret->fd < 0) {
                int r = -errno;
                free(ret->tmp);
                ret->tmp = NULL;
                return r;
        }
        return 0;
}

/* Makes the output durable and gives it its name. */
static int output_finish(Output *o) {
        if (o->fd == STDOUT_FILENO)
                return 0;
        int r = 0;
        if (fsync(o->fd) < 0 && errno != EINVAL && errno != EROFS)
                r = -errno;
        if (close(o->fd) < 0 && r == 0)
                r = -errno;
        o->fd = -1;
        if (r == 0 && o->tmp && rename(o->tmp, o->path) < 0)
                r = -errno;
        if (r == 0 && o->tmp) {
                free(o->tmp);
                o->tmp = NULL;
                _cleanup_free_ char *dir = strdup(o->path);
                if (!dir)
                        return -ENOMEM;
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = 0;
                r = fsync_dir(slash ? (*dir ? dir : "/") : ".");
        }
        return r;
}

typedef struct Progressed {
        Progress *progress;
        uint64_t before;        /* bytes of earlier volumes */
} Progressed;

static void on_progress(uint64_t bytes, void *userdata) {
        Progressed *p = userdata;
        progress_update(p->progress, p->before + bytes);
}

static int read_have(const char *path, IdSet *have, uint64_t *ret_count) {
        _cleanup_close_ int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return cli_fail(-errno, "--have %s", path);
        _cleanup_free_ char *err = NULL;
        int r = inventory_read(fd, have, ret_count, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "--have %s", path);
        return 0;
}

static json_t *summary(const ExportWriter *w, const char *out) {
        json_t *sizes = json_array();
        for (uint32_t v = 1; v <= export_writer_volumes(w); v++)
                json_array_append_new(sizes, json_integer((json_int_t) export_writer_volume_size(w, v)));
        const json_t *m = export_writer_manifest(w);
        return json_pack("{s:s,s:O,s:O,s:I,s:I,s:I,s:i,s:o,s:s*}", "export", object_id_hex(export_writer_id(w)),
                         "revisions", json_object_get(m, "revisions"), "bases", json_object_get(m, "bases"), "objects",
                         (json_int_t) export_writer_objects(w), "record_bytes",
                         (json_int_t) export_writer_record_bytes(w), "bytes",
                         (json_int_t) export_writer_total_size(w), "volumes", (int) export_writer_volumes(w),
                         "volume_bytes", sizes, "output", out);
}

static const char *describe(const ExportWriter *w, char *buf, size_t n) {
        const json_t *m = export_writer_manifest(w);
        size_t i, k = 0;
        json_t *e;
        buf[0] = 0;
        json_array_foreach(json_object_get(m, "revisions"), i, e)
                k += (size_t) snprintf(buf + MIN(k, n - 1), n - MIN(k, n - 1), "%s%s@%" JSON_INTEGER_FORMAT,
                                       i ? ", " : "", json_string_value(json_object_get(e, "bundle")),
                                       json_integer_value(json_object_get(e, "revision")));
        json_array_foreach(json_object_get(m, "bases"), i, e)
                k += (size_t) snprintf(buf + MIN(k, n - 1), n - MIN(k, n - 1), "%s%s@%" JSON_INTEGER_FORMAT,
                                       i ? ", " : " since ", json_string_value(json_object_get(e, "bundle")),
                                       json_integer_value(json_object_get(e, "revision")));
        return buf;
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "since", required_argument, NULL, 's' },
                { "have", required_argument, NULL, 'H' },
                { "sign", required_argument, NULL, 'k' },
                { "split", required_argument, NULL, 'S' },
                { "dry-run", no_argument, NULL, 'n' },
                { "output", required_argument, NULL, 'o' },
                {},
        };
        _cleanup_free_ char **since = NULL;
        size_t n_since = 0, allocated_since = 0;
        const char *have_path = NULL, *key_path = NULL, *out = NULL;
        uint64_t split = 0;
        bool dry_run = false;
        int c;
        while ((c = getopt_long(argc, argv, "s:H:k:S:no:", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (GROW(since, allocated_since, n_since + 1) < 0)
                                return cli_fail(-ENOMEM, "export");
                        since[n_since++] = optarg;
                        break;
                case 'H': have_path = optarg; break;
                case 'k': key_path = optarg; break;
                case 'S':
                        if (parse_size(optarg, &split) < 0 || split == 0)
                                return cli_fail(0, "--split %s: expected a size such as 4G, 4480M or 650M", optarg);
                        break;
                case 'n': dry_run = true; break;
                case 'o': out = optarg; break;
                default: cli_usage(&verb_export, stderr); return 2;
                }
        if (optind >= argc || (!out && !dry_run)) {
                cli_usage(&verb_export, stderr);
                return 2;
        }
        bool to_stdout = out && strcmp(out, "-") == 0;
        if (to_stdout && split && !dry_run)
                return cli_fail(0, "--split writes numbered files; it needs -o FILE, not stdout");
        if (to_stdout && !dry_run && isatty(STDOUT_FILENO))
                return cli_fail(0, "refusing to write an export to a terminal; use -o FILE or a pipe");

        _cleanup_(signature_key_freep) SignatureKey *key = NULL;
        if (key_path) {
                _cleanup_free_ char *err = NULL;
                int r = signature_key_load_private(key_path, &key, &err);
                if (r < 0)
                        return cli_fail_detail(r, err, "--sign %s", key_path);
        }
        _cleanup_(id_set_freep) IdSet *have = NULL;
        uint64_t have_count = 0;
        if (have_path) {
                if (id_set_new(&have) < 0)
                        return cli_fail(-ENOMEM, "export");
                if (read_have(have_path, have, &have_count) != 0)
                        return 1;
        }

        _cleanup_(store_freep) Store *s = NULL;
        if (cli_open_store(false, &s) < 0)
                return 1;
        ExportOptions o = {
                .revisions = argv + optind,
                .n_revisions = (size_t) (argc - optind),
                .since = since,
                .n_since = n_since,
                .have = have,
                .sign = key,
                .split = split,
        };
        _cleanup_(export_writer_freep) ExportWriter *w = NULL;
        _cleanup_free_ char *err = NULL;
        int r = export_writer_new(s, &o, &w, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "export");

        char what[1024], a[32], b[32], d[32];
        describe(w, what, sizeof what);
        uint32_t n = export_writer_volumes(w);
        if (dry_run) {
                if (cli.json)
                        cli_print_json(summary(w, NULL));
                else
                        printf("%s: would write %" PRIu64 " bytes (%s) in %u volume%s: %" PRIu64
                               " objects, %s of records, %s of manifest and object list per volume\n",
                               what, export_writer_total_size(w), format_bytes(a, export_writer_total_size(w)), n,
                               n == 1 ? "" : "s", export_writer_objects(w),
                               format_bytes(b, export_writer_record_bytes(w)),
                               format_bytes(d, export_writer_overhead(w)));
                return 0;
        }

        _cleanup_(progress_freep) Progress *p = progress_new("exporting", export_writer_total_size(w));
        Progressed pr = { p, 0 };
        for (uint32_t v = 1; v <= n; v++) {
                _cleanup_free_ char *name = NULL;
                if (split ? asprintf(&name, "%s.%03u", out, v) < 0 : !(name = strdup(out)))
                        return cli_fail(-ENOMEM, "export");
                Output o_file;
                r = output_open(name, &o_file);
                if (r < 0)
                        return cli_fail(r, "cannot create %s", name);
                _cleanup_free_ char *werr = NULL;
                r = export_writer_write_volume(w, v, o_file.fd, on_progress, &pr, &werr);
                if (r >= 0)
                        r = output_finish(&o_file);
                output_discard(&o_file);
                if (r < 0)
                        return cli_fail_detail(r, werr, "export to %s", to_stdout ? "stdout" : name);
                pr.before += export_writer_volume_size(w, v);
                if (!cli.json && !cli.quiet && !to_stdout && split)
                        log_info("wrote %s (%s)", name, format_bytes(a, export_writer_volume_size(w, v)));
        }
        progress_free(TAKE_PTR(p));
        if (cli.json && !to_stdout)
                cli_print_json(summary(w, out));
        else if (!cli.quiet)
                fprintf(to_stdout ? stderr : stdout, "exported %s: %" PRIu64 " objects, %s in %u volume%s%s%s\n",
                        what, export_writer_objects(w), format_bytes(a, export_writer_total_size(w)), n,
                        n == 1 ? "" : "s", key ? ", signed" : "",
                        have ? " (leaving out what --have lists)" : "");
        return 0;
}

const Verb verb_export = {
        .name = "export",
        .summary = "write bundle revisions to a transfer file for media or a data diode",
        .usage = "export NAME[@REV]... -o FILE|- [--since NAME@REV]... [--have FILE] [--sign KEY]\n"
                 "                   [--split SIZE] [--dry-run]\n\n"
                 "  -o, --output FILE   where to write (- for stdout); written sequentially\n"
                 "  --since NAME@REV    leave out everything that revision reaches (at chunk level);\n"
                 "                      the importing store must have it\n"
                 "  --have FILE         leave out the objects an `isle inventory` of the other side lists\n"
                 "  --sign KEY          sign with an Ed25519 private key (isle keygen)\n"
                 "  --split SIZE        write FILE.001, FILE.002, ... of at most SIZE bytes each (4G for\n"
                 "                      FAT32, 4480M for a DVD); each volume imports on its own, in any order\n"
                 "  --dry-run           print the exact bytes and volumes it would write; write nothing",
        .run = run,
};
