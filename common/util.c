/* SPDX-License-Identifier: Apache-2.0 */
#include "macro.h"

int grow_array(void **array, size_t *allocated, size_t need, size_t elem) {
        if (need <= *allocated)
                return 0;
        size_t n = MAX(need, *allocated * 2);
        n = MAX(n, (size_t) 16);
        if (n > SIZE_MAX / elem)
                return -ENOMEM;
        void *p = realloc(*array, n * elem);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = n;
        return 0;
}
