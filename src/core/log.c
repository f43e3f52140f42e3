#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

void ilu_log_emit(const struct ilu_log *log, int level, const char *tid, json_t *fields, const char *fmt, ...)
{
    if (!ilu_log_enabled(log, level)) {
        json_decref(fields);
        return;
    }
    char message[2048];
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

    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "timestamp", stamp, "level",
                             level_names[level < 0   ? 0
                                         : level > 3 ? 3
                                                     : level],
                             "tid", tid ? tid : "", "message", message);
    if (!line) { /* message was not valid UTF-8: keep the line, lose the text */
        line = json_pack("{s:s, s:s, s:s, s:s}", "timestamp", stamp, "level", level_names[level & 3], "tid", "",
                         "message", "(message not valid UTF-8)");
    }
    if (line && json_is_object(fields))
        json_object_update_missing(line, fields);
    json_decref(fields);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(line);
    if (text)
        log->env->log_write(log->env->ctx, level, text);
    free(text);
}
