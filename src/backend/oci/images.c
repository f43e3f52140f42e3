/* Functions registered as OCI images: image_name is a reference (oci:,
 * oci-archive:, docker-archive:, docker://) instead of a folder. Preparing one
 * runs tools/images/prepare.sh (skopeo and umoci do the reading and
 * unpacking), which leaves a cache entry named by the image's layers (their
 * unpacked root, shared by every image of the same layers) and writes the
 * image's config for this run. This file reads that config to find where the function
 * is (label org.iluvatar.workdir, else WORKDIR, else /app, Ilúvatar's
 * convention) and which Python runs the agent (label org.iluvatar.python,
 * else the first python3 on the image's PATH), and checks main.py is there.
 * Registrations of a reference being prepared wait for that one run. */
#include "oci_int.h"

#include "os/data_dir.h"

#include "api/registration.h"
#include "os/clock.h"
#include "os/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct oci_image_waiter {
    void (*done)(void *arg, const struct ilu_error *err);
    void *arg;
    struct oci_image_waiter *next;
};

struct oci_image *oci_image_find(const struct oci_backend *ob, const char *ref)
{
    for (struct oci_image *img = ob->images; img; img = img->next)
        if (!strcmp(img->ref, ref))
            return img;
    return NULL;
}

/* A local image (layout or archive) must lie under one of functions_dirs,
 * as function folders must: only the worker's owner writes there. canon
 * gets ref with the path resolved, which is what the tool reads, so a
 * symlink swapped afterwards cannot redirect it. */
static int check_local_path(struct oci_backend *ob, const char *ref, char *canon, size_t canon_len,
                            struct ilu_error *err)
{
    snprintf(canon, canon_len, "%s", ref);
    if (!strncmp(ref, "docker://", 9))
        return 0;
    const char *path = strchr(ref, ':') + 1;
    char file[PATH_MAX], real[PATH_MAX];
    size_t n = strcspn(path, ":"); /* a tag or reference may follow */
    if (path[0] != '/' || n >= sizeof file)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s: the path must be absolute", ref);
    memcpy(file, path, n);
    file[n] = '\0';
    if (oci_resolve_in_roots(ob, ref, file, real, err))
        return -1;
    if ((size_t)snprintf(canon, canon_len, "%.*s%s%s", (int)(path - ref), ref, real, path + n) >= canon_len)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image reference too long");
    return 0;
}

/* path inside the image's root exists (not following a last symlink, whose
 * target means something only inside the container) */
static bool in_root(const char *rootfs, const char *path)
{
    char full[PATH_MAX * 2];
    struct stat st;
    snprintf(full, sizeof full, "%s%s", rootfs, path);
    return lstat(full, &st) == 0;
}

static const char *label(json_t *cfg, const char *name)
{
    return json_string_value(json_object_get(json_object_get(cfg, "Labels"), name));
}

/* Fill img from its cache entry and the image's config (as the tool wrote
 * it for this run: entries are shared by images of the same layers). On an
 * error img is left as it was: functions registered with an earlier,
 * successful preparation of the same reference keep running on it. */
