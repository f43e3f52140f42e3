/* Which build this is (version.h). The values come from a header the
 * Makefile generates and rewrites only when one of them changes, so a new
 * commit recompiles this file alone and relinks the programs. */
#include "os/version.h"

#include "ilu_build_info.h"

const char *ilu_version(void)
{
    return ILU_BUILD_VERSION;
}

const char *ilu_commit(void)
{
    return ILU_BUILD_COMMIT;
}

const char *ilu_build_date(void)
{
    return ILU_BUILD_DATE;
}

void ilu_version_print(FILE *out, const char *prog)
{
    fprintf(out, "%s %s (commit %s, built %s)\n", prog, ilu_version(), ilu_commit(), ilu_build_date());
}
