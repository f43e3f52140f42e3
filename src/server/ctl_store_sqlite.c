#include "ctl_store_sqlite.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ilu_ctl_sqlite {
    sqlite3 *db;
    char path[256];
    sqlite3_stmt *put_function, *put_worker;
};

/* mkdir -p of path's directory. */
static int make_parent_dirs(const char *path, struct ilu_error *err)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0755) && errno != EEXIST)
            return ilu_err(err, ILU_ST_INTERNAL, "store", "cannot create directory %s for the database %s: %s", dir,
                           path, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) && errno != EEXIST)
        return ilu_err(err, ILU_ST_INTERNAL, "store", "cannot create directory %s for the database %s: %s", dir, path,
                       strerror(errno));
    return 0;
}

/* What an operator can do about the common failures. */
static const char *db_hint(struct ilu_ctl_sqlite *s)
{
    switch (s->db ? sqlite3_errcode(s->db) & 0xff : SQLITE_NOMEM) {
    case SQLITE_READONLY:
        return " (the file, its directory or its file system is read-only for this process: fix the permissions or"
               " the mount, or set store.db_path)";
    case SQLITE_CANTOPEN:
        return " (the file or its directory cannot be opened or created: check store.db_path and its permissions)";
    case SQLITE_FULL: return " (the disk is full)";
    case SQLITE_IOERR: return " (an I/O error on the disk holding the database)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return " (another process holds the database locked: is a second controller using the same store.db_path?)";
    default: return "";
    }
}

static int db_fail(struct ilu_ctl_sqlite *s, const char *what, struct ilu_error *err)
{
    return ilu_err(err, ILU_ST_INTERNAL, "store", "database %s: %s: %s%s", s->path, what,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory", db_hint(s));
}

struct ilu_ctl_sqlite *ilu_ctl_sqlite_open(const char *path, struct ilu_error *err)
{
    struct ilu_ctl_sqlite *s = calloc(1, sizeof *s);
    if (!s) {
        ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    if (make_parent_dirs(path, err))
        goto fail;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        db_fail(s, "cannot open", err);
        goto fail;
    }
    if (sqlite3_db_readonly(s->db, "main") == 1) { /* SQLite opens what it cannot write read-only */
        ilu_err(err, ILU_ST_INTERNAL, "store",
                "database %s is read-only for this process (the file, its directory or its file system is not"
                " writable): fix the permissions or the mount, or set store.db_path",
                path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 2000);
    static const char schema[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS functions(fqdn TEXT PRIMARY KEY, registration TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS workers(name TEXT PRIMARY KEY, info TEXT NOT NULL);";
    char *msg = NULL;
    if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        ilu_err(err, ILU_ST_INTERNAL, "store", "database %s: cannot set up the tables: %s", path,
                msg ? msg : "unknown error");
        sqlite3_free(msg);
        goto fail;
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO functions(fqdn, registration) VALUES(?1, ?2) "
                           "ON CONFLICT(fqdn) DO UPDATE SET registration = excluded.registration",
                           -1, &s->put_function, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO workers(name, info) VALUES(?1, ?2) "
                           "ON CONFLICT(name) DO UPDATE SET info = excluded.info",
                           -1, &s->put_worker, NULL) != SQLITE_OK) {
        db_fail(s, "cannot prepare statements", err);
        goto fail;
    }
    return s;
fail:
    ilu_ctl_sqlite_close(s);
    return NULL;
}

void ilu_ctl_sqlite_close(struct ilu_ctl_sqlite *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->put_function);
    sqlite3_finalize(s->put_worker);
    if (s->db)
        sqlite3_close(s->db);
    free(s);
}

static int upsert(struct ilu_ctl_sqlite *s, sqlite3_stmt *st, const char *key, json_t *value, const char *what,
                  struct ilu_error *err)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot encode %s %s", what, key);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    free(text);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        char msg[64];
        snprintf(msg, sizeof msg, "cannot save %s", what);
        return db_fail(s, msg, err);
    }
    return 0;
}

static int st_save_function(void *ctx, const char *fqdn, json_t *registration, struct ilu_error *err)
{
    struct ilu_ctl_sqlite *s = ctx;
    json_t *copy = json_deep_copy(registration);
    json_object_del(copy, "transaction_id");
    int rc = upsert(s, s->put_function, fqdn, copy, "function", err);
    json_decref(copy);
    return rc;
}

static int st_save_worker(void *ctx, const char *name, json_t *info, struct ilu_error *err)
{
    struct ilu_ctl_sqlite *s = ctx;
    return upsert(s, s->put_worker, name, info, "worker", err);
}

struct ilu_ctl_store ilu_ctl_sqlite_store(struct ilu_ctl_sqlite *s)
{
    return (struct ilu_ctl_store){.ctx = s, .save_function = st_save_function, .save_worker = st_save_worker};
}

int ilu_ctl_sqlite_load(struct ilu_ctl_sqlite *s, struct ilu_controller *c, const struct ilu_log *log,
                        struct ilu_error *err)
{
    static const char *const queries[] = {"SELECT fqdn, registration FROM functions ORDER BY rowid",
                                          "SELECT name, info FROM workers ORDER BY rowid"};
    unsigned loaded[2] = {0, 0};
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, queries[q], -1, &st, NULL) != SQLITE_OK)
            return db_fail(s, "cannot read", err);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(st, 0);
            const char *text = (const char *)sqlite3_column_text(st, 1);
            json_error_t jerr;
            json_t *row = text ? json_loads(text, 0, &jerr) : NULL;
            struct ilu_error e = {0};
            int bad;
            if (!json_is_object(row)) {
                bad = ilu_err(&e, ILU_ST_INTERNAL, "store", "the stored JSON is not an object");
            } else if (q == 0) {
                bad = ilu_controller_register_function(c, row, false, "store", NULL, NULL, &e);
            } else {
                struct ilu_ctl_worker_info info = {
                    .name = json_string_value(json_object_get(row, "name")),
                    .host = json_string_value(json_object_get(row, "host")),
                    .port = (uint32_t)json_integer_value(json_object_get(row, "port")),
                    .cpus = (uint32_t)json_integer_value(json_object_get(row, "cpus")),
                    .memory_mb = (uint32_t)json_integer_value(json_object_get(row, "memory_mb")),
                    .gpus = (uint32_t)json_integer_value(json_object_get(row, "gpus")), /* absent (older rows): 0 */
                };
                bad = ilu_controller_register_worker(c, &info, false, "store", &e);
            }
            if (bad)
                ilu_warn(log, "store", "database %s: skipping stored %s %s: %s", s->path, q ? "worker" : "function",
                         key ? key : "?", e.msg);
            else
                loaded[q]++;
            json_decref(row);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return db_fail(s, "cannot read", err);
    }
    ilu_log_emit(
        log, ILU_LOG_INFO, "store",
        json_pack("{s:s, s:i, s:i}", "db_path", s->path, "functions", (int)loaded[0], "workers", (int)loaded[1]),
        "loaded %u functions and %u workers", loaded[0], loaded[1]);
    return 0;
}
