/* struct ilu_ctl_store in SQLite: the controller's functions and workers
 * survive a restart. Tables functions(fqdn PRIMARY KEY, registration TEXT)
 * and workers(name PRIMARY KEY, info TEXT), both JSON; a save is an upsert. */
#ifndef ILU_CTL_STORE_SQLITE_H
#define ILU_CTL_STORE_SQLITE_H

#include "controller/controller.h"

struct ilu_ctl_sqlite;

/* Opens (creating it and its directory if missing) the database at path.
 * NULL with err naming the file otherwise. */
struct ilu_ctl_sqlite *ilu_ctl_sqlite_open(const char *path, struct ilu_error *err);
/* Close the database; NULL is a no-op. */
void ilu_ctl_sqlite_close(struct ilu_ctl_sqlite *s);

/* The store table for ilu_controller_new (ctx is s). */
struct ilu_ctl_store ilu_ctl_sqlite_store(struct ilu_ctl_sqlite *s);

/* Read every stored function and worker into c (persist=false), functions
 * first so each worker gets them all when it is added. A row the core
 * refuses is logged and skipped. Returns 0, or -1 when the database cannot be read. */
int ilu_ctl_sqlite_load(struct ilu_ctl_sqlite *s, struct ilu_controller *c, const struct ilu_log *log,
                        struct ilu_error *err);

#endif
