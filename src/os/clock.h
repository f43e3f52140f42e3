/* The one monotonic clock of the live programs (the core never reads a
 * clock: it gets the time from struct ilu_env). */
#ifndef ILU_OS_CLOCK_H
#define ILU_OS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: for intervals, never for dates. */
uint64_t ilu_os_mono_ns(void);

/* The same in microseconds. */
uint64_t ilu_os_mono_us(void);

/* CLOCK_REALTIME in microseconds since the epoch: for timestamps. */
uint64_t ilu_os_wall_us(void);

#endif
