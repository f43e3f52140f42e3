/* The results folder made ready before a run (out_dir.h). */
#include "loadgen/out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a run writes into its folder (common.c, worker_tally.c,
 * status_log.c, benchmark_mode.c, trace_plan.c, scripts/plot_results.py), as fnmatch
 * patterns. A file a run writes that is missing here makes the next run into
 * the default folder refuse to start (the folder holds what a run does not
 * write): add it here. */
static const char *const RUN_FILES[] = {
    "invocations.csv", "summary.json", "workers.csv", "status.csv", "worker_function_benchmarks.json",
    "run.json",        "mapping.csv",  "*.png",       ".*.tmp",
};

bool lg_out_dir_is_run_file(const char *name)
{
    for (size_t i = 0; i < sizeof RUN_FILES / sizeof RUN_FILES[0]; i++)
        if (!fnmatch(RUN_FILES[i], name, FNM_PERIOD))
            return true;
    return false;
}

static int not_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

/* What dir holds, for a message: "a, b, c and 4 more" (sorted names) into
 * out; the number of entries, or -1 with err. */
static int list_entries(const char *dir, char *out, size_t n, struct ilu_error *err)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, not_dots, alphasort);
    if (count < 0)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot read the folder %s: %s", dir, strerror(errno));
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < count; i++) {
        if (i < 3 && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    if (count > 3 && len < n)
        snprintf(out + len, n - len, " and %d more", count - 3);
    return count;
}

/* Whether folder a is b or one of b's parents (both resolved). */
static bool holds(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strcmp(a, "/") || (!strncmp(a, b, n) && (b[n] == '/' || b[n] == 0));
}

/* Why --force must not empty the folder real (resolved), or NULL. */
static const char *unsafe_to_empty(const char *real, const char *home)
{
    char here[PATH_MAX], home_real[PATH_MAX];
    if (!strcmp(real, "/"))
        return "it is the root folder";
    if (home && *home && realpath(home, home_real) && holds(real, home_real))
        return "it is your home folder ($HOME) or one of its parents";
    if (!getcwd(here, sizeof here))
        return "the current folder is unknown, so it could be the current folder or one of its parents";
    if (holds(real, here))
        return "it is the current folder or one of its parents";
    return NULL;
}

/* Remove everything in the folder open as dfd (at path, for messages), which
 * is closed here: files and links unlinked, folders emptied then removed,
 * none on another filesystem than dev. 0, or -1 with err naming the first
 * entry that could not be removed. */
static int empty_at(int dfd, const char *path, dev_t dev, struct ilu_error *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot read the folder %s: %s", path, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (errno = 0, e = readdir(d))) {
        if (!not_dots(e))
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (!unlinkat(dirfd(d), e->d_name, 0))
            continue;
        if (errno != EISDIR) {
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot remove %s: %s", sub, strerror(errno));
            break;
        }
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot remove %s: %s", sub, strerror(errno));
            if (fd >= 0)
                close(fd);
        } else if (st.st_dev != dev) {
            close(fd);
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "not removing %s: another filesystem is mounted there", sub);
        } else if (!(rc = empty_at(fd, sub, dev, err)) && unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR)) {
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot remove %s: %s", sub, strerror(errno));
        }
    }
    if (!rc && errno)
        rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot read the folder %s: %s", path, strerror(errno));
    closedir(d);
    return rc;
}

/* A repetition's folder (--repeat writes rep-1 .. rep-N): its run files go
 * too, and it with them once it is empty. */
static bool is_repetition_dir(const char *name)
{
    return !fnmatch("rep-[0-9]*", name, 0) && strspn(name + 4, "0123456789") == strlen(name + 4);
}

/* Remove the run files in dir (the default folder), and in its repetition
 * folders, which are removed once empty (one that holds anything else stays,
 * and the caller names it). */
static int remove_run_files(const char *dir, struct ilu_error *err)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, not_dots, alphasort);
    if (count < 0)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot read the folder %s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < count; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (!rc && lg_out_dir_is_run_file(names[i]->d_name) && !lstat(path, &st) && !S_ISDIR(st.st_mode) &&
            unlink(path))
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot remove %s (an earlier run's): %s", path, strerror(errno));
        else if (!rc && is_repetition_dir(names[i]->d_name) && !lstat(path, &st) && S_ISDIR(st.st_mode) &&
                 !(rc = remove_run_files(path, err)) && rmdir(path) && errno != ENOTEMPTY && errno != EEXIST)
            rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot remove %s (an earlier run's): %s", path, strerror(errno));
        free(names[i]);
    }
    free(names);
    return rc;
}

int lg_out_dir_prepare(const char *dir, bool is_default, bool force, const char *home, struct ilu_error *err)
{
    struct stat st;
    if (stat(dir, &st)) {
        if (errno == ENOENT)
            return 0; /* created when the results are written */
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "cannot use %s as the results folder: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "%s exists and is not a folder; --out needs a folder%s", dir,
                       force ? " (--force empties folders only)" : "");
    char what[300];
    int n = list_entries(dir, what, sizeof what, err);
    if (n <= 0)
        return n;
    if (force) {
        char real[PATH_MAX];
        if (!realpath(dir, real))
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot resolve %s: %s", dir, strerror(errno));
        const char *why = unsafe_to_empty(real, home);
        if (why)
            return ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "--force will not empty %s (%s): %s; choose another --out",
                           dir, real, why);
        int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot open the folder %s: %s", dir, strerror(errno));
        return empty_at(fd, dir, st.st_dev, err) ? ilu_err_wrap(err, "--force: emptying %s", dir) : 0;
    }
    if (is_default) {
        if (remove_run_files(dir, err) || (n = list_entries(dir, what, sizeof what, err)) < 0)
            return -1;
        if (n == 0)
            return 0;
        return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                       "the default results folder %s holds what a run does not write (%s); move it away, "
                       "choose another folder with --out DIR, or add --force to empty %s first",
                       dir, what, dir);
    }
    return ilu_err(err, ILU_ST_BAD_REQUEST, NULL,
                   "--out %s is not empty (it holds %s); a run there would mix its files with those: choose "
                   "another folder, or add --force to empty it first",
                   dir, what);
}