static int read_entry(struct oci_backend *ob, struct oci_image *img, const char *name, struct ilu_error *err)
{
    struct {
        char rootfs[PATH_MAX], workdir[256], python[256];
    } v;
    memset(&v, 0, sizeof v);
    snprintf(v.rootfs, sizeof v.rootfs, "%s/%s/rootfs", ob->image_cache_dir, name);
    json_error_t jerr;
    json_t *doc = json_load_file(img->config_path, 0, &jerr);
    json_t *cfg = json_object_get(doc, "config"); /* absent in a config with no settings */
    const char *workdir = label(cfg, "org.iluvatar.workdir");
    if (!workdir || !*workdir)
        workdir = json_string_value(json_object_get(cfg, "WorkingDir"));
    if (!workdir || !*workdir)
        workdir = "/app";
    snprintf(v.workdir, sizeof v.workdir, "%s", workdir);
    json_t *env_out = json_array();
    const char *search = "/usr/local/bin:/usr/bin:/bin";
    json_t *env = json_object_get(cfg, "Env"), *e;
    size_t i;
    json_array_foreach(env, i, e)
    {
        const char *kv = json_string_value(e);
        if (!kv || !strchr(kv, '='))
            continue;
        json_array_append(env_out, e);
        if (!strncmp(kv, "PATH=", 5))
            search = kv + 5;
    }
    const char *python = label(cfg, "org.iluvatar.python");
    if (python && python[0] == '/') {
        snprintf(v.python, sizeof v.python, "%s", python);
    } else {
        char dirs[1024];
        snprintf(dirs, sizeof dirs, "%s", search);
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d && !v.python[0]; d = strtok_r(NULL, ":", &save)) {
            char cand[512];
            snprintf(cand, sizeof cand, "%s/python3", d);
            if (d[0] == '/' && in_root(v.rootfs, cand))
                snprintf(v.python, sizeof v.python, "%s", cand);
        }
    }
    char main_py[300];
    snprintf(main_py, sizeof main_py, "%s/main.py", v.workdir);
    int rc = 0;
    if (!doc)
        rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image %s: cannot read its config: %s", img->ref, jerr.text);
    else if (!v.python[0] || !in_root(v.rootfs, v.python))
        rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                     "image %s has no Python: no python3 on its PATH (%s)%s%s; set the label org.iluvatar.python",
                     img->ref, search, v.python[0] ? " nor at " : "", v.python);
    else if (!in_root(v.rootfs, main_py))
        rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image",
                     "image %s has no %s (the function's folder is the label org.iluvatar.workdir, else WORKDIR, "
                     "else /app)",
                     img->ref, main_py);
    json_decref(doc);
    if (rc) {
        json_decref(env_out);
        return rc;
    }
    snprintf(img->name, sizeof img->name, "%s", name);
    memcpy(img->rootfs, v.rootfs, sizeof img->rootfs);
    memcpy(img->workdir, v.workdir, sizeof img->workdir);
    memcpy(img->python, v.python, sizeof img->python);
    json_decref(img->env);
    img->env = env_out;
    return 0;
}

/* The preparation ended: tell who waited. A failed one leaves an earlier
 * success in force (see read_entry). */
static void finish(struct oci_image *img, const struct ilu_error *err)
{
    img->preparing = false;
    img->pid = 0;
    if (!err)
        img->ready = true;
    struct oci_image_waiter *w = img->waiters;
    img->waiters = NULL;
    while (w) {
        struct oci_image_waiter *next = w->next;
        w->done(w->arg, err);
        free(w);
        w = next;
    }
}

static void on_prepare_exit(void *arg, pid_t pid, int status)
{
    struct oci_image *img = arg;
    struct oci_backend *ob = img->ob;
    char out[512] = "", why[600];
    oci_file_tail(img->out_path, out, sizeof out);
    oci_file_tail(img->err_path, why, sizeof why);
    unlink(img->out_path);
    unlink(img->err_path);
    size_t n = strcspn(out, " \n|");
    out[n] = '\0';
    struct ilu_error err = {0};
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strncmp(out, "sha256-", 7);
    if (!ok) {
        char how[96];
        oci_describe_status(status, how, sizeof how);
        ilu_err(&err, ILU_ST_BAD_REQUEST, "bad_image", "image %s: %s (%s)", img->ref, why[0] ? why : "no reason given",
                how);
    } else if (read_entry(ob, img, out, &err) == 0) {
        unlink(img->config_path);
        ilu_info(ob->log, img->tid, "image %s ready: %s, python %s, function in %s (%.0f ms)", img->ref, img->name,
                 img->python, img->workdir, (double)(ilu_os_mono_ns() - img->started_ns) / 1e6);
        finish(img, NULL);
        if (ob->image_cache_max_bytes)
            oci_images_gc(ob, ob->image_cache_max_bytes, img->tid);
        return;
    }
    unlink(img->config_path);
    if (!img->ready) /* nothing of this record is in use (see list_entries) */
        img->name[0] = '\0';
    if (ok) /* unpacked, not a function: unless something else uses its layers, it goes */
        oci_images_remove_unused(ob, out, img->tid);
    ilu_warn(ob->log, img->tid, "%s", err.msg);
    finish(img, &err);
}

