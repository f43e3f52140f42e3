#include "worker_tally.h"

#include <stdlib.h>
#include <string.h>

/* a row as each record becomes final, in the CSV's order */
static void csv_row(void *arg, const struct ilu_report *r, const struct ilu_inv_record *rec)
{
    struct lg_worker_tally *t = arg;
    if (t->csv_failed)
        return;
    if (!t->csv) {
        struct ilu_error e = {0};
        if (!(t->csv = lg_results_file_open(t->ctx, "workers.csv", &e))) {
            t->csv_failed = 1;
            return;
        }
        fputs("tid,function_name,worker\n", t->csv);
    }
    fprintf(t->csv, "%s,%s,%s\n", rec->tid, r->fn_names[rec->fn],
            rec->worker >= 0 && (size_t)rec->worker < t->n ? t->workers[rec->worker].name : "");
}

void lg_worker_tally_init(struct lg_worker_tally *t, struct lg_ctx *ctx)
{
    *t = (struct lg_worker_tally){.ctx = ctx};
    ilu_report_on_final(&ctx->report, csv_row, t);
}

int lg_worker_tally_index(struct lg_worker_tally *t, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->workers[i].name, name))
            return (int)i;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        struct lg_worker_count *w = realloc(t->workers, cap * sizeof *w);
        if (!w) {
            t->oom = 1;
            return -1;
        }
        t->workers = w;
        t->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        t->oom = 1;
        return -1;
    }
    t->workers[t->n] = (struct lg_worker_count){.name = copy};
    return (int)t->n++;
}

void lg_worker_tally_answer(struct lg_worker_tally *t, struct ilu_inv_record *rec, json_t *answer)
{
    int k = lg_worker_tally_index(t, json_string_value(json_object_get(answer, "worker")));
    rec->worker = k;
    if (k < 0)
        return;
    struct lg_worker_count *w = &t->workers[k];
    w->invocations++;
    w->errors += !rec->success;
    if (rec->success) {
        w->cold += rec->state == ILU_START_COLD;
        w->prewarm += rec->state == ILU_START_PREWARM;
        w->warm += rec->state == ILU_START_WARM;
    }
}

void lg_worker_tally_summary(const struct lg_worker_tally *t, json_t *inputs)
{
    json_t *per = json_object();
    for (size_t i = 0; i < t->n; i++) {
        const struct lg_worker_count *w = &t->workers[i];
        json_object_set_new(per, w->name,
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "invocations", (json_int_t)w->invocations, "cold",
                                      (json_int_t)w->cold, "prewarm", (json_int_t)w->prewarm, "warm",
                                      (json_int_t)w->warm, "errors", (json_int_t)w->errors));
    }
    json_object_set_new(inputs, "per_worker", per);
}

int lg_worker_tally_commit(struct lg_worker_tally *t, struct ilu_error *err)
{
    if (t->oom)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory for the workers' names");
    if (t->csv_failed || !t->csv)
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "cannot write %s/workers.csv", t->ctx->out_dir);
    FILE *f = t->csv;
    t->csv = NULL;
    return lg_results_file_commit(t->ctx, "workers.csv", f, err);
}

void lg_worker_tally_free(struct lg_worker_tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->workers[i].name);
    free(t->workers);
    if (t->csv)
        lg_results_file_discard(t->ctx, "workers.csv", t->csv);
    *t = (struct lg_worker_tally){0};
}
