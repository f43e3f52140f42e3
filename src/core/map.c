#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone;
#define TOMB (&tombstone)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int ilu_map_init(struct ilu_map *m)
{
    m->cap = 16;
    m->len = m->used = 0;
    m->slots = calloc(m->cap, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

void ilu_map_destroy(struct ilu_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = m->used = 0;
}

static struct ilu_map_slot *find(const struct ilu_map *m, const char *key, uint64_t h)
{
    size_t i = h & (m->cap - 1);
    for (;;) {
        struct ilu_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->key != TOMB && strcmp(s->key, key) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

void *ilu_map_get(const struct ilu_map *m, const char *key)
{
    struct ilu_map_slot *s = find(m, key, hash(key));
    return s ? s->value : NULL;
}

static int grow(struct ilu_map *m)
{
    struct ilu_map old = *m;
    size_t cap = m->len * 4 > m->cap ? m->cap * 2 : m->cap; /* rehash in place when mostly tombstones */
    struct ilu_map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    m->slots = slots;
    m->cap = cap;
    m->len = m->used = 0;
    for (size_t i = 0; i < old.cap; i++) {
        struct ilu_map_slot *s = &old.slots[i];
        if (s->key && s->key != TOMB) {
            size_t j = s->hash & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = *s;
            m->len++;
            m->used++;
        }
    }
    free(old.slots);
    return 0;
}

int ilu_map_put(struct ilu_map *m, const char *key, void *value)
{
    uint64_t h = hash(key);
    struct ilu_map_slot *s = find(m, key, h);
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && grow(m))
        return -1;
    char *copy = strdup(key);
    if (!copy)
        return -1;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = copy;
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->len++;
    return 0;
}

void *ilu_map_del(struct ilu_map *m, const char *key)
{
    struct ilu_map_slot *s = find(m, key, hash(key));
    if (!s)
        return NULL;
    void *value = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->len--;
    return value;
}

int ilu_map_next(const struct ilu_map *m, size_t *it, const char **key, void **value)
{
    for (; *it < m->cap; (*it)++) {
        struct ilu_map_slot *s = &m->slots[*it];
        if (s->key && s->key != TOMB) {
            *key = s->key;
            *value = s->value;
            (*it)++;
            return 1;
        }
    }
    return 0;
}
