#include "http_limits.h"

void ilu_http_limits_defaults(struct ilu_http_limits *l)
{
    l->max_header_bytes = 16384;
    l->max_headers = 64;
    l->idle_timeout_ms = 60000;
    l->request_timeout_ms = 30000;
    l->max_connections = 4096;
}

int ilu_http_limits_validate(const struct ilu_http_limits *l, const char *prefix, struct ilu_error *err)
{
    if (l->max_header_bytes < 1024)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s.max_header_bytes must be at least 1024", prefix);
    if (l->max_headers < 8)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s.max_headers must be at least 8", prefix);
    if (l->idle_timeout_ms < 100)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s.idle_timeout_ms must be at least 100", prefix);
    if (l->request_timeout_ms < 100)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s.request_timeout_ms must be at least 100", prefix);
    if (l->max_connections < 1)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_config", "%s.max_connections must be positive", prefix);
    return 0;
}
