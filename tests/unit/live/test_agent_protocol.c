/* The worker's side of the in-container agent's protocol
 * (src/backend/oci/agent_client.c, agent/agent.py):
 *   request: u64 LE command (0 = ready check, 1 = invoke) | u64 LE length | JSON args
 *   reply  : u64 LE length | JSON
 * First the frame decoder alone (oci_agent_frame), then the real client on a
 * real Unix socket, with this test playing the agent: replies in pieces, over
 * the limit, unasked for, two at once, and a hang-up. The socket tests run
 * twice: with the core loop doing the agent I/O, and with an agent loop
 * (oci.agent_threads, agent_loops.c) doing it on its own thread, where
 * every case must end the same. */
#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "backend/oci/oci_int.h"

#define MAX_REPLY 1024

#include "agent_socket_fixture.h" /* put_len, and the fixture for the socket tests */

/* ---- the frame decoder ---- */

static void frame_waits_for_the_header(void **state)
{
    (void)state;
    char buf[16] = {0}, why[160] = "";
    size_t need = 0;
    assert_int_equal(oci_agent_frame(NULL, 0, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE);
    assert_int_equal(need, 8);
    put_len(buf, 5);
    for (size_t len = 1; len < 8; len++) {
        assert_int_equal(oci_agent_frame(buf, len, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE);
        assert_int_equal(need, 8); /* the length is not known yet: read no further than the header */
    }
}

static void frame_is_whole_at_exactly_its_length(void **state)
{
    (void)state;
    char buf[32], why[160] = "";
    size_t need = 0;
    put_len(buf, 5);
    memcpy(buf + 8, "{\"a\":", 5);
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE);
    assert_int_equal(need, 13);
    assert_int_equal(oci_agent_frame(buf, 12, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE);
    assert_int_equal(need, 13);
    assert_int_equal(oci_agent_frame(buf, 13, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_WHOLE);
    assert_int_equal(need, 13);
    /* an empty body is a whole frame too */
    put_len(buf, 0);
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_WHOLE);
    assert_int_equal(need, 8);
}

static void frame_length_is_little_endian(void **state)
{
    (void)state;
    char buf[8] = {0x02, 0x01, 0, 0, 0, 0, 0, 0}, why[160] = "";
    size_t need = 0;
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE);
    assert_int_equal(need, 8 + 0x102);
}

static void frame_over_the_limit_is_refused(void **state)
{
    (void)state;
    char buf[8], why[160] = "";
    size_t need = 0;
    put_len(buf, MAX_REPLY);
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_MORE); /* at the limit */
    assert_int_equal(need, 8 + MAX_REPLY);
    put_len(buf, MAX_REPLY + 1);
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_BAD);
    assert_string_equal(why, "the agent's reply is 1025 bytes, over the 1024-byte limit");
    put_len(buf, UINT64_MAX); /* no overflow of 8 + length */
    assert_int_equal(oci_agent_frame(buf, 8, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_BAD);
    assert_non_null(strstr(why, "18446744073709551615 bytes"));
}

static void frame_with_bytes_past_its_end_is_refused(void **state)
{
    (void)state;
    char buf[16] = {0}, why[160] = "";
    size_t need = 0;
    put_len(buf, 2);
    memcpy(buf + 8, "{}X", 3);
    assert_int_equal(oci_agent_frame(buf, 11, MAX_REPLY, &need, why, sizeof why), OCI_FRAME_BAD);
    assert_string_equal(why, "the agent sent more than one reply");
}

/* ---- the client on a real socket, this test as the agent ---- */

static int setup(void **state)
{
    return agent_socket_setup(state, "agent", "ct1", "{}");
}

/* The same, with one agent loop: invocations' I/O on its thread. */
static int setup_agent_loop(void **state)
{
    if (agent_socket_setup(state, "agent", "ct1", "{}"))
        return -1;
    struct fixture *f = *state;
    struct ilu_error err = {0};
    return oci_agent_loops_start(f->ob, 1, &err);
}

/* Send an invocation; the agent reads it and checks the request frame. */
static void invoke(struct fixture *f, const char *args)
{
    struct ilu_error err = {0};
    assert_int_equal(oci_agent_send(f->ct, args, strlen(args), &err), 0);
    assert_true(f->ob->n_aloops ? f->ct->aloop != NULL : f->ct->aloop == NULL); /* who does the I/O */
    uint64_t hdr[2];
    read_exact(f->agent, hdr, sizeof hdr);
    assert_int_equal(le64toh(hdr[0]), 1); /* command 1: invoke */
    assert_int_equal(le64toh(hdr[1]), strlen(args));
    char got[256] = "";
    read_exact(f->agent, got, strlen(args));
    assert_memory_equal(got, args, strlen(args));
}

