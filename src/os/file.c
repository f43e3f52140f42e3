#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len > ILU_READ_FILE_MAX) {
            free(buf);
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    int saved = ferror(f) ? EIO : ENOMEM;
    fclose(f);
    if (!buf) {
        errno = saved;
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

char *ilu_read_file(const char *path, struct ilu_error *err)
{
    char *text = read_whole(path);
    if (!text) {
        int saved = errno;
        ilu_err(err, ILU_ST_BAD_REQUEST, NULL, "cannot read %s: %s", path, strerror(saved));
        errno = saved;
    }
    return text;
}

/* Blocks of 1 MiB at least: a trace of 100M rows is read in ~3k reads. */
#define LINE_READER_BLOCK (1u << 20)

int ilu_line_reader_open(struct ilu_line_reader *r, const char *path, size_t max_line, struct ilu_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_line = max_line;
    r->cap = (max_line + 1 > LINE_READER_BLOCK ? max_line + 1 : LINE_READER_BLOCK) + LINE_READER_BLOCK;
    if (!(r->f = fopen(path, "r")))
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "cannot read %s: %s", path, strerror(errno));
    if (!(r->buf = malloc(r->cap + 1))) {
        ilu_line_reader_close(r);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory for a line of %s", path);
    }
    return 0;
}

int ilu_line_reader_next(struct ilu_line_reader *r, char **line, size_t *len, struct ilu_error *err)
{
    for (;;) {
        char *s = r->buf + r->start;
        size_t have = r->end - r->start;
        char *nl = memchr(s, '\n', have);
        size_t n = nl ? (size_t)(nl - s) : have;
        if (n > r->max_line)
            return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: line longer than %zu bytes", r->path,
                           r->line_no + 1, r->max_line);
        if (nl || (r->eof && have)) { /* a whole line, or the last one without its newline */
            s[n] = 0;
            r->start += nl ? n + 1 : n;
            r->consumed += nl ? n + 1 : n;
            r->line_no++;
            *line = s;
            *len = n;
            return 1;
        }
        if (r->eof)
            return 0;
        /* keep the partial line, read behind it */
        memmove(r->buf, s, have);
        r->start = 0;
        r->end = have;
        size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
        r->end += got;
        if (got < r->cap - have) {
            if (ferror(r->f))
                return ilu_err(err, ILU_ST_INTERNAL, NULL, "reading %s failed: %s", r->path, strerror(errno));
            r->eof = feof(r->f);
        }
    }
}

uint64_t ilu_line_reader_size(const struct ilu_line_reader *r)
{
    struct stat st;
    return r->f && !fstat(fileno(r->f), &st) && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

void ilu_line_reader_close(struct ilu_line_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

int ilu_read_lines(const char *path, size_t max_line,
                   int (*line_fn)(void *ctx, char *line, size_t len, struct ilu_error *err), void *ctx,
                   struct ilu_error *err)
{
    struct ilu_line_reader r;
    if (ilu_line_reader_open(&r, path, max_line, err))
        return -1;
    char *line;
    size_t len;
    int rc;
    while ((rc = ilu_line_reader_next(&r, &line, &len, err)) == 1)
        if (line_fn(ctx, line, len, err)) {
            rc = -1;
            break;
        }
    ilu_line_reader_close(&r);
    return rc < 0 ? -1 : 0;
}

void ilu_closep(const int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
