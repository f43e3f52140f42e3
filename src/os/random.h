/* Randomness from the kernel. */
#ifndef ILU_OS_RANDOM_H
#define ILU_OS_RANDOM_H

#include <stdint.h>

/* 64 random bits for transaction ids (from /dev/urandom; pid and time if
 * that fails). */
uint64_t ilu_random_seed(void);

#endif