static void ready_check_then_one_invocation(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{\"name\":\"x\"}");
    const char *body = "{\"user_result\":{\"ok\":true},\"duration_sec\":0.001}";
    agent_reply(f->agent, body);
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_status, 0);
    assert_string_equal(f->done_result, "{\"ok\":true}"); /* decoded by the backend */
    assert_true(f->done_duration == 0.001);
    assert_false(f->ct->in_flight);
    assert_int_equal(f->died_calls, 0);
    /* the connection stays up for the next one */
    invoke(f, "{}");
    agent_reply(f->agent, "{\"user_result\":2}");
    pump(f);
    assert_int_equal(f->done_calls, 2);
    assert_string_equal(f->done_result, "2");
}

static void reply_in_pieces_is_put_together(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{}");
    const char *body = "{\"user_result\":\"split across writes\"}";
    char frame[128];
    put_len(frame, strlen(body));
    memcpy(frame + 8, body, strlen(body));
    size_t total = 8 + strlen(body), cuts[] = {3, 8, 9, 20, total};
    size_t at = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(f->agent, frame + at, cuts[i] - at);
        at = cuts[i];
        if (at < total) {
            pump_idle(f);
            assert_int_equal(f->done_calls, 0); /* not before the last byte */
        }
    }
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_string_equal(f->done_result, "\"split across writes\"");
}

static void reply_over_the_limit_fails_the_invocation(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{}");
    char hdr[8];
    put_len(hdr, MAX_REPLY + 1);
    write_all(f->agent, hdr, 8);
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_status, ILU_ST_BAD_GATEWAY);
    assert_non_null(strstr(f->done_error, "container ct1: the agent's reply is 1025 bytes, over the 1024-byte limit"));
    assert_non_null(strstr(f->done_error, "during the invocation"));
    assert_non_null(strstr(f->last_warning, "ct1"));
    assert_int_equal(f->ct->state, OCI_CT_DEAD);
    assert_int_equal(f->ct->sock, -1); /* the connection is dropped */
}

static void reply_nobody_asked_for_kills_the_container(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    agent_reply(f->agent, "{\"user_result\":1}"); /* no invocation in flight */
    pump(f);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->died_calls, 1);
    assert_non_null(strstr(f->died_reason, "the agent sent data nobody asked for"));
    assert_non_null(strstr(f->died_reason, "while idle"));
    assert_int_equal(f->ct->state, OCI_CT_DEAD);
}

static void second_reply_is_not_swallowed_by_the_first(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{}");
    /* two frames in one write: the first answers the invocation, the second
     * is read on its own and is one nobody asked for */
    char both[128];
    const char *a = "{\"user_result\":\"a\"}", *b = "{\"user_result\":\"b\"}";
    put_len(both, strlen(a));
    memcpy(both + 8, a, strlen(a));
    put_len(both + 8 + strlen(a), strlen(b));
    memcpy(both + 16 + strlen(a), b, strlen(b));
    write_all(f->agent, both, 16 + strlen(a) + strlen(b));
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_string_equal(f->done_result, "\"a\"");
    pump(f);
    assert_int_equal(f->died_calls, 1);
    assert_non_null(strstr(f->died_reason, "nobody asked for"));
}

static void agent_hanging_up_while_idle_is_a_death(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    close(f->agent);
    f->agent = -1;
    pump(f);
    assert_int_equal(f->died_calls, 1);
    assert_non_null(strstr(f->died_reason, "the agent closed its connection"));
    assert_int_equal(f->done_calls, 0);
}

static void agent_hanging_up_mid_invocation_fails_it(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{}");
    char hdr[8];
    put_len(hdr, 100);
    write_all(f->agent, hdr, 8);
    write_all(f->agent, "{\"user", 6); /* part of the body, then gone */
    close(f->agent);
    f->agent = -1;
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_int_equal(f->done_status, ILU_ST_BAD_GATEWAY);
    assert_non_null(strstr(f->done_error, "the agent closed its connection during the invocation"));
}

