/* bff: the bootstrap reply a joining node reads from the network. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_run.h"
#include "bff.h"
#include "http_stub.h"
#include "httpc.h"

#define ID "48B3EE1A055C4BF78B425C4D48279C9484983185B72B450D3D3F9F5BAEBFD64154CD2F9D0D4F"
#define DHT "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"

static int parse(const char *s, struct bff_info *b)
{
	return bff_parse(s, strlen(s), b);
}

START_TEST(test_good)
{
	struct bff_info b;

	ck_assert_int_eq(parse("{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":33445,"
			       "\"tcp_port\":null,\"name\":\"alpha\"}", &b), 0);
	ck_assert_int_eq(b.tox_id[0], 0x48);
	ck_assert_int_eq(b.dht_key[31], 0xff);
	ck_assert_int_eq(b.udp_port, 33445);
	ck_assert_str_eq(b.name, "alpha");
	/* name is optional */
	ck_assert_int_eq(parse("{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":1}", &b), 0);
}
END_TEST

START_TEST(test_bad)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"not json",
		"{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\"}",
		"{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":0}",
		"{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":65536}",
		"{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":\"33445\"}",
		"{\"tox_id\":\"00\",\"dht_key\":\"" DHT "\",\"udp_port\":33445}",
		"{\"tox_id\":\"" ID "\",\"dht_key\":\"zz" DHT "\",\"udp_port\":33445}",
		"{\"tox_id\":5,\"dht_key\":\"" DHT "\",\"udp_port\":33445}",
		"{\"tox_id\":\"" ID "\",\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":1}",
	};
	struct bff_info b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &b) == -EBADMSG, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_fetch_refused)
{
	struct bff_info b;

	/* nothing listens on port 1 of the loopback */
	ck_assert_int_lt(bff_fetch("127.0.0.1", 1, NULL, 0, 1000, &b), 0);
}
END_TEST

/* A member's answer over plain HTTP on loopback; a 404 is no answer. */
START_TEST(test_fetch_served)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
				 "{\"tox_id\":\"" ID "\",\"dht_key\":\"" DHT "\",\"udp_port\":33445,"
				 "\"name\":\"alpha\",\"run_ms\":5}";
	struct http_stub *s;
	struct bff_info b;

	ck_assert_int_eq(http_stub_start(ok, &s), 0);
	ck_assert_int_eq(bff_fetch("127.0.0.1", http_stub_port(s), NULL, 0, 5000, &b), 0);
	ck_assert_int_eq(b.udp_port, 33445);
	ck_assert_str_eq(b.name, "alpha");
	ck_assert_int_eq(b.run_ms, 5);
	ck_assert_int_eq(b.tox_age_ms, -1);
	http_stub_stop(s);
	ck_assert_int_eq(http_stub_start("HTTP/1.1 404 Not Found\r\n\r\n{}", &s), 0);
	ck_assert_int_eq(bff_fetch("127.0.0.1", http_stub_port(s), NULL, 0, 5000, &b), -EBADMSG);
	http_stub_stop(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bff");
	TCase *tc = tcase_create("core");

	if (httpc_init() != 0)
		return EXIT_FAILURE;

	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_fetch_refused);
	tcase_add_test(tc, test_fetch_served);
	suite_add_tcase(s, tc);
	return check_run(s);
}