int oci_image_prepare(struct oci_backend *ob, const char *ref, const char *tid,
                      void (*done)(void *arg, const struct ilu_error *err), void *arg, struct ilu_error *err)
{
    if (strlen(ref) >= sizeof ob->images->ref)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_image", "image reference too long (%zu bytes)", strlen(ref));
    char canon[sizeof ob->images->ref + PATH_MAX];
    if (check_local_path(ob, ref, canon, sizeof canon, err))
        return -1;
    struct oci_image *img = oci_image_find(ob, ref);
    if (!img) {
        if (!(img = calloc(1, sizeof *img)))
            return ilu_err(err, ILU_ST_INTERNAL, "oom", "out of memory");
        img->ob = ob;
        snprintf(img->ref, sizeof img->ref, "%s", ref);
        img->next = ob->images;
        ob->images = img;
    }
    struct oci_image_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return ilu_err(err, ILU_ST_INTERNAL, "oom", "out of memory");
    w->done = done;
    w->arg = arg;
    w->next = img->waiters;
    img->waiters = w;
    if (img->preparing) /* one run serves every registration that waits for it */
        return 0;
    /* each registration runs it again: the reference may name new content
     * now (a layout's tag moved); an unchanged image is found in the cache */
    snprintf(img->tid, sizeof img->tid, "%s", tid ? tid : "");
    unsigned seq = ++ob->image_runs;
    snprintf(img->out_path, sizeof img->out_path, "%s/tmp/run-%u.out", ob->image_cache_dir, seq);
    snprintf(img->err_path, sizeof img->err_path, "%s/tmp/run-%u.err", ob->image_cache_dir, seq);
    snprintf(img->config_path, sizeof img->config_path, "%s/tmp/run-%u.config", ob->image_cache_dir, seq);
    char *argv[] = {"/bin/bash", ob->image_tool, canon, ob->image_cache_dir, img->config_path, NULL};
    img->started_ns = ilu_os_mono_ns();
    pid_t pid = ilu_os_spawn(argv, img->out_path, img->err_path, err);
    if (pid <= 0 || ilu_reaper_watch(ob->reaper, pid, on_prepare_exit, img) != 0) {
        img->waiters = w->next;
        free(w);
        return pid <= 0 ? -1 : ilu_err(err, ILU_ST_INTERNAL, "oom", "cannot watch the image tool");
    }
    img->pid = pid;
    img->preparing = true;
    ilu_info(ob->log, tid, "preparing image %s", ref);
    return 0;
}

int oci_images_init(struct oci_backend *ob, const struct ilu_oci_config *oc, struct ilu_error *err)
{
    if (oc->image_cache_dir[0])
        snprintf(ob->image_cache_dir, sizeof ob->image_cache_dir, "%s", oc->image_cache_dir);
    else
        snprintf(ob->image_cache_dir, sizeof ob->image_cache_dir, "%s/images", ob->state_dir);
    if (oc->image_tool[0]) {
        snprintf(ob->image_tool, sizeof ob->image_tool, "%s", oc->image_tool);
    } else { /* shipped with the binaries (os/data_dir.h) */
        ilu_os_data_path("tools/images/prepare.sh", ob->image_tool, sizeof ob->image_tool);
    }
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s/tmp", ob->image_cache_dir);
    if (oci_mkdir_p(tmp, 0711) != 0)
        return ilu_err(err, ILU_ST_INTERNAL, "oci_init", "cannot create the image cache %s: %s", ob->image_cache_dir,
                       strerror(errno));
    chmod(ob->image_cache_dir, 0711); /* user-namespaced containers pass through to their root */
    ob->image_cache_max_bytes = (uint64_t)oc->image_cache_max_mb * 1024 * 1024;
    /* the static tini, for images: their root has no /usr of ours */
    char init_static[300];
    snprintf(init_static, sizeof init_static, "%s-static", ob->init);
    if (ob->init[0] && access(init_static, X_OK) == 0)
        snprintf(ob->init_static, sizeof ob->init_static, "%s", init_static);
    return 0;
}

void oci_images_free(struct oci_backend *ob)
{
    while (ob->images) {
        struct oci_image *img = ob->images;
        ob->images = img->next;
        if (img->pid > 0)
            ilu_reaper_unwatch(ob->reaper, img->pid);
        for (struct oci_image_waiter *w = img->waiters, *next; w; w = next) {
            next = w->next;
            free(w); /* their requests go with the HTTP server */
        }
        json_decref(img->env);
        free(img);
    }
}

/* ---- the cache's size and its bound ---- */

struct cache_entry {
    char name[80];
    uint64_t bytes;
    time_t used; /* the entry's mtime: touched on each preparation */
    bool in_use;
};

