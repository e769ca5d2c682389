/* SPDX-License-Identifier: Apache-2.0 */
/* isle config: the store's policy (import/store-config.h).
 *   isle config                                 show it
 *   isle config require-signature PUBKEY...     imports must be signed by one of these
 *   isle config require-signature --none        signatures are optional again */
#include <stdio.h>

#include "cli.h"
#include "store-config.h"

static int show(Store *s) {
        json_t *config;
        int r = store_config_read(store_path(s), &config);
        if (r < 0)
                return cli_fail(r, "cannot read %s/config.json", store_path(s));
        if (cli.json) {
                cli_print_json(config);
                return 0;
        }
        json_t *keys = json_object_get(config, "require-signature");
        if (json_array_size(keys) == 0)
                printf("require-signature: no (imports may be unsigned)\n");
        else {
                printf("require-signature: yes, by one of\n");
                size_t i;
                json_t *k;
                json_array_foreach(keys, i, k)
                        printf("  ed25519:%s  %s\n", json_string_value(json_object_get(k, "ed25519")),
                               json_string_value(json_object_get(k, "name")) ?: "");
        }
        json_decref(config);
        return 0;
}

static int require_signature(Store *s, char **args, int n) {
        bool none = n == 1 && strcmp(args[0], "--none") == 0;
        if (n == 0)
                return cli_fail(0, "require-signature needs PUBKEY... (or --none to stop requiring signatures)");
        size_t count = none ? 0 : (size_t) n;
        _cleanup_free_ SignatureKey **keys = calloc(count ? count : 1, sizeof *keys);
        if (!keys)
                return cli_fail(-ENOMEM, "config");
        int status = 0;
        for (size_t i = 0; i < count && status == 0; i++) {
                _cleanup_free_ char *err = NULL;
                int r = signature_key_load_public(args[i], &keys[i], &err);
                if (r < 0)
                        status = cli_fail_detail(r, err, "require-signature %s", args[i]);
        }
        json_t *config = NULL;
        if (status == 0) {
                int r = store_config_read(store_path(s), &config);
                if (r >= 0)
                        r = store_config_set_required_keys(config, keys, (const char *const *) args, count);
                if (r >= 0)
                        r = store_config_write(store_path(s), config);
                if (r < 0)
                        status = cli_fail(r, "cannot update %s/config.json", store_path(s));
        }
        json_decref(config);
        for (size_t i = 0; i < count; i++)
                signature_key_free(keys[i]);
        if (status == 0 && !cli.quiet && !cli.json) {
                if (count)
                        printf("imports into %s must now be signed by %s%s\n", store_path(s),
                               count == 1 ? "" : "one of ", count == 1 ? args[0] : "these keys");
                else
                        printf("imports into %s no longer need a signature\n", store_path(s));
        }
        return status;
}

static int run(int argc, char **argv) {
        /* No getopt: "--none" is an argument of require-signature. */
        _cleanup_(store_freep) Store *s = NULL;
        if (argc == 1) {
                if (cli_open_store(false, &s) < 0)
                        return 1;
                return show(s);
        }
        if (strcmp(argv[1], "require-signature") != 0)
                return cli_fail(0, "unknown setting '%s' (known: require-signature)", argv[1]);
        /* The writer lock keeps two changes from racing. */
        if (cli_open_store(true, &s) < 0)
                return 1;
        return require_signature(s, argv + 2, argc - 2);
}

const Verb verb_config = {
        .name = "config",
        .summary = "show or change the store's policy (required signatures)",
        .usage = "config [require-signature PUBKEY...|--none]\n\n"
                 "Without arguments, shows the policy. require-signature PUBKEY... makes `isle import`\n"
                 "refuse exports that are not signed by one of these Ed25519 public keys (isle keygen);\n"
                 "--none makes signatures optional again.",
        .run = run,
};
