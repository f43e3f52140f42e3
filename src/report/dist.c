/* A streaming distribution of ms values: exact array, then a log-linear
 * histogram of µs (dist.h). */
#include "report/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Linear part: one bucket per µs for |v| < LIN_HALF, index v + LIN_HALF - 1. */
#define LIN_HALF 2048
#define LIN_N    (2 * LIN_HALF - 1)
/* Octave m (2^m <= |v| < 2^(m+1), OCT_MIN <= m <= 63) has SUB buckets of
 * width 2^(m - SUB_BITS); 63 covers INT64_MIN's magnitude 2^63. */
#define SUB_BITS 10
#define SUB      (1 << SUB_BITS)
#define OCT_MIN  11
#define N_OCT    (64 - OCT_MIN)
#define POS      0
#define NEG      1

struct ilu_dist_hist {
    uint64_t lin[LIN_N];
    uint64_t *oct[2][N_OCT];  /* [POS|NEG][m - OCT_MIN]: SUB counts, NULL until used */
    uint64_t oct_n[2][N_OCT]; /* values in each octave, to skip octaves when ranking */
    size_t n_oct;             /* octaves allocated */
};

void ilu_dist_init(struct ilu_dist *d)
{
    memset(d, 0, sizeof *d);
    d->sorted = true;
}

static void hist_destroy(struct ilu_dist_hist *h)
{
    if (!h)
        return;
    for (int s = 0; s < 2; s++)
        for (int o = 0; o < N_OCT; o++)
            free(h->oct[s][o]);
    free(h);
}

void ilu_dist_free(struct ilu_dist *d)
{
    free(d->vals);
    hist_destroy(d->h);
    ilu_dist_init(d);
}

/* The counter of v's bucket, and in *total its octave's count (NULL in the
 * linear part). Allocates the octave when missing; NULL when that fails. */
static inline uint64_t *slot(struct ilu_dist_hist *h, int64_t v, uint64_t **total)
{
    if (v > -LIN_HALF && v < LIN_HALF) {
        *total = NULL;
        return &h->lin[v + LIN_HALF - 1];
    }
    int s = v < 0 ? NEG : POS;
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int m = 63 - __builtin_clzll(a);
    uint64_t *b = h->oct[s][m - OCT_MIN];
    if (__builtin_expect(!b, 0)) {
        b = calloc(SUB, sizeof *b);
        if (!b)
            return NULL;
        h->oct[s][m - OCT_MIN] = b;
        h->n_oct++;
    }
    *total = &h->oct_n[s][m - OCT_MIN];
    return &b[(a >> (m - SUB_BITS)) & (SUB - 1)];
}

/* Count v; -1 when its octave cannot be allocated (nothing counted). */
static inline int hist_count(struct ilu_dist_hist *h, int64_t v)
{
    uint64_t *total, *b = slot(h, v, &total);
    if (!b)
        return -1;
    (*b)++;
    if (total)
        (*total)++;
    return 0;
}

/* Allocate the octaves that vals[0..n) fall in, so that counting them next
 * cannot fail. */
static int reserve_values(struct ilu_dist_hist *h, const int64_t *vals, uint64_t n)
{
    uint64_t *total;
    for (uint64_t i = 0; i < n; i++)
        if (!slot(h, vals[i], &total))
            return -1;
    return 0;
}

/* The same for every value of from. */
static int reserve_dist(struct ilu_dist_hist *h, const struct ilu_dist *from)
{
    if (!from->h)
        return reserve_values(h, from->vals, from->n);
    for (int s = 0; s < 2; s++)
        for (int o = 0; o < N_OCT; o++)
            if (from->h->oct_n[s][o] && !h->oct[s][o]) {
                h->oct[s][o] = calloc(SUB, sizeof *h->oct[s][o]);
                if (!h->oct[s][o])
                    return -1;
                h->n_oct++;
            }
    return 0;
}

/* Move d's values into a new histogram that also has room for the values of
 * from and *extra (either may be NULL), and free the array. On failure d is
 * unchanged. */
