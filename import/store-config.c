/* SPDX-License-Identifier: Apache-2.0 */
#include "store-config.h"

#include <stdio.h>

#include "fileio.h"

#define CONFIG_FILE "config.json"
#define CONFIG_MAX (1u << 20)
#define KEY_REQUIRED "require-signature"

int store_config_read(const char *store_path, json_t **ret) {
        _cleanup_free_ char *path = path_join(store_path, CONFIG_FILE);
        if (!path)
                return -ENOMEM;
        _cleanup_free_ char *text = NULL;
        size_t n;
        int r = read_file(path, CONFIG_MAX, &text, &n);
        if (r == -ENOENT) {
                *ret = json_object();
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        json_t *j = json_loadb(text, n, 0, NULL);
        if (!json_is_object(j)) {
                json_decref(j);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

int store_config_write(const char *store_path, const json_t *config) {
        _cleanup_free_ char *path = path_join(store_path, CONFIG_FILE);
        if (!path)
                return -ENOMEM;
        _cleanup_free_ char *text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        _cleanup_free_ char *line = NULL;
        int n = asprintf(&line, "%s\n", text);
        if (n < 0)
                return -ENOMEM;
        return write_file_atomic(path, line, (size_t) n, 0644);
}

int store_config_set_required_keys(json_t *config, SignatureKey *const *keys, const char *const *names, size_t n) {
        if (n == 0) {
                (void) json_object_del(config, KEY_REQUIRED); /* -1 only when it was not there */
                return 0;
        }
        json_t *arr = json_array();
        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint8_t raw[SIGNATURE_PUBLIC_KEY_SIZE];
                char hex[2 * SIGNATURE_PUBLIC_KEY_SIZE + 1];
                int r = signature_key_raw_public(keys[i], raw);
                if (r < 0) {
                        json_decref(arr);
                        return r;
                }
                hex_encode(raw, sizeof raw, hex);
                if (json_array_append_new(arr, json_pack("{s:s,s:s}", "ed25519", hex, "name", names[i])) < 0) {
                        json_decref(arr);
                        return -ENOMEM;
                }
        }
        return json_object_set_new(config, KEY_REQUIRED, arr) == 0 ? 0 : -ENOMEM;
}

void signature_keys_free(SignatureKey **keys, size_t n) {
        for (size_t i = 0; i < n; i++)
                signature_key_free(keys[i]);
        free(keys);
}

int store_config_required_keys(const json_t *config, SignatureKey ***ret, size_t *ret_n) {
        const json_t *arr = json_object_get(config, KEY_REQUIRED);
        size_t n = json_array_size(arr);
        if (arr && !json_is_array(arr))
                return -EBADMSG;
        if (n == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        SignatureKey **keys = calloc(n, sizeof *keys);
        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *hex = json_string_value(json_object_get(json_array_get(arr, i), "ed25519"));
                uint8_t raw[SIGNATURE_PUBLIC_KEY_SIZE];
                int r = !hex || strlen(hex) != 2 * sizeof raw || hex_decode(hex, strlen(hex), raw) < 0 ? -EBADMSG : 0;
                if (r >= 0)
                        r = signature_key_from_raw(raw, &keys[i]);
                if (r < 0) {
                        signature_keys_free(keys, n);
                        return r == -EINVAL ? -EBADMSG : r;
                }
        }
        *ret = keys;
        *ret_n = n;
        return 0;
}
