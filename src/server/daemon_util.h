/* Small helpers the daemons share: reading a whole file, a random seed. */
#ifndef ILU_DAEMON_UTIL_H
#define ILU_DAEMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The whole file as a NUL-terminated string (caller frees), or NULL with
 * errno set. */
char *ilu_read_file(const char *path);
/* 64 random bits for transaction ids (from /dev/urandom; pid and time if
 * that fails). */
uint64_t ilu_random_seed(void);

#endif
