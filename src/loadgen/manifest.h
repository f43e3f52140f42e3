/* DIR/run.json: how a results folder was made (docs/load_gen.md, "run.json").
 * The program's version and commit, the command line and folder it ran in,
 * the host (CPUs, memory, kernel, OS), every input file named in the run's
 * inputs with its size and SHA-256, and the target's effective config: a
 * live worker's or controller's GET /config (and a controller's workers),
 * or what the simulation ran with (ctx->manifest_extra). Written with the
 * results, after a run that succeeded. */
#ifndef LG_MANIFEST_H
#define LG_MANIFEST_H

#include <jansson.h>

#include "loadgen.h"

/* Writes DIR/run.json for a run of mode with these inputs (summary.json's).
 * 0, or -1 with err (an input file that cannot be read is recorded with its
 * error, not a failure). */
int lg_write_manifest(struct lg_ctx *ctx, const char *mode, json_t *inputs, struct ilu_error *err);

#endif
