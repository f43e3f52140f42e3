/* ident: transaction ids and request paths the API accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/ident.h"

#define TID_OK(s)     assert_null(ilu_tid_check(s, strlen(s)))
#define TID_BAD(s, n) assert_non_null(ilu_tid_check(s, n))
#define PATH_OK(s)    assert_null(ilu_path_check(s, strlen(s)))
#define PATH_BAD(s)   assert_non_null(ilu_path_check(s, sizeof(s) - 1))

static void printable_ascii_tids_are_accepted(void **state)
{
    (void)state;
    TID_OK("a");
    TID_OK("8f2c1e0a-1b2c-4d5e-8f90-0123456789ab");
    TID_OK("tid:{\"quoted\"}\\~!");
    char max[ILU_TID_MAX + 1];
    memset(max, 'x', ILU_TID_MAX);
    max[ILU_TID_MAX] = 0;
    TID_OK(max);
}

static void empty_long_and_unprintable_tids_are_refused(void **state)
{
    (void)state;
    TID_BAD("", 0);
    char longer[ILU_TID_MAX + 1];
    memset(longer, 'x', sizeof longer);
    TID_BAD(longer, sizeof longer);
    TID_BAD("a b", 3);
    TID_BAD("a\x01", 2);
    TID_BAD("a\x7f", 2);
    TID_BAD("caf\xc3\xa9", 5); /* valid UTF-8, still not ASCII */
    TID_BAD("\xff\xfe", 2);
    TID_BAD("a\0b", 3);
}

static void utf8_validity(void **state)
{
    (void)state;
    assert_true(ilu_utf8_valid("", 0));
    assert_true(ilu_utf8_valid("caf\xc3\xa9", 5));
    assert_true(ilu_utf8_valid("\xe2\x82\xac", 3));     /* euro */
    assert_true(ilu_utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    assert_false(ilu_utf8_valid("\xff", 1));
    assert_false(ilu_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(ilu_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(ilu_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ilu_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ilu_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(ilu_utf8_valid("\x80", 1));             /* lone continuation */
}

static void paths_with_valid_escapes_are_accepted(void **state)
{
    (void)state;
    PATH_OK("/ping");
    PATH_OK("/invoke?x=%ff"); /* the query is not the path */
    PATH_OK("/caf%C3%A9");
    PATH_OK("/a%2Fb");
}

static void undecodable_paths_are_refused(void **state)
{
    (void)state;
    PATH_BAD("/p%ffing"); /* not UTF-8 once decoded */
    PATH_BAD("/p%zzing"); /* malformed escape */
    PATH_BAD("/p%f");     /* truncated escape */
    PATH_BAD("/p%");
    PATH_BAD("/a%00b");       /* NUL */
    PATH_BAD("/a%0ab");       /* control character */
    PATH_BAD("/caf\xc3\xa9"); /* raw bytes outside ASCII */
    PATH_BAD("/a b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printable_ascii_tids_are_accepted),
        cmocka_unit_test(empty_long_and_unprintable_tids_are_refused),
        cmocka_unit_test(utf8_validity),
        cmocka_unit_test(paths_with_valid_escapes_are_accepted),
        cmocka_unit_test(undecodable_paths_are_refused),
    };
    return cmocka_run_group_tests_name("ident", tests, NULL, NULL);
}
