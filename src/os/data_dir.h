/* Where the files shipped with the binaries are (agent/, functions/,
 * scripts/, tools/): beside the build folder in a checkout (build/../), or
 * PREFIX/share/iluvatar once installed (PREFIX/bin/../share/iluvatar, `make
 * install`). One place decides, so the worker, the load generator and the
 * backend agree. */
#ifndef ILU_DATA_DIR_H
#define ILU_DATA_DIR_H

#include <stddef.h>

/* The data folder (absolute, resolved) into out; -1 when neither layout is
 * found next to this process's binary (out then holds the checkout guess). */
int ilu_os_data_dir(char *out, size_t n);
/* <data folder>/rel into out, not resolved (it may not exist); -1 as above. */
int ilu_os_data_path(const char *rel, char *out, size_t n);

#endif
