/* Configs as schemas: a table of dotted JSON paths, types and offsets into a
 * struct. One loader for every program's config: JSON file, then
 * environment overrides PREFIX__section__key=value; unknown keys are errors. */
#ifndef ILU_CFG_SCHEMA_H
#define ILU_CFG_SCHEMA_H

#include <stddef.h>

#include "error.h"

enum ilu_cfg_type { ILU_CFG_STR, ILU_CFG_U32, ILU_CFG_BOOL, ILU_CFG_F64 };

struct ilu_cfg_field {
    const char *path; /* dotted JSON path */
    enum ilu_cfg_type type;
    size_t offset;
    size_t size; /* for strings: the buffer size */
};

struct ilu_cfg_schema {
    const struct ilu_cfg_field *fields;
    size_t n;
};

#define ILU_CFG_STR_FIELD(type, p, m)                             \
    {                                                             \
        p, ILU_CFG_STR, offsetof(type, m), sizeof(((type *)0)->m) \
    }
#define ILU_CFG_U32_FIELD(type, p, m)        \
    {                                        \
        p, ILU_CFG_U32, offsetof(type, m), 0 \
    }
#define ILU_CFG_BOOL_FIELD(type, p, m)        \
    {                                         \
        p, ILU_CFG_BOOL, offsetof(type, m), 0 \
    }
#define ILU_CFG_F64_FIELD(type, p, m)        \
    {                                        \
        p, ILU_CFG_F64, offsetof(type, m), 0 \
    } /* a double: any JSON number */

/* Short rows for a file's table over one struct: the file defines
 * ILU_CFG_STRUCT (e.g. `#define ILU_CFG_STRUCT struct ilu_worker_config`)
 * and writes ILU_CFG_U32("port", port). */
#define ILU_CFG_STR(p, m)  ILU_CFG_STR_FIELD(ILU_CFG_STRUCT, p, m)
#define ILU_CFG_U32(p, m)  ILU_CFG_U32_FIELD(ILU_CFG_STRUCT, p, m)
#define ILU_CFG_BOOL(p, m) ILU_CFG_BOOL_FIELD(ILU_CFG_STRUCT, p, m)
#define ILU_CFG_F64(p, m)  ILU_CFG_F64_FIELD(ILU_CFG_STRUCT, p, m)

/* In a check that has a struct ilu_error *err: unless cond holds, return
 * -1 with a 400 bad_config and the message. */
#define ILU_CFG_REQUIRE(cond, ...)                                              \
    do {                                                                        \
        if (!(cond))                                                            \
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", __VA_ARGS__); \
    } while (0)

/* One schema over the struct it fills. A program's config can be several:
 * its own and the sections other modules own (each isolation backend's),
 * loaded, overridden and dumped as one document. */
struct ilu_cfg_part {
    const struct ilu_cfg_schema *schema;
    void *base;
    /* Range and name checks of this part; NULL: none. */
    int (*validate)(const void *base, struct ilu_error *err);
};

/* Overlay a JSON document (source names it in errors) onto base through the
 * schema; unknown keys and wrong types are 400s naming the key. */
int ilu_cfg_apply_json(const struct ilu_cfg_schema *s, void *base, const char *json, const char *source,
                       struct ilu_error *err);
/* The same over n parts: a key is the first part's that has it; a key no
 * part has is an error. */
int ilu_cfg_apply_json_parts(const struct ilu_cfg_part *parts, size_t n, const char *json, const char *source,
                             struct ilu_error *err);
int ilu_cfg_apply_env(const struct ilu_cfg_schema *s, void *base, const char *prefix, char *const *envp,
                      struct ilu_error *err);
int ilu_cfg_apply_env_parts(const struct ilu_cfg_part *parts, size_t n, const char *prefix, char *const *envp,
                            struct ilu_error *err);

/* A program that takes config overrides from the environment as
 * PREFIX__section__key=value: its prefix and its name, for messages. */
struct ilu_cfg_env_owner {
    const char *prefix; /* "ILUVATAR_WORKER" */
    const char *prog;   /* "iluvatar_worker" */
};

/* What every program's prefix begins with, and the programs: the worker and
 * the controller (the simulator reads both). */
#define ILU_CFG_ENV_FAMILY "ILUVATAR_"
extern const struct ilu_cfg_env_owner ilu_cfg_env_owners[];
extern const size_t ilu_cfg_env_n_owners;

/* Whether the environment entry NAME=value looks like a config override that
 * no program reads: NAME begins with family and holds "__", but begins with
 * none of the n owners' PREFIX__ (a misspelling such as ILUVATAR_WORKR__port,
 * which would otherwise be ignored without a word). Then why gets a sentence
 * naming the variable (never its value) and the owners' prefixes. 1 or 0. */
int ilu_cfg_env_stray(const char *entry, const char *family, const struct ilu_cfg_env_owner *owners, size_t n,
                      char *why, size_t why_len);
/* Pretty JSON of every field, in table order; caller frees. */
char *ilu_cfg_dump(const struct ilu_cfg_schema *s, const void *base);
/* The same over n parts, part after part. */
char *ilu_cfg_dump_parts(const struct ilu_cfg_part *parts, size_t n);

#endif
