/* bench_worker: the cold phase. A cold invocation through the worker
 * (POST /clean, then POST /invoke) next to the same bundle started by hand
 * (hand.c), in alternating pairs. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_worker.h"

static int count_containers(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/containers", opt.state_dir);
    int n = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* POST /clean, then wait until the worker removed every bundle (its deletes
 * run in the background) and let the machine settle. */
static void worker_clean(struct http *ctl)
{
    if (http_req(ctl, "/clean", "{}") != 200)
        die("clean: %s", body_of(ctl));
    for (int i = 0; i < 1000 && count_containers() > 0; i++)
        usleep(10000);
    usleep(100000);
}

json_t *cold_bench(struct http *ctl)
{
    load_template(ctl);
    snprintf(hand_rootdir, sizeof hand_rootdir, "%s/runtime-root", hand_root);
    if (mkdir(hand_rootdir, 0700) != 0)
        die("mkdir %s: %s", hand_rootdir, strerror(errno));
    int N = opt.cold;
    double *w = calloc((size_t)N, sizeof *w), *h = calloc((size_t)N, sizeof *h),
           *wstart = calloc((size_t)N, sizeof *wstart), *ratio = calloc((size_t)N, sizeof *ratio);
    printf("\ncold: %d starts each side, alternating (runtime %s)\n", N, opt.runtime_path);
    fflush(stdout);
    int nw = 0, nh = 0;
    for (int i = 0; i < N; i++) {
        for (int pass = 0; pass < 2; pass++) {
            bool worker_side = (pass == 0) == (i % 2 == 0);
            if (worker_side) {
                worker_clean(ctl);
                uint64_t t0 = now_ns();
                long code = http_req(ctl, "/invoke", invoke_body);
                uint64_t t1 = now_ns();
                char state[32];
                json_field_str(body_of(ctl), "container_state", state, sizeof state);
                if (code != 200 || strcmp(state, "cold") != 0)
                    die("cold invoke: HTTP %ld, state %s: %.300s", code, state, body_of(ctl));
                w[nw] = (double)(t1 - t0) / 1e6;
                wstart[nw] = (double)json_field_ll(body_of(ctl), "container_start_us") / 1e3;
                nw++;
                worker_clean(ctl); /* no worker container while the hand one runs */
            } else {
                uint64_t ns = hand_cold_once(i);
                hand_delete();
                if (!ns)
                    die("starting a container by hand failed");
                h[nh++] = (double)ns / 1e6;
                usleep(100000);
            }
        }
        fprintf(stderr, "  cold %d: worker %.1f ms, by hand %.1f ms\n", i + 1, w[nw - 1], h[nh - 1]);
    }
    for (int i = 0; i < N; i++)
        ratio[i] = w[i] / h[i];
    struct spread sw = spread_of(w, (size_t)N), sh = spread_of(h, (size_t)N), sws = spread_of(wstart, (size_t)N),
                  sr = spread_of(ratio, (size_t)N);
    double mr = sw.med / sh.med;
    printf("\ncold start                                       median   [   min    –    max   ] over %d starts\n", N);
    print_row("worker (client latency)", sw, "ms");
    print_row("  of which container_start_us", sws, "ms");
    print_row("by hand (spawn -> first answer)", sh, "ms");
    print_row("ratio per pair (worker / by hand)", sr, "x");
    printf("  %-40s %10.2f x\n", "ratio of medians", mr);
    printf("  %-40s %10.1f ms\n", "added (median worker - by hand)", sw.med - sh.med);
    json_t *ws = json_array(), *hs = json_array();
    for (int i = 0; i < N; i++) {
        json_array_append_new(ws, json_real(w[i]));
        json_array_append_new(hs, json_real(h[i]));
    }
    json_t *out =
        json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:f, s:f, s:o, s:o}", "starts", N, "runtime", opt.runtime_path,
                  "worker_ms", spread_json(sw), "worker_container_start_ms", spread_json(sws), "by_hand_ms",
                  spread_json(sh), "ratio_per_pair", spread_json(sr), "ratio_of_medians", mr, "added_median_ms",
                  sw.med - sh.med, "worker_samples_ms", ws, "by_hand_samples_ms", hs);
    free(w);
    free(h);
    free(wstart);
    free(ratio);
    return out;
}
