/* placeholder */
#include "store.h"
int store_rebuild_index(Store *s, uint64_t *ret_objects, uint64_t *ret_damaged) { return -EOPNOTSUPP; }
