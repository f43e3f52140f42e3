/* `scaling`: placeholder until written (see docs/load_gen.md). */
#include <stdio.h>

#include "loadgen.h"

int lg_run_scaling(struct lg_ctx *ctx, const struct lg_scaling_opts *o)
{
    fprintf(stderr, "iluvatar_load_gen: scaling is not implemented yet\n");
    return 1;
}