static void agent_hanging_up_after_an_invocation_is_a_death(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    invoke(f, "{}");
    agent_reply(f->agent, "{\"user_result\":1}");
    pump(f);
    assert_int_equal(f->done_calls, 1);
    close(f->agent); /* idle, after the agent loop (if any) took the connection */
    f->agent = -1;
    pump(f);
    assert_int_equal(f->died_calls, 1);
    assert_non_null(strstr(f->died_reason, "the agent closed its connection"));
    assert_non_null(strstr(f->died_reason, "while idle"));
    assert_int_equal(f->ct->sock, -1);
}

static void big_arguments_arrive_whole(void **state)
{
    struct fixture *f = *state;
    become_ready(f);
    /* more than a Unix socket buffer holds: the rest goes once writable */
    size_t len = 4u << 20;
    char *args = malloc(len + 1), *got = malloc(len);
    assert_non_null(args);
    assert_non_null(got);
    memset(args, 'a', len);
    args[0] = '"';
    args[len - 1] = '"';
    args[len] = '\0';
    struct ilu_error err = {0};
    assert_int_equal(oci_agent_send(f->ct, args, len, &err), 0);
    uint64_t hdr[2];
    size_t at = 0;
    struct pollfd pfd = {.fd = f->agent, .events = POLLIN};
    char *dst = (char *)hdr;
    while (at < sizeof hdr + len) { /* the client writes while the core loop runs */
        event_base_loop(f->ob->evb, EVLOOP_NONBLOCK);
        if (poll(&pfd, 1, 10) != 1)
            continue;
        size_t want = at < sizeof hdr ? sizeof hdr - at : sizeof hdr + len - at;
        ssize_t n = read(f->agent, at < sizeof hdr ? dst + at : got + (at - sizeof hdr), want);
        assert_true(n > 0);
        at += (size_t)n;
    }
    assert_int_equal(le64toh(hdr[1]), len);
    assert_memory_equal(got, args, len);
    agent_reply(f->agent, "{\"user_result\":\"ok\"}");
    pump(f);
    assert_int_equal(f->done_calls, 1);
    assert_string_equal(f->done_result, "\"ok\"");
    free(args);
    free(got);
}

static void sending_before_ready_is_refused(void **state)
{
    struct fixture *f = *state;
    struct ilu_error err = {0};
    assert_int_equal(oci_agent_send(f->ct, "{}", 2, &err), -1);
    assert_int_equal(err.status, ILU_ST_BAD_GATEWAY);
    assert_non_null(strstr(err.msg, "still starting"));
    become_ready(f);
    invoke(f, "{}");
    assert_int_equal(oci_agent_send(f->ct, "{}", 2, &err), -1); /* one invocation in flight at a time */
    assert_string_equal(err.kind, "busy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_waits_for_the_header),
        cmocka_unit_test(frame_is_whole_at_exactly_its_length),
        cmocka_unit_test(frame_length_is_little_endian),
        cmocka_unit_test(frame_over_the_limit_is_refused),
        cmocka_unit_test(frame_with_bytes_past_its_end_is_refused),
        SOCKET_TEST(ready_check_then_one_invocation),
        SOCKET_TEST(reply_in_pieces_is_put_together),
        SOCKET_TEST(reply_over_the_limit_fails_the_invocation),
        SOCKET_TEST(reply_nobody_asked_for_kills_the_container),
        SOCKET_TEST(second_reply_is_not_swallowed_by_the_first),
        SOCKET_TEST(agent_hanging_up_while_idle_is_a_death),
        SOCKET_TEST(agent_hanging_up_mid_invocation_fails_it),
        SOCKET_TEST(sending_before_ready_is_refused),
        SOCKET_TEST(agent_hanging_up_after_an_invocation_is_a_death),
        SOCKET_TEST(big_arguments_arrive_whole),
#define LOOP_TEST(t) {#t " (agent loop)", t, setup_agent_loop, teardown, NULL}
        LOOP_TEST(ready_check_then_one_invocation),
        LOOP_TEST(reply_in_pieces_is_put_together),
        LOOP_TEST(reply_over_the_limit_fails_the_invocation),
        LOOP_TEST(reply_nobody_asked_for_kills_the_container),
        LOOP_TEST(second_reply_is_not_swallowed_by_the_first),
        LOOP_TEST(agent_hanging_up_while_idle_is_a_death),
        LOOP_TEST(agent_hanging_up_mid_invocation_fails_it),
        LOOP_TEST(sending_before_ready_is_refused),
        LOOP_TEST(agent_hanging_up_after_an_invocation_is_a_death),
        LOOP_TEST(big_arguments_arrive_whole),
    };
    return cmocka_run_group_tests_name("agent_protocol", tests, NULL, NULL);
}
