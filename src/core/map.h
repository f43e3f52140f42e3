/* String-keyed hash map (open addressing, linear probing, tombstones).
 * Keys are copied; values are borrowed pointers. */
#ifndef ILU_MAP_H
#define ILU_MAP_H

#include <stddef.h>
#include <stdint.h>

struct ilu_map_slot {
    char *key; /* NULL: empty; ILU_MAP_TOMBSTONE: deleted */
    void *value;
    uint64_t hash; /* of key: probes compare it before the strings */
};

struct ilu_map {
    struct ilu_map_slot *slots;
    size_t cap, len, used; /* used counts tombstones too */
};

/* A string-keyed hash map; keys are copied, values borrowed. init and put
 * return -1 when out of memory; get and del return NULL when absent. */
int ilu_map_init(struct ilu_map *m);
void ilu_map_destroy(struct ilu_map *m); /* frees keys, not values */
void *ilu_map_get(const struct ilu_map *m, const char *key);
int ilu_map_put(struct ilu_map *m, const char *key, void *value); /* replaces */
void *ilu_map_del(struct ilu_map *m, const char *key);            /* returns old value */

/* Iterate: for (size_t it = 0; ilu_map_next(m, &it, &k, &v);) */
int ilu_map_next(const struct ilu_map *m, size_t *it, const char **key, void **value);

#endif
