/* SPDX-License-Identifier: Apache-2.0 */
/* isle keygen -o KEY: an Ed25519 key pair for signing exports
 * (import/signature.h). Needs no store. */
#include <stdio.h>

#include "cli.h"
#include "signature.h"

static int run(int argc, char **argv) {
        const char *out;
        int r = cli_parse_output_only(&verb_keygen, argc, argv, &out);
        if (r != 0)
                return r;
        _cleanup_free_ char *pub = NULL;
        if (asprintf(&pub, "%s.pub", out) < 0)
                return cli_fail(-ENOMEM, "keygen");
        _cleanup_free_ char *err = NULL;
        r = signature_key_generate(out, pub, &err);
        if (r < 0)
                return cli_fail_detail(r, err, "keygen");
        if (cli.json)
                cli_print_json(json_pack("{s:s,s:s}", "private", out, "public", pub));
        else if (!cli.quiet)
                printf("wrote the private key to %s (keep it; sign with `isle export --sign %s`)\n"
                       "and the public key to %s (give it to importers: `isle import --verify %s`)\n",
                       out, out, pub, pub);
        return 0;
}

const Verb verb_keygen = {
        .name = "keygen",
        .summary = "make an Ed25519 key pair for signing exports",
        .usage = "keygen -o KEY\n\n"
                 "Writes the private key to KEY (PEM, mode 0600) and the public key to KEY.pub.\n"
                 "Neither file is ever overwritten.",
        .run = run,
};
