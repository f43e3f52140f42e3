/* What the tests/unit/test_worker_*.c files share: the worker core driven by
 * the fake env and fake backend (fake.h), so every time below is exact
 * because the clock is virtual. Default fake timings: cold start 50 ms,
 * execution 10 ms. The clock starts at T0 = 1 s (test_worker_queue.c's
 * invocation_dequeued_at_clock_zero_releases_its_cpu says why not 0). */
#ifndef WORKER_FIXTURE_H
#define WORKER_FIXTURE_H

#include "fake.h"

#define T0   (1 * SEC)
#define COLD (50 * MS)
#define EXEC (10 * MS)

static inline void start(struct fake_world *fw)
{
    fake_world_init(fw, T0);
}

#endif
