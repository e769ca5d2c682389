/* SPDX-License-Identifier: Apache-2.0 */
/* isle mount MOUNTPOINT / isle umount MOUNTPOINT: the store as a read-only
 * filesystem (fs/mount.h). */
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "mount.h"

/* -o takes a comma-separated list; only what isle knows is accepted. */
static int parse_mount_options(const char *list, MountOptions *o) {
        _cleanup_free_ char *copy = strdup(list);
        if (!copy)
                return cli_fail(-ENOMEM, "-o");
        char *save = NULL;
        for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
                if (strcmp(opt, "allow_other") == 0)
                        o->allow_other = true;
                else if (strcmp(opt, "ro") == 0)
                        ; /* always */
                else
                        return cli_fail(0, "unknown mount option '%s' (known: allow_other, ro)", opt);
        }
        return 0;
}

static int run_mount(int argc, char **argv) {
        static const struct option options[] = {
                { "foreground", no_argument, NULL, 'f' },
                { "options", required_argument, NULL, 'o' },
                { "cache-size", required_argument, NULL, 'c' },
                { "debug", no_argument, NULL, 'd' },
                { "log", required_argument, NULL, 'l' },
                {},
        };
        MountOptions o = { .store_path = cli.store_path };
        int c;
        while ((c = getopt_long(argc, argv, "fo:d", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        o.foreground = true;
                        break;
                case 'o':
                        if (parse_mount_options(optarg, &o) != 0)
                                return 1;
                        break;
                case 'c': {
                        uint64_t size;
                        if (parse_size(optarg, &size) < 0 || size < (16u << 20))
                                return cli_fail(0, "--cache-size %s: expected a size of at least 16M (like 256M, 2G)",
                                                optarg);
                        o.cache_size = size;
                        break;
                }
                case 'd':
                        o.debug = true;
                        break;
                case 'l':
                        o.log_path = optarg;
                        break;
                default:
                        cli_usage(&verb_mount, stderr);
                        return 2;
                }
        }
        if (argc - optind != 1) {
                cli_usage(&verb_mount, stderr);
                return 2;
        }
        o.mountpoint = argv[optind];
        _cleanup_free_ char *err = NULL;
        int r = mount_run(&o, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "cannot mount %s on %s", cli.store_path, o.mountpoint);
        if (o.foreground || o.debug)
                return 0; /* unmounted by now */
        if (cli.json)
                cli_print_json(json_pack("{s:s,s:s}", "store", cli.store_path, "mountpoint", o.mountpoint));
        else if (!cli.quiet)
                printf("mounted %s read-only at %s\n", cli.store_path, o.mountpoint);
        return 0;
}

static int run_umount(int argc, char **argv) {
        static const struct option options[] = {
                { "lazy", no_argument, NULL, 'l' },
                {},
        };
        bool lazy = false;
        int c;
        while ((c = getopt_long(argc, argv, "l", options, NULL)) >= 0) {
                switch (c) {
                case 'l':
                        lazy = true;
                        break;
                default:
                        cli_usage(&verb_umount, stderr);
                        return 2;
                }
        }
        if (argc - optind != 1) {
                cli_usage(&verb_umount, stderr);
                return 2;
        }
        _cleanup_free_ char *err = NULL;
        int r = mount_unmount(argv[optind], lazy, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "cannot unmount %s", argv[optind]);
        return 0;
}

const Verb verb_mount = {
        .name = "mount",
        .summary = "serve the store as a read-only filesystem",
        .usage = "mount MOUNTPOINT [-f] [-o allow_other] [--cache-size SIZE] [--log FILE]\n\n"
                 "  MOUNTPOINT/current            -> generations/N, the active set\n"
                 "  MOUNTPOINT/generations/N/     every generation\n"
                 "  MOUNTPOINT/bundles/NAME/REV/  every bundle revision; NAME/latest -> REV\n"
                 "  MOUNTPOINT/blobs/sha256/HEX   any blob by digest (found by name, not listed)\n\n"
                 "New revisions, activations and rollbacks show up within a second. Every byte\n"
                 "read is verified against its digest; damaged data is an I/O error, never wrong\n"
                 "bytes. Returns once the mount answers; the daemon logs to syslog.\n\n"
                 "  -f, --foreground   stay in the foreground, logging to stderr\n"
                 "  -o allow_other     let other users read the mount (a registry running as\n"
                 "                     another user, for one)\n"
                 "  --cache-size SIZE  verified, decompressed data kept in memory (default 256M,\n"
                 "                     at least 16M); the daemon uses about this much\n"
                 "  --log FILE         the detached daemon logs to FILE (appending) instead of syslog\n"
                 "  -d, --debug        trace every FUSE request on stderr (implies -f)\n\n"
                 "Unmount with `isle umount MOUNTPOINT`, fusermount3 -u, or SIGTERM to the daemon.",
        .run = run_mount,
};

const Verb verb_umount = {
        .name = "umount",
        .summary = "unmount a mounted store",
        .usage = "umount MOUNTPOINT [--lazy]\n\n"
                 "  -l, --lazy   detach now even if files are open; the mount goes when they close",
        .run = run_umount,
};
