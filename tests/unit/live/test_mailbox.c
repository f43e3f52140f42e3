/* Mailboxes between threads (src/os/mailbox.c): bits posted to a waiting
 * item add up into one hand-over; a cancelled item is not handled, even
 * later in a drain under way; an item posted while handled comes again;
 * posts from another thread wake the consumer's loop, and every one of
 * them is handled (also run under ThreadSanitizer by scripts/test.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

#include "os/mailbox.h"

struct item {
    struct ilu_mail mail; /* first */
    unsigned handled, bits_seen;
    int id;
};

struct consumer {
    struct event_base *base;
    struct ilu_mailbox *mb;
    unsigned calls;
    struct item *cancel_on_a; /* handling item 0 cancels this one */
    bool repost_a;            /* handling item 0 posts it again, once */
};

static void handle(struct ilu_mail *m, unsigned bits, void *arg)
{
    struct consumer *c = arg;
    struct item *it = (struct item *)m;
    it->handled++;
    it->bits_seen |= bits;
    c->calls++;
    if (it->id == 0 && c->cancel_on_a)
        ilu_mailbox_cancel(c->mb, &c->cancel_on_a->mail);
    if (it->id == 0 && c->repost_a) {
        c->repost_a = false;
        ilu_mailbox_post(c->mb, m, 8);
    }
}

static void consumer_open(struct consumer *c)
{
    *c = (struct consumer){0};
    c->base = event_base_new();
    assert_non_null(c->base);
    struct ilu_error err = {0};
    c->mb = ilu_mailbox_new(c->base, handle, c, &err);
    assert_non_null(c->mb);
}

static void consumer_close(struct consumer *c)
{
    ilu_mailbox_free(c->mb);
    event_base_free(c->base);
}

static void bits_posted_while_waiting_come_in_one_call(void **state)
{
    (void)state;
    struct consumer c;
    consumer_open(&c);
    struct item a = {.id = 0}, b = {.id = 1};
    ilu_mailbox_post(c.mb, &a.mail, 1);
    ilu_mailbox_post(c.mb, &b.mail, 4);
    ilu_mailbox_post(c.mb, &a.mail, 2);
    event_base_loop(c.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.handled, 1);
    assert_int_equal(a.bits_seen, 3);
    assert_int_equal(b.handled, 1);
    assert_int_equal(b.bits_seen, 4);
    /* nothing left: another turn handles nothing */
    event_base_loop(c.base, EVLOOP_NONBLOCK);
    assert_int_equal(c.calls, 2);
    consumer_close(&c);
}

static void cancelled_items_are_not_handled(void **state)
{
    (void)state;
    struct consumer c;
    consumer_open(&c);
    struct item a = {.id = 0}, b = {.id = 1}, d = {.id = 2};
    /* cancelled while waiting */
    ilu_mailbox_post(c.mb, &d.mail, 1);
    ilu_mailbox_cancel(c.mb, &d.mail);
    /* cancelled by a's handler while the drain has taken it */
    c.cancel_on_a = &b;
    ilu_mailbox_post(c.mb, &a.mail, 1);
    ilu_mailbox_post(c.mb, &b.mail, 1);
    event_base_loop(c.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.handled, 1);
    assert_int_equal(b.handled, 0);
    assert_int_equal(d.handled, 0);
    /* a cancelled item can be posted again */
    c.cancel_on_a = NULL;
    ilu_mailbox_post(c.mb, &b.mail, 2);
    event_base_loop(c.base, EVLOOP_NONBLOCK);
    assert_int_equal(b.handled, 1);
    assert_int_equal(b.bits_seen, 2);
    consumer_close(&c);
}

static void an_item_posted_while_handled_comes_again(void **state)
{
    (void)state;
    struct consumer c;
    consumer_open(&c);
    struct item a = {.id = 0};
    c.repost_a = true;
    ilu_mailbox_post(c.mb, &a.mail, 1);
    for (int i = 0; i < 10 && a.handled < 2; i++)
        event_base_loop(c.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.handled, 2);
    assert_int_equal(a.bits_seen, 1 | 8);
    consumer_close(&c);
}

#define N_ITEMS 64
#define N_POSTS 200000

struct producer {
    struct consumer *c;
    struct item *items;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (unsigned i = 0; i < N_POSTS; i++)
        ilu_mailbox_post(p->c->mb, &p->items[i % N_ITEMS].mail, 1u << (i % 3));
    return NULL;
}

static void posts_from_another_thread_wake_the_loop(void **state)
{
    (void)state;
    struct consumer c;
    consumer_open(&c);
    struct item *items = calloc(N_ITEMS, sizeof *items);
    assert_non_null(items);
    for (int i = 0; i < N_ITEMS; i++)
        items[i].id = i + 1;
    struct producer p = {&c, items};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
    /* blocking turns: only the producer's posts can end them */
    unsigned turns = 0;
    while (turns < 1000000) {
        event_base_loop(c.base, EVLOOP_ONCE);
        turns++;
        bool all = true;
        for (int i = 0; i < N_ITEMS && all; i++)
            all = items[i].bits_seen == 7;
        if (all)
            break;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    event_base_loop(c.base, EVLOOP_NONBLOCK); /* what came after the last check */
    unsigned calls = 0;
    for (int i = 0; i < N_ITEMS; i++) {
        assert_int_equal(items[i].bits_seen, 7); /* every bit posted to it arrived */
        assert_true(items[i].handled >= 1);
        calls += items[i].handled;
    }
    /* posts to a waiting item add up: at most one call per post */
    assert_true(calls <= N_POSTS);
    free(items);
    consumer_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bits_posted_while_waiting_come_in_one_call),
        cmocka_unit_test(cancelled_items_are_not_handled),
        cmocka_unit_test(an_item_posted_while_handled_comes_again),
        cmocka_unit_test(posts_from_another_thread_wake_the_loop),
    };
    return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
