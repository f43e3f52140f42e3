#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int ilu_read_lines(const char *path, size_t max_line,
                   int (*line_fn)(void *ctx, char *line, size_t len, struct ilu_error *err), void *ctx,
                   struct ilu_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "cannot read %s: %s", path, strerror(errno));
    char *line = malloc(max_line + 1);
    if (!line) {
        fclose(f);
        return ilu_err(err, ILU_ST_INTERNAL, NULL, "out of memory for a line of %s", path);
    }
    size_t len = 0, line_no = 1;
    int c, rc = 0;
    while (!rc && (c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            line[len] = 0;
            rc = line_fn(ctx, line, len, err);
            len = 0;
            line_no++;
        } else if (len == max_line) {
            rc = ilu_err(err, ILU_ST_BAD_REQUEST, "bad_input", "%s:%zu: line longer than %zu bytes", path, line_no,
                         max_line);
        } else {
            line[len++] = (char)c;
        }
    }
    if (!rc && ferror(f))
        rc = ilu_err(err, ILU_ST_INTERNAL, NULL, "reading %s failed: %s", path, strerror(errno));
    if (!rc && len) { /* a last line without its newline */
        line[len] = 0;
        rc = line_fn(ctx, line, len, err);
    }
    free(line);
    fclose(f);
    return rc;
}

void ilu_closep(const int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
