#include "os/random.h"

#include <fcntl.h>
#include <unistd.h>

#include "os/clock.h"
#include "os/file.h"

uint64_t ilu_random_seed(void)
{
    uint64_t seed = 0;
    ilu_cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && read(fd, &seed, sizeof seed) != sizeof seed)
        seed = 0;
    if (!seed)
        seed = (uint64_t)getpid() * 2654435761u ^ ilu_os_mono_ns();
    return seed;
}
