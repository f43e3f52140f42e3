/* The background file writer (src/os/bg_writer.c): every byte arrives, in
 * order, whatever the sizes of the writes; a failing file is reported by a
 * later write or by close, never lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/bg_writer.h"

static void bytes_arrive_in_order(void **state)
{
    (void)state;
    char path[] = "/tmp/ilu-bgw-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    struct ilu_bg_writer *w = ilu_bg_writer_open(f);
    assert_non_null(w);
    /* 10 MB in writes of 1 byte to 3 MB, a seeded pattern */
    size_t total = 10u << 20, done = 0;
    unsigned char *expect = malloc(total);
    assert_non_null(expect);
    uint64_t x = 1;
    for (size_t i = 0; i < total; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        expect[i] = (unsigned char)(x >> 56);
    }
    size_t sizes[] = {1, 7, 4096, 1u << 20, (1u << 20) - 1, 3u << 20, 12345};
    for (size_t k = 0; done < total; k++) {
        size_t n = sizes[k % (sizeof sizes / sizeof sizes[0])];
        if (n > total - done)
            n = total - done;
        assert_int_equal(ilu_bg_writer_write(w, expect + done, n), 0);
        done += n;
    }
    assert_int_equal(ilu_bg_writer_close(w), 0);
    FILE *r = fopen(path, "r");
    assert_non_null(r);
    unsigned char *got = malloc(total + 1);
    assert_int_equal(fread(got, 1, total + 1, r), total);
    assert_memory_equal(got, expect, total);
    fclose(r);
    unlink(path);
    free(got);
    free(expect);
}

static void nothing_written_gives_an_empty_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ilu-bgw-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct ilu_bg_writer *w = ilu_bg_writer_open(f);
    assert_non_null(w);
    assert_int_equal(ilu_bg_writer_close(w), 0);
    FILE *r = fopen(path, "r");
    assert_int_equal(fgetc(r), EOF);
    fclose(r);
    unlink(path);
    assert_int_equal(ilu_bg_writer_close(NULL), 0);
}

/* /dev/full: every write fails with ENOSPC, reported by a later write or by close */
static void a_full_disk_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    struct ilu_bg_writer *w = ilu_bg_writer_open(f);
    assert_non_null(w);
    static char block[1 << 20];
    int failed = 0;
    for (int i = 0; i < 64 && !failed; i++)
        failed = ilu_bg_writer_write(w, block, sizeof block) != 0;
    int rc = ilu_bg_writer_close(w);
    assert_true(failed || rc != 0);
    assert_int_equal(rc, -1); /* close repeats the first failure */
    assert_int_equal(errno, ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_arrive_in_order),
        cmocka_unit_test(nothing_written_gives_an_empty_file),
        cmocka_unit_test(a_full_disk_is_reported),
    };
    return cmocka_run_group_tests_name("bg_writer", tests, NULL, NULL);
}