static int by_use(const void *a, const void *b)
{
    const struct cache_entry *x = a, *y = b;
    return (x->used > y->used) - (x->used < y->used);
}

/* The cache's complete entries; *n of them in a malloc'ed array (NULL when
 * none or out of memory). */
static struct cache_entry *list_entries(struct oci_backend *ob, size_t *n)
{
    *n = 0;
    DIR *d = opendir(ob->image_cache_dir);
    if (!d)
        return NULL;
    struct cache_entry *all = NULL;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[PATH_MAX + 96];
        struct stat st;
        if (strncmp(e->d_name, "sha256-", 7) || strlen(e->d_name) >= sizeof all->name || strchr(e->d_name, '.'))
            continue;
        snprintf(path, sizeof path, "%s/%s/ready", ob->image_cache_dir, e->d_name);
        if (access(path, F_OK) != 0)
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct cache_entry *t = realloc(all, ncap * sizeof *t);
            if (!t)
                break;
            all = t;
            cap = ncap;
        }
        struct cache_entry *ce = &all[(*n)++];
        memset(ce, 0, sizeof *ce);
        snprintf(ce->name, sizeof ce->name, "%s", e->d_name);
        snprintf(path, sizeof path, "%s/%s", ob->image_cache_dir, e->d_name);
        ce->used = stat(path, &st) == 0 ? st.st_mtime : 0;
        snprintf(path, sizeof path, "%s/%s/size", ob->image_cache_dir, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long bytes = 0;
        if (f) {
            if (fscanf(f, "%llu", &bytes) != 1)
                bytes = 0;
            fclose(f);
        }
        ce->bytes = bytes;
        for (const struct oci_image *img = ob->images; img && !ce->in_use; img = img->next)
            ce->in_use = (img->ready || img->preparing) && !strcmp(img->name, ce->name);
        for (const struct oci_ct *ct = ob->cts; ct && !ce->in_use; ct = ct->next)
            ce->in_use = !strcmp(ct->image_entry, ce->name);
    }
    closedir(d);
    return all;
}

void oci_images_usage(struct oci_backend *ob, unsigned *entries, uint64_t *bytes)
{
    size_t n;
    struct cache_entry *all = list_entries(ob, &n);
    *entries = (unsigned)n;
    *bytes = 0;
    for (size_t i = 0; i < n; i++)
        *bytes += all[i].bytes;
    free(all);
}

/* Remove unused entries: all of them up to keep_bytes (only: just that one
 * entry, when not in use). */
static unsigned gc(struct oci_backend *ob, uint64_t keep_bytes, const char *only, const char *tid)
{
    char lock[PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/.lock", ob->image_cache_dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) { /* a preparation runs: next time */
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size_t n;
    struct cache_entry *all = list_entries(ob, &n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += all[i].bytes;
    if (all)
        qsort(all, n, sizeof *all, by_use);
    unsigned removed = 0;
    for (size_t i = 0; i < n && (total > keep_bytes || keep_bytes == 0); i++) {
        if (all[i].in_use || (only && strcmp(all[i].name, only)))
            continue;
        char path[PATH_MAX + 96], doomed[PATH_MAX + 112];
        snprintf(path, sizeof path, "%s/%s", ob->image_cache_dir, all[i].name);
        snprintf(doomed, sizeof doomed, "%s.gc", path);
        /* gone from the cache's view at once, then deleted */
        if (rename(path, doomed) != 0 || oci_rm_tree(doomed) != 0) {
            ilu_warn(ob->log, tid, "image cache: cannot remove %s: %s", path, strerror(errno));
            continue;
        }
        total -= all[i].bytes;
        removed++;
        ilu_info(ob->log, tid, "image cache: removed unused %s (%.1f MB)", all[i].name, (double)all[i].bytes / 1e6);
    }
    if (!only && keep_bytes && total > keep_bytes)
        ilu_warn(ob->log, tid,
                 "image cache: %.1f MB, over oci.image_cache_max_mb, and every entry left is in use by a registered "
                 "function",
                 (double)total / 1e6);
    free(all);
    close(fd); /* releases the lock */
    return removed;
}

unsigned oci_images_gc(struct oci_backend *ob, uint64_t keep_bytes, const char *tid)
{
    return gc(ob, keep_bytes, NULL, tid);
}

void oci_images_remove_unused(struct oci_backend *ob, const char *name, const char *tid)
{
    gc(ob, 0, name, tid);
}
