/* SPDX-License-Identifier: Apache-2.0 */
/* STORE/config.json on any bytes: store_config_read(), then the required
 * keys it names (store_config_required_keys()), as `isle import` and
 * `isle config` read them. */
#include "fuzz-util.h"
#include "fileio.h"
#include "store-config.h"

static const char *dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!dir)
                dir = fuzz_temp_dir("store-config");
        _cleanup_free_ char *path = path_join(dir, "config.json");
        FUZZ_CHECK(path);
        FILE *f = fopen(path, "we");
        FUZZ_CHECK(f);
        FUZZ_CHECK(fwrite(data, 1, size, f) == size || size == 0);
        FUZZ_CHECK(fclose(f) == 0);

        json_t *config = NULL;
        if (store_config_read(dir, &config) < 0)
                return 0;
        FUZZ_CHECK(json_is_object(config));
        SignatureKey **keys = NULL;
        size_t n = 0;
        if (store_config_required_keys(config, &keys, &n) >= 0) {
                FUZZ_CHECK((n == 0) == (keys == NULL));
                for (size_t i = 0; i < n; i++) {
                        uint8_t raw[SIGNATURE_PUBLIC_KEY_SIZE];
                        FUZZ_SETUP(signature_key_raw_public(keys[i], raw));
                }
                signature_keys_free(keys, n);
        }
        json_decref(config);
        return 0;
}
