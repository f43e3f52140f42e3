/* Reading files whole or line by line, with bounded memory. */
#ifndef ILU_OS_FILE_H
#define ILU_OS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

/* Largest file ilu_read_file takes (configs, benchmark JSON): beyond it,
 * NULL with errno EFBIG rather than the whole file in memory. */
#define ILU_READ_FILE_MAX (64u << 20)

/* The whole file as a NUL-terminated string (caller frees), or NULL with
 * err: 400 "cannot read PATH: reason" (errno is left set too). */
char *ilu_read_file(const char *path, struct ilu_error *err);

/* Calls line_fn for each line of path: the line without its '\n', in a
 * writable NUL-terminated buffer of max_line + 1 bytes that is reused. A
 * longer line fails with "path:N: line longer than max_line bytes" as soon as
 * max_line + 1 bytes of it were read, so memory stays bounded whatever the
 * file holds. line_fn returns 0 to go on or -1 (with err filled) to stop. */
int ilu_read_lines(const char *path, size_t max_line,
                   int (*line_fn)(void *ctx, char *line, size_t len, struct ilu_error *err), void *ctx,
                   struct ilu_error *err);

/* The same lines pulled one at a time, so a caller can interleave reading
 * with other work (the simulator reads a trace while it runs it): open,
 * next until it returns 0 (end) or -1 (err), close. The buffer is read in
 * large blocks; a line stays valid (and writable) until the next call. */
struct ilu_line_reader {
    FILE *f;
    const char *path; /* borrowed */
    char *buf;
    size_t cap, max_line, start, end, line_no;
    uint64_t consumed; /* bytes of the file handed out so far */
    int eof;
};
int ilu_line_reader_open(struct ilu_line_reader *r, const char *path, size_t max_line, struct ilu_error *err);
/* 1 with *line (NUL-terminated, without its '\n') and *len; 0 at the end. */
int ilu_line_reader_next(struct ilu_line_reader *r, char **line, size_t *len, struct ilu_error *err);
/* The file's size in bytes, for progress; 0 when unknown. */
uint64_t ilu_line_reader_size(const struct ilu_line_reader *r);
void ilu_line_reader_close(struct ilu_line_reader *r);

/* A local owning a descriptor: `ilu_cleanup_close int fd = open(...);`
 * closes it (when >= 0) on every return path. */
void ilu_closep(const int *fd);
#define ilu_cleanup_close __attribute__((cleanup(ilu_closep)))

#endif
