#include "bg_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BG_BUFS     4
#define BG_BUF_SIZE (1u << 20)

struct bg_buf {
    char *data;
    size_t len;
    int full; /* handed to the thread; the caller waits for it to be emptied */
};

struct ilu_bg_writer {
    FILE *f;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bg_buf bufs[BG_BUFS];
    unsigned fill, drain; /* the caller's buffer; the thread's next */
    int done;             /* no more writes: the thread ends when every buffer is written */
    int error;            /* errno of the first failed write, 0 */
};

static void *drain_loop(void *arg)
{
    struct ilu_bg_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct bg_buf *b = &w->bufs[w->drain];
        while (!b->full && !w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!b->full)
            break;
        pthread_mutex_unlock(&w->mu);
        int failed = !w->error && fwrite(b->data, 1, b->len, w->f) != b->len;
        int saved = errno;
        pthread_mutex_lock(&w->mu);
        if (failed && !w->error)
            w->error = saved ? saved : EIO;
        b->len = 0;
        b->full = 0;
        w->drain = (w->drain + 1) % BG_BUFS;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct ilu_bg_writer *ilu_bg_writer_open(FILE *f)
{
    struct ilu_bg_writer *w = calloc(1, sizeof *w);
    int ok = w != NULL;
    for (int i = 0; ok && i < BG_BUFS; i++)
        ok = (w->bufs[i].data = malloc(BG_BUF_SIZE)) != NULL;
    if (ok) {
        w->f = f;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->thread, NULL, drain_loop, w)) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
            ok = 0;
        }
    }
    if (!ok) {
        for (int i = 0; w && i < BG_BUFS; i++)
            free(w->bufs[i].data);
        free(w);
        fclose(f);
        return NULL;
    }
    return w;
}

int ilu_bg_writer_write(struct ilu_bg_writer *w, const void *data, size_t len)
{
    const char *p = data;
    pthread_mutex_lock(&w->mu);
    while (len && !w->error) {
        struct bg_buf *b = &w->bufs[w->fill];
        while (b->full && !w->error)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->error)
            break;
        size_t n = BG_BUF_SIZE - b->len < len ? BG_BUF_SIZE - b->len : len;
        pthread_mutex_unlock(&w->mu); /* the thread never touches a buffer that is not full */
        memcpy(b->data + b->len, p, n);
        pthread_mutex_lock(&w->mu);
        b->len += n;
        p += n;
        len -= n;
        if (b->len == BG_BUF_SIZE) {
            b->full = 1;
            w->fill = (w->fill + 1) % BG_BUFS;
            pthread_cond_broadcast(&w->cv);
        }
    }
    int error = w->error;
    pthread_mutex_unlock(&w->mu);
    if (error) {
        errno = error;
        return -1;
    }
    return 0;
}

int ilu_bg_writer_close(struct ilu_bg_writer *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    struct bg_buf *b = &w->bufs[w->fill];
    if (b->len && !b->full)
        b->full = 1; /* the last, partial buffer */
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    int error = w->error;
    if (fclose(w->f) && !error)
        error = errno ? errno : EIO;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    for (int i = 0; i < BG_BUFS; i++)
        free(w->bufs[i].data);
    free(w);
    if (error) {
        errno = error;
        return -1;
    }
    return 0;
}
