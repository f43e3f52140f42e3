/* Which build this is: the project's version (the file VERSION at the
 * top of the checkout) and the git commit it was built from, both fixed at
 * build time (the Makefile generates them into BUILD/gen/ilu_build_info.h).
 * For --version and a run's manifest. */
#ifndef ILU_OS_VERSION_H
#define ILU_OS_VERSION_H

#include <stdio.h>

/* The project's version, e.g. "0.9.0"; static storage. */
const char *ilu_version(void);

/* The commit, abbreviated to 7 or more hex digits, with "-dirty" when the
 * tree had uncommitted changes at build time, e.g. "7c32604-dirty";
 * "unknown" when built outside a git checkout. Static storage. */
const char *ilu_commit(void);

/* The day of the build, "YYYY-MM-DD" (UTC; SOURCE_DATE_EPOCH's day when
 * it was set); static storage. */
const char *ilu_build_date(void);

/* Print the --version line "PROG VERSION (commit C, built DATE)" to out. */
void ilu_version_print(FILE *out, const char *prog);

#endif
