#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *level_names[] = {"debug", "info", "warn", "error"};

int ilu_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return ILU_LOG_WARN;
    return -1;
}

void ilu_log_emit(const struct ilu_log *log, int level, const char *tid, const char *fields_json,
                  const char *fmt, ...)
{
    if (!log || !log->env || !log->env->log_write || level < log->min_level)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    uint64_t wall = log->env->wall_us ? log->env->wall_us(log->env->ctx) : 0;
    time_t secs = (time_t)(wall / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[64];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%06uZ", (unsigned)(wall % 1000000));

    /* jansson escapes the message and tid for us; fields are already JSON. */
    json_t *msg = json_string(message);
    json_t *tidj = json_string(tid ? tid : "");
    char *msg_s = json_dumps(msg ? msg : json_null(), JSON_ENCODE_ANY);
    char *tid_s = json_dumps(tidj ? tidj : json_null(), JSON_ENCODE_ANY);
    char line[4096];
    snprintf(line, sizeof line, "{\"timestamp\":\"%s\",\"level\":\"%s\",\"tid\":%s,\"message\":%s%s%s}", stamp,
             level_names[level < 0 ? 0 : level > 3 ? 3 : level], tid_s ? tid_s : "\"\"",
             msg_s ? msg_s : "\"\"", fields_json && *fields_json ? "," : "",
             fields_json ? fields_json : "");
    free(msg_s);
    free(tid_s);
    json_decref(msg);
    json_decref(tidj);
    log->env->log_write(log->env->ctx, level, line);
}
