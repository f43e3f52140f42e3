#include "cfg_schema.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The field at path in the first part that has it, and that part's struct. */
static const struct ilu_cfg_field *field_find(const struct ilu_cfg_part *parts, size_t n, const char *path, void **base)
{
    for (size_t p = 0; p < n; p++)
        for (size_t i = 0; i < parts[p].schema->n; i++)
            if (strcmp(parts[p].schema->fields[i].path, path) == 0) {
                *base = parts[p].base;
                return &parts[p].schema->fields[i];
            }
    return NULL;
}

static int field_set(void *cfg, const struct ilu_cfg_field *f, json_t *value, const char *source, struct ilu_error *err)
{
    char *base = (char *)cfg + f->offset;
    switch (f->type) {
    case ILU_CFG_STR:
        if (!json_is_string(value))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be a string", source, f->path);
        if (json_string_length(value) >= f->size)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s is longer than %zu characters", source,
                           f->path, f->size - 1);
        memcpy(base, json_string_value(value), json_string_length(value) + 1);
        return 0;
    case ILU_CFG_U32:
        if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > UINT32_MAX)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be a non-negative integer", source,
                           f->path);
        *(uint32_t *)base = (uint32_t)json_integer_value(value);
        return 0;
    case ILU_CFG_BOOL:
        if (!json_is_boolean(value))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be true or false", source, f->path);
        *(bool *)base = json_is_true(value);
        return 0;
    case ILU_CFG_F64:
        if (!json_is_number(value))
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: %s must be a number", source, f->path);
        *(double *)base = json_number_value(value);
        return 0;
    }
    return ilu_err(err, ILU_ST_INTERNAL, NULL, "unknown field type");
}

static int apply_object(const struct ilu_cfg_part *parts, size_t np, json_t *obj, const char *prefix,
                        const char *source, struct ilu_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        void *cfg = NULL;
        const struct ilu_cfg_field *f = field_find(parts, np, path, &cfg);
        if (f) {
            if (field_set(cfg, f, value, source, err))
                return -1;
        } else if (json_is_object(value)) {
            if (apply_object(parts, np, value, path, source, err))
                return -1;
        } else {
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: unknown key %s", source, path);
        }
    }
    return 0;
}

int ilu_cfg_apply_json(const struct ilu_cfg_schema *sc, void *cfg, const char *json, const char *source,
                       struct ilu_error *err)
{
    struct ilu_cfg_part part = {.schema = sc, .base = cfg};
    return ilu_cfg_apply_json_parts(&part, 1, json, source, err);
}

int ilu_cfg_apply_json_parts(const struct ilu_cfg_part *parts, size_t n, const char *json, const char *source,
                             struct ilu_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    if (!root)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s:%d:%d: %s", source, jerr.line, jerr.column,
                       jerr.text);
    int rc = json_is_object(root) ? apply_object(parts, n, root, "", source, err)
                                  : ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: not a JSON object", source);
    json_decref(root);
    return rc;
}

int ilu_cfg_apply_env(const struct ilu_cfg_schema *sc, void *cfg, const char *prefix, char *const *envp,
                      struct ilu_error *err)
{
    struct ilu_cfg_part part = {.schema = sc, .base = cfg};
    return ilu_cfg_apply_env_parts(&part, 1, prefix, envp, err);
}

int ilu_cfg_apply_env_parts(const struct ilu_cfg_part *parts, size_t np, const char *prefix, char *const *envp,
                            struct ilu_error *err)
{
    size_t plen = strlen(prefix);
    for (; envp && *envp; envp++) {
        const char *entry = *envp;
        if (strncmp(entry, prefix, plen) != 0 || strncmp(entry + plen, "__", 2) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq)
            continue;
        char path[256];
        size_t n = 0;
        for (const char *p = entry + plen + 2; p < eq && n + 1 < sizeof path; p++) {
            if (p[0] == '_' && p[1] == '_') {
                path[n++] = '.';
                p++;
            } else {
                path[n++] = *p;
            }
        }
        path[n] = 0;
        void *cfg = NULL;
        const struct ilu_cfg_field *f = field_find(parts, np, path, &cfg);
        if (!f)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "environment: unknown key %s (from %.*s)", path,
                           (int)(eq - entry), entry);
        const char *text = eq + 1;
        json_t *value = NULL;
        if (f->type == ILU_CFG_STR) {
            value = json_string(text);
        } else {
            json_error_t jerr;
            value = json_loads(text, JSON_DECODE_ANY, &jerr);
        }
        char source[300];
        snprintf(source, sizeof source, "environment %.*s", (int)(eq - entry), entry);
        int rc = value ? field_set(cfg, f, value, source, err)
                       : ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s: cannot parse \"%s\"", source, text);
        json_decref(value);
        if (rc)
            return -1;
    }
    return 0;
}

