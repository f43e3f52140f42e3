/* On-CPU time of a process, for the benches' CPU-per-request figures. */
#ifndef BENCH_PROC_CPU_H
#define BENCH_PROC_CPU_H

#include <stdint.h>
#include <stdio.h>

/* Nanoseconds all threads of pid spent on a CPU (first field of
 * /proc/<pid>/schedstat); 0 when pid is unknown or gone. */
static inline uint64_t proc_cpu_ns(int pid)
{
    if (pid <= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        if (fscanf(f, "%llu", &ns) != 1)
            ns = 0;
        fclose(f);
    }
    return ns;
}

#endif
