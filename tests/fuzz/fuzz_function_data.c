/* Fuzz target: the load generator's benchmark JSON reader (--function-data,
 * worker_function_benchmarks.json; lg_benchmark_match in
 * src/loadgen/trace_plan.c). A match must give finite, non-negative times:
 * the simulator converts them to integer microseconds. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/trace_plan.h"

static int sane_ms(double ms)
{
    return isfinite(ms) && ms >= 0 && ms <= 86400e3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *file = json_loadb((const char *)data, size, 0, &jerr);
    if (!json_is_object(file)) {
        json_decref(file);
        return 0;
    }
    json_t *doc = lg_benchmark_functions(file); /* our form, or Ilúvatar's {"data": {...}} */
    if (!json_is_object(doc))
        abort();
    static const double warm_ms[] = {0, 1, 1.5, 1000, 1e9, -1, NAN};
    for (size_t i = 0; i < sizeof warm_ms / sizeof warm_ms[0]; i++) {
        struct lg_fn_plan pl;
        memset(&pl, 0, sizeof pl);
        const char *chosen = NULL;
        if (lg_benchmark_match(doc, warm_ms[i], &pl, &chosen))
            continue;
        if (!chosen || !json_object_get(doc, chosen))
            abort();
        if (!sane_ms(pl.warm_exec_ms) || !sane_ms(pl.cold_exec_ms) || !sane_ms(pl.start_ms))
            abort();
        if (!memchr(pl.image, 0, sizeof pl.image))
            abort();
    }
    json_decref(file);
    return 0;
}
