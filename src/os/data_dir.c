#include "data_dir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ilu_os_data_dir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(out, n, ".");
        return -1;
    }
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    /* a checkout has agent/agent.py one level up from its build folder; an install
     * has it under share/iluvatar beside bin/ */
    static const char *const layouts[] = {"..", "../share/iluvatar"};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char dir[PATH_MAX + 32], probe[PATH_MAX + 64], real[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", exe, layouts[i]);
        snprintf(probe, sizeof probe, "%s/agent/agent.py", dir);
        if (access(probe, F_OK) == 0 && realpath(dir, real)) {
            snprintf(out, n, "%s", real);
            return 0;
        }
    }
    snprintf(out, n, "%s/..", exe);
    return -1;
}

int ilu_os_data_path(const char *rel, char *out, size_t n)
{
    char dir[PATH_MAX];
    int rc = ilu_os_data_dir(dir, sizeof dir);
    snprintf(out, n, "%s/%s", dir, rel);
    return rc;
}