static int to_hist(struct ilu_dist *d, const struct ilu_dist *from, const int64_t *extra)
{
    struct ilu_dist_hist *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    if (reserve_values(h, d->vals, d->n) || (from && reserve_dist(h, from)) || (extra && reserve_values(h, extra, 1))) {
        hist_destroy(h);
        return -1;
    }
    for (uint64_t i = 0; i < d->n; i++)
        (void)hist_count(h, d->vals[i]); /* reserved: cannot fail */
    free(d->vals);
    d->vals = NULL;
    d->cap = 0;
    d->sorted = true;
    d->h = h;
    return 0;
}

/* Room for want values in the exact array (want <= ILU_DIST_EXACT_MAX). */
static int reserve_exact(struct ilu_dist *d, uint64_t want)
{
    if (want <= d->cap)
        return 0;
    size_t cap = d->cap ? d->cap : 64;
    while (cap < want)
        cap *= 2;
    if (cap > ILU_DIST_EXACT_MAX)
        cap = ILU_DIST_EXACT_MAX;
    int64_t *v = realloc(d->vals, cap * sizeof *v);
    if (!v)
        return -1;
    d->vals = v;
    d->cap = cap;
    return 0;
}

/* count, sum, min and max after n values with sum sum, min lo and max hi. */
static void note(struct ilu_dist *d, uint64_t n, __int128 sum, int64_t lo, int64_t hi)
{
    if (!d->n || lo < d->min_us)
        d->min_us = lo;
    if (!d->n || hi > d->max_us)
        d->max_us = hi;
    d->n += n;
    d->sum_us += sum;
}

int ilu_dist_add_us(struct ilu_dist *d, int64_t us)
{
    if (d->h) {
        if (hist_count(d->h, us))
            return -1;
    } else if (d->n < d->cap || (d->n < ILU_DIST_EXACT_MAX && !reserve_exact(d, d->n + 1))) {
        d->vals[d->n] = us;
        d->sorted = d->n == 0;
    } else if (d->n < ILU_DIST_EXACT_MAX || to_hist(d, NULL, &us)) {
        return -1;
    } else {
        (void)hist_count(d->h, us); /* reserved by to_hist */
    }
    note(d, 1, us, us, us);
    return 0;
}

int ilu_dist_add(struct ilu_dist *d, double ms)
{
    double us = ms * 1000.0;
    /* llround is only defined inside int64's range; NaN fails both tests */
    if (!(us >= -9223372036854775808.0 && us < 9223372036854775808.0))
        return -1;
    return ilu_dist_add_us(d, llround(us));
}

int ilu_dist_merge(struct ilu_dist *into, const struct ilu_dist *from)
{
    if (!from->n)
        return 0;
    if (into == from) { /* reading from while changing it: merge a copy */
        struct ilu_dist copy;
        ilu_dist_init(&copy);
        int rc = ilu_dist_merge(&copy, from) ? -1 : ilu_dist_merge(into, &copy);
        ilu_dist_free(&copy);
        return rc;
    }
    uint64_t total = into->n + from->n;
    if (total <= ILU_DIST_EXACT_MAX) { /* both exact, and staying so */
        if (reserve_exact(into, total))
            return -1;
        memcpy(into->vals + into->n, from->vals, from->n * sizeof *from->vals);
        into->sorted = false;
    } else {
        if (into->h ? reserve_dist(into->h, from) : to_hist(into, from, NULL))
            return -1;
        struct ilu_dist_hist *h = into->h;
        if (!from->h) {
            for (uint64_t i = 0; i < from->n; i++)
                (void)hist_count(h, from->vals[i]); /* reserved */
        } else {
            for (int i = 0; i < LIN_N; i++)
                h->lin[i] += from->h->lin[i];
            for (int s = 0; s < 2; s++)
                for (int o = 0; o < N_OCT; o++) {
                    if (!from->h->oct_n[s][o])
                        continue;
                    for (int b = 0; b < SUB; b++)
                        h->oct[s][o][b] += from->h->oct[s][o][b];
                    h->oct_n[s][o] += from->h->oct_n[s][o];
                }
        }
    }
    note(into, from->n, from->sum_us, from->min_us, from->max_us);
    return 0;
}

uint64_t ilu_dist_count(const struct ilu_dist *d)
{
    return d->n;
}

bool ilu_dist_exact(const struct ilu_dist *d)
{
    return !d->h;
}

/* The midpoint of bucket b of octave o on side s (an integer: widths are
 * even), saturated to int64. */
