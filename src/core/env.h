/* What the core is handed instead of reading time or doing I/O itself: a clock,
 * a timer source and a log sink. The live daemon backs them with libevent and
 * CLOCK_MONOTONIC; the simulator backs them with a discrete-event queue. */
#ifndef ILU_ENV_H
#define ILU_ENV_H

#include <stdint.h>

struct ilu_timer; /* opaque, owned by the event source */

typedef void (*ilu_timer_fn)(void *arg);

struct ilu_env {
    void *ctx;
    /* Microseconds on a monotonic clock. */
    uint64_t (*now_us)(void *ctx);
    /* Microseconds since the Unix epoch, for log timestamps and reports. */
    uint64_t (*wall_us)(void *ctx);
    /* Run fn(arg) once after delay_us; 0 means "soon, after the current
     * callback returns". Timers due at the same instant run in the order they
     * were started. Returns NULL only when out of memory. */
    struct ilu_timer *(*timer_start)(void *ctx, uint64_t delay_us, ilu_timer_fn fn, void *arg);
    /* Cancel a timer that has not fired yet; frees it. NULL is ignored. */
    void (*timer_cancel)(void *ctx, struct ilu_timer *timer);
    /* Write one finished log line (no trailing newline). */
    void (*log_write)(void *ctx, int level, const char *line);
};

#endif
