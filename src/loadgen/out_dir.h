/* The results folder, made ready before a run starts so that a run never
 * mixes its files with those of another run (docs/load_gen.md, "Results"). */
#ifndef LG_OUT_DIR_H
#define LG_OUT_DIR_H

#include <stdbool.h>

#include "core/error.h"

/* Make dir ready for a run's results; call it before the run sends or
 * simulates anything. A missing or empty folder is left as it is (the run
 * creates it when it writes). With force, dir's contents are removed
 * (recursively, never following a link nor crossing into another
 * filesystem), except when dir is "/", home (NULL: none) or one of its
 * parents, or the current folder or one of its parents. Else the default
 * folder (is_default, results/MODE) loses the files a run writes there
 * (lg_out_dir_is_run_file) and is refused if anything else is left in it;
 * an explicit --out that is not empty is refused. A path that is not a
 * folder is refused. 0, or -1 with err: status 400 for a refusal (the
 * sentence tells the user what to do), 500 when something could not be read
 * or removed. */
int lg_out_dir_prepare(const char *dir, bool is_default, bool force, const char *home, struct ilu_error *err);

/* Whether a file called name, directly in a results folder, is one a run
 * writes there: invocations.csv, summary.json, workers.csv, status.csv,
 * worker_function_benchmarks.json, run.json, the plots (*.png) and the
 * temporary files of an interrupted run (.NAME.tmp). */
bool lg_out_dir_is_run_file(const char *name);

#endif