static int64_t bucket_mid(int s, int o, int b)
{
    int shift = o + OCT_MIN - SUB_BITS;
    uint64_t mag = ((uint64_t)(SUB + b) << shift) + ((uint64_t)1 << (shift - 1));
    if (s == POS)
        return mag > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)mag;
    return mag >= (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)mag;
}

/* The value (a bucket's midpoint) at 0-based rank k < n of the histogram:
 * negative octaves from the largest magnitude, the linear part, positive
 * octaves. */
static int64_t hist_rank(const struct ilu_dist_hist *h, uint64_t k)
{
    for (int o = N_OCT - 1; o >= 0; o--) {
        if (k >= h->oct_n[NEG][o]) {
            k -= h->oct_n[NEG][o];
            continue;
        }
        for (int b = SUB - 1; b >= 0; b--) {
            if (k < h->oct[NEG][o][b])
                return bucket_mid(NEG, o, b);
            k -= h->oct[NEG][o][b];
        }
    }
    for (int i = 0; i < LIN_N; i++) {
        if (k < h->lin[i])
            return (int64_t)i - (LIN_HALF - 1);
        k -= h->lin[i];
    }
    for (int o = 0; o < N_OCT; o++) {
        if (k >= h->oct_n[POS][o]) {
            k -= h->oct_n[POS][o];
            continue;
        }
        for (int b = 0; b < SUB; b++) {
            if (k < h->oct[POS][o][b])
                return bucket_mid(POS, o, b);
            k -= h->oct[POS][o][b];
        }
    }
    return INT64_MAX; /* k >= n: not reached, callers clamp k */
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t ilu_nearest_rank(uint64_t n, double p)
{
    double rank = ceil(p / 100.0 * (double)n);
    return rank < 1 ? 0 : rank >= (double)n ? n - 1 : (uint64_t)rank - 1;
}

double ilu_dist_percentile(struct ilu_dist *d, double p)
{
    if (!d->n || isnan(p))
        return NAN;
    uint64_t k = ilu_nearest_rank(d->n, p);
    if (!d->h) {
        if (!d->sorted) {
            qsort(d->vals, d->n, sizeof *d->vals, cmp_i64);
            d->sorted = true;
        }
        return (double)d->vals[k] / 1000.0;
    }
    /* the clamp only moves the midpoint towards the true value */
    int64_t v = hist_rank(d->h, k);
    v = v < d->min_us ? d->min_us : v > d->max_us ? d->max_us : v;
    return (double)v / 1000.0;
}

double ilu_dist_max(const struct ilu_dist *d)
{
    return d->n ? (double)d->max_us / 1000.0 : NAN;
}

double ilu_dist_min(const struct ilu_dist *d)
{
    return d->n ? (double)d->min_us / 1000.0 : NAN;
}

double ilu_dist_mean(const struct ilu_dist *d)
{
    if (!d->n)
        return NAN;
    /* quotient and remainder, so that a sum past 2^53 µs keeps its precision */
    __int128 q = d->sum_us / (__int128)d->n, r = d->sum_us % (__int128)d->n;
    return ((double)q + (double)r / (double)d->n) / 1000.0;
}

static json_t *num(double ms)
{
    return isfinite(ms) ? json_real((double)llround(ms * 1000.0) / 1000.0) : json_null();
}

json_t *ilu_dist_json(struct ilu_dist *d)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    if (json_object_set_new(j, "count", json_integer((json_int_t)d->n)) ||
        json_object_set_new(j, "p50", num(ilu_dist_percentile(d, 50))) ||
        json_object_set_new(j, "p90", num(ilu_dist_percentile(d, 90))) ||
        json_object_set_new(j, "p99", num(ilu_dist_percentile(d, 99))) ||
        json_object_set_new(j, "max", num(ilu_dist_max(d))) || json_object_set_new(j, "mean", num(ilu_dist_mean(d))) ||
        json_object_set_new(j, "exact", json_boolean(ilu_dist_exact(d)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

size_t ilu_dist_bytes(const struct ilu_dist *d)
{
    size_t bytes = d->cap * sizeof *d->vals;
    if (d->h)
        bytes += sizeof *d->h + d->h->n_oct * SUB * sizeof *d->h->oct[0][0];
    return bytes;
}
