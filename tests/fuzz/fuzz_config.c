/* libFuzzer target: the `key = value` config parser. ag_config_load_file reads a file,
 * so each input is written to an in-memory file (memfd) and loaded by its /proc path;
 * whatever loads must be readable back through the table's accessors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agentgov/config.h"

static int fd = -1;
static char path[64];

/* libFuzzer's entry points (it declares none in a header). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("fuzz_config", 0);
    if (fd < 0)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

/* A loaded number must respect the table's bounds (min == max == 0: unbounded). */
static void in_bounds(const struct ag_config_def *d, int64_t v)
{
    if ((d->min != 0 || d->max != 0) && (v < d->min || v > d->max))
        abort();
}

static void read_back(const ag_config *c)
{
    size_t n = 0;
    const struct ag_config_def *defs = ag_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (ag_config_origin(c, defs[i].name) == NULL)
            abort();
        switch (defs[i].type) {
        case AG_CFG_STRING:
        case AG_CFG_ENUM:
            if (ag_config_str(c, defs[i].name) == NULL)
                abort();
            break;
        case AG_CFG_INT:
        case AG_CFG_BOOL:
            in_bounds(&defs[i], ag_config_int(c, defs[i].name));
            break;
        case AG_CFG_DURATION:
            in_bounds(&defs[i], ag_config_ms(c, defs[i].name));
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    ag_config *c = NULL;
    if (ag_config_new(&c) != AG_OK)
        abort();
    if (ag_config_load_file(c, path, 0) == AG_OK)
        read_back(c);
    ag_config_free(c);
    return 0;
}
