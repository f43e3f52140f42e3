/* Structured JSON log lines; every line carries the transaction id (tid). */
#ifndef ILU_LOG_H
#define ILU_LOG_H

#include <jansson.h>

#include "env.h"

enum ilu_log_level { ILU_LOG_DEBUG = 0, ILU_LOG_INFO, ILU_LOG_WARN, ILU_LOG_ERROR };

struct ilu_log {
    const struct ilu_env *env;
    int min_level;
};

/* ILU_LOG_* for "debug", "info", "warn", "error"; -1 when unknown. */
int ilu_log_level_parse(const char *name); /* -1 when unknown */
static inline int ilu_log_level_valid(const char *name)
{
    return ilu_log_level_parse(name) >= 0;
}

/* Emit {"timestamp":..,"level":..,"tid":..,"message":..,<fields>} through
 * env->log_write. fields is NULL or a JSON object whose members are added to
 * the line; the reference is stolen (json_pack(...) can be passed directly).
 * jansson does all escaping, so names from requests are safe here. */
void ilu_log_emit(const struct ilu_log *log, int level, const char *tid, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether a line at level would be written (skip building costly fields). */
static inline int ilu_log_enabled(const struct ilu_log *log, int level)
{
    return log && log->env && log->env->log_write && level >= log->min_level;
}

/* ilu_log_emit that builds its fields only when the line will be written:
 * the hot path (and the simulator, millions of times) pays nothing for
 * disabled levels. */
#define ilu_log_fields(log, level, tid, fields, ...)                    \
    do {                                                                \
        if (ilu_log_enabled((log), (level)))                            \
            ilu_log_emit((log), (level), (tid), (fields), __VA_ARGS__); \
    } while (0)

#define ilu_info(log, tid, ...)      ilu_log_emit((log), ILU_LOG_INFO, (tid), NULL, __VA_ARGS__)
#define ilu_warn(log, tid, ...)      ilu_log_emit((log), ILU_LOG_WARN, (tid), NULL, __VA_ARGS__)
#define ilu_error_log(log, tid, ...) ilu_log_emit((log), ILU_LOG_ERROR, (tid), NULL, __VA_ARGS__)
#define ilu_debug(log, tid, ...)     ilu_log_emit((log), ILU_LOG_DEBUG, (tid), NULL, __VA_ARGS__)

#endif