const struct ilu_cfg_env_owner ilu_cfg_env_owners[] = {
    {"ILUVATAR_WORKER", "iluvatar_worker"},
    {"ILUVATAR_CONTROLLER", "iluvatar_controller"},
};
const size_t ilu_cfg_env_n_owners = sizeof ilu_cfg_env_owners / sizeof ilu_cfg_env_owners[0];

int ilu_cfg_env_stray(const char *entry, const char *family, const struct ilu_cfg_env_owner *owners, size_t n,
                      char *why, size_t why_len)
{
    size_t name_len = strcspn(entry, "="), flen = strlen(family);
    if (name_len < flen || strncmp(entry, family, flen) != 0)
        return 0;
    const char *sep = strstr(entry, "__"); /* the first "__" of the name ends its prefix */
    if (!sep || (size_t)(sep - entry) >= name_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(owners[i].prefix);
        if (!strncmp(entry, owners[i].prefix, plen) && !strncmp(entry + plen, "__", 2))
            return 0; /* one of ours: apply_env reads it (and refuses an unknown key) */
    }
    if (why && why_len) {
        int len = snprintf(why, why_len, "ignoring environment variable %.*s: %.*s__ is not a config prefix (",
                           (int)name_len, entry, (int)(sep - entry), entry);
        for (size_t i = 0; i < n && len >= 0 && (size_t)len < why_len; i++)
            len += snprintf(why + len, why_len - (size_t)len, "%s%s__ is %s's", i ? ", " : "", owners[i].prefix,
                            owners[i].prog);
        if (len >= 0 && (size_t)len < why_len)
            snprintf(why + len, why_len - (size_t)len, "); misspelled?");
    }
    return 1;
}

char *ilu_cfg_dump(const struct ilu_cfg_schema *sc, const void *cfg)
{
    struct ilu_cfg_part part = {.schema = sc, .base = (void *)cfg};
    return ilu_cfg_dump_parts(&part, 1);
}

/* Set value at f's dotted path under root, creating the nested objects. */
static void dump_field(json_t *root, const struct ilu_cfg_field *f, const void *cfg)
{
    const char *base = (const char *)cfg + f->offset;
    json_t *value = f->type == ILU_CFG_STR   ? json_string(base)
                    : f->type == ILU_CFG_U32 ? json_integer(*(const uint32_t *)base)
                    : f->type == ILU_CFG_F64 ? json_real(*(const double *)base)
                                             : json_boolean(*(const bool *)base);
    /* walk/create the nested objects of the dotted path */
    json_t *parent = root;
    char path[256];
    snprintf(path, sizeof path, "%s", f->path);
    char *save = NULL, *part = strtok_r(path, ".", &save), *next;
    while ((next = strtok_r(NULL, ".", &save))) {
        json_t *child = json_object_get(parent, part);
        if (!child) {
            child = json_object();
            json_object_set_new(parent, part, child);
        }
        parent = child;
        part = next;
    }
    json_object_set_new(parent, part, value);
}

char *ilu_cfg_dump_parts(const struct ilu_cfg_part *parts, size_t n)
{
    json_t *root = json_object();
    for (size_t p = 0; p < n; p++)
        for (size_t i = 0; i < parts[p].schema->n; i++)
            dump_field(root, &parts[p].schema->fields[i], parts[p].base);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
