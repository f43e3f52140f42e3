/* Configs as schemas: a table of dotted JSON paths, types and offsets into a
 * struct. One loader for every program's config: JSON file, then
 * environment overrides PREFIX__section__key=value; unknown keys are errors. */
#ifndef ILU_CFG_SCHEMA_H
#define ILU_CFG_SCHEMA_H

#include <stddef.h>

#include "error.h"

enum ilu_cfg_type { ILU_CFG_STR, ILU_CFG_U32, ILU_CFG_BOOL, ILU_CFG_F64 };

struct ilu_cfg_field {
    const char *path;   /* dotted JSON path */
    enum ilu_cfg_type type;
    size_t offset;
    size_t size;        /* for strings: the buffer size */
};

struct ilu_cfg_schema {
    const struct ilu_cfg_field *fields;
    size_t n;
};

#define ILU_CFG_STR_FIELD(type, p, m) {p, ILU_CFG_STR, offsetof(type, m), sizeof(((type *)0)->m)}
#define ILU_CFG_U32_FIELD(type, p, m) {p, ILU_CFG_U32, offsetof(type, m), 0}
#define ILU_CFG_BOOL_FIELD(type, p, m) {p, ILU_CFG_BOOL, offsetof(type, m), 0}
#define ILU_CFG_F64_FIELD(type, p, m) {p, ILU_CFG_F64, offsetof(type, m), 0} /* a double: any JSON number */

int ilu_cfg_apply_json(const struct ilu_cfg_schema *s, void *base, const char *json, const char *source,
                       struct ilu_error *err);
int ilu_cfg_apply_env(const struct ilu_cfg_schema *s, void *base, const char *prefix, char *const *envp,
                      struct ilu_error *err);
/* Pretty JSON of every field, in table order; caller frees. */
char *ilu_cfg_dump(const struct ilu_cfg_schema *s, const void *base);

#endif
