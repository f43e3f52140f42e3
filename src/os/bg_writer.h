/* A file written by a background thread: writes are copied into a few large
 * buffers that the thread hands to the kernel while the caller goes on, so a
 * simulation producing hundreds of MB of CSV does not wait for the copy into
 * the page cache (on 2 cores, about a quarter of its time). */
#ifndef ILU_BG_WRITER_H
#define ILU_BG_WRITER_H

#include <stddef.h>
#include <stdio.h>

struct ilu_bg_writer;

/* Takes f (closed by ilu_bg_writer_close, whatever happens). NULL when out
 * of memory or the thread cannot start; f is then closed. */
struct ilu_bg_writer *ilu_bg_writer_open(FILE *f);
/* Copies len bytes for the thread to write, waiting only while every buffer
 * is full. 0, or -1 with errno when an earlier write failed. */
int ilu_bg_writer_write(struct ilu_bg_writer *w, const void *data, size_t len);
/* Writes what is left, stops the thread, closes the file and frees w. 0, or
 * -1 with errno of the first failure (write or close). NULL is ignored. */
int ilu_bg_writer_close(struct ilu_bg_writer *w);

#endif
