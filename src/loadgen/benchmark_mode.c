/* `benchmark`: placeholder until written (see docs/load_gen.md). */
#include <stdio.h>

#include "loadgen.h"

int lg_run_benchmark(struct lg_ctx *ctx, const struct lg_benchmark_opts *o)
{
    fprintf(stderr, "iluvatar_load_gen: benchmark is not implemented yet\n");
    return 1;
}
