/* test_webhook.c - the Webhook processor without a network: status to
 * result, the request headers, both bodies, the UTF-8 check, the URL as
 * logged, and what init refuses */
#include "testutil.h"
#include "webhook.h"

#include <cJSON.h>

static void classify(void **state)
{
	static const struct {
		long code;
		enum proc_res want;
	} cases[] = {
		{200, PROC_OK},   {201, PROC_OK},   {204, PROC_OK},
		{299, PROC_OK},   {400, PROC_PERM}, {401, PROC_PERM},
		{403, PROC_PERM}, {404, PROC_PERM}, {413, PROC_PERM},
		{422, PROC_PERM}, {499, PROC_PERM}, {408, PROC_TEMP},
		{429, PROC_TEMP}, {500, PROC_TEMP}, {502, PROC_TEMP},
		{503, PROC_TEMP}, {599, PROC_TEMP}, {301, PROC_TEMP},
		{302, PROC_TEMP}, {100, PROC_TEMP}, {0, PROC_TEMP},
		{600, PROC_TEMP},
	};
	char why[PROC_WHY_MAX];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if (webhook_classify(cases[i].code, "", "", "", 0, "u", why,
				     sizeof(why)) != cases[i].want)
			fail_msg("HTTP %ld", cases[i].code);
		if (cases[i].want != PROC_OK && !strstr(why, "Webhook u: "))
			fail_msg("HTTP %ld: \"%s\"", cases[i].code, why);
	}
	/* the status line and the body's first bytes, printable */
	assert_int_equal(webhook_classify(400, "HTTP/1.1 400 Bad Request", "",
					  "no\nsuch\x01 user", 13,
					  "https://h/x", why, sizeof(why)),
			 PROC_PERM);
	assert_string_equal(why, "Webhook https://h/x: HTTP/1.1 400 Bad "
				 "Request: no\\x0asuch\\x01 user");
	/* Retry-After only as information */
	assert_int_equal(webhook_classify(429, "HTTP/1.1 429 Too Many", "120",
					  "", 0, "u", why, sizeof(why)),
			 PROC_TEMP);
	assert_string_equal(why, "Webhook u: HTTP/1.1 429 Too Many "
				 "(Retry-After: 120)");
	/* no status line (HTTP/2 has no reason phrase either) */
	webhook_classify(503, NULL, NULL, NULL, 0, "u", why, sizeof(why));
	assert_string_equal(why, "Webhook u: HTTP 503");
	/* a long body is cut */
	{
		char big[5000];

		memset(big, 'a', sizeof(big));
		webhook_classify(500, "HTTP/1.1 500 X", "", big, sizeof(big),
				 "u", why, sizeof(why));
		assert_true(strlen(why) < 300);
		assert_non_null(strstr(why, "aaa..."));
	}
}

/* find - the n-th header line starting with name, or NULL */
static const char *find(const struct curl_slist *l, const char *name,
                        int nth)
{
	for (; l; l = l->next)
		if (!strncmp(l->data, name, strlen(name)) && nth-- == 0)
			return l->data;
	return NULL;
}

static void headers(void **state)
{
	char *d = tu_tmpdir(), ep[512];
	const char *rcpts[] = {"a@example.com", "\"b,c\"@example.com"};
	struct cfg *c = tu_cfg("{}");
	struct curl_slist *l;
	struct msg m;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	tu_entry(ep, "1764078600.M1P1Q1", "s@example.org", rcpts, 2, "x\r\n",
		 &m, c);
	l = webhook_headers(&m, 0, "Bearer t0ken");
	assert_non_null(l);
	assert_string_equal(find(l, "Content-Type", 0),
			    "Content-Type: message/rfc822");
	assert_string_equal(find(l, "Idempotency-Key", 0),
			    "Idempotency-Key: 1764078600.M1P1Q1");
	assert_string_equal(find(l, "X-Queue-Id", 0),
			    "X-Queue-Id: 1764078600.M1P1Q1");
	assert_string_equal(find(l, "X-Envelope-From", 0),
			    "X-Envelope-From: s@example.org");
	assert_string_equal(find(l, "X-Envelope-To", 0),
			    "X-Envelope-To: a@example.com");
	assert_string_equal(find(l, "X-Envelope-To", 1),
			    "X-Envelope-To: \"b,c\"@example.com");
	assert_null(find(l, "X-Envelope-To", 2));
	assert_string_equal(find(l, "X-Client-Ip", 0),
			    "X-Client-Ip: 192.0.2.1");
	assert_string_equal(find(l, "X-Helo", 0), "X-Helo: client.test");
	assert_string_equal(find(l, "Authorization", 0),
			    "Authorization: Bearer t0ken");
	assert_string_equal(find(l, "Expect", 0), "Expect:");
	curl_slist_free_all(l);
	tu_msg_free(&m);
	/* the null sender: an empty value (curl's "Name;"); no auth */
	tu_entry(ep, "1764078600.M1P1Q2", "", rcpts, 1, "x\r\n", &m, c);
	l = webhook_headers(&m, 1, NULL);
	assert_string_equal(find(l, "X-Envelope-From", 0), "X-Envelope-From;");
	assert_string_equal(find(l, "Content-Type", 0),
			    "Content-Type: application/json");
	assert_null(find(l, "Authorization", 0));
	curl_slist_free_all(l);
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void bodies(void **state)
{
	char *d = tu_tmpdir(), ep[512], *p, want[512];
	const char *rcpts[] = {"a@example.com"};
	struct cfg *c = tu_cfg("{}");
	const char *data;
	size_t len, dl;
	struct msg m;
	cJSON *j;
	(void)state;

	snprintf(ep, sizeof(ep), "%s/e", d);
	tu_entry(ep, "1764078600.M1P1Q1", "s@example.org", rcpts, 1,
		 "Subject: h\xc3\xa9\r\n\r\nbody\r\n", &m, c);
	p = webhook_body(&m, 0, &len);
	data = msg_data(&m, &dl);
	snprintf(want, sizeof(want), "Return-Path: <s@example.org>\r\n%s",
		 data);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
	free(p);
	p = webhook_body(&m, 1, &len);
	j = cJSON_Parse(p);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "queue_id")->valuestring,
			    "1764078600.M1P1Q1");
	assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring,
			    "s@example.org");
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItem(j, "recipients"), 0)
			->valuestring,
		"a@example.com");
	assert_string_equal(cJSON_GetObjectItem(j, "message")->valuestring,
			    want);
	assert_null(cJSON_GetObjectItem(j, "message_base64"));
	cJSON_Delete(j);
	free(p);
	tu_msg_free(&m);
	/* not UTF-8: base64 */
	tu_entry(ep, "1764078600.M1P1Q2", "s@example.org", rcpts, 1,
		 "Subject: h\xe9\r\n\r\nbody\r\n", &m, c);
	p = webhook_body(&m, 1, &len);
	j = cJSON_Parse(p);
	assert_non_null(j);
	assert_null(cJSON_GetObjectItem(j, "message"));
	assert_non_null(cJSON_GetObjectItem(j, "message_base64"));
	assert_int_equal(
		strlen(cJSON_GetObjectItem(j, "message_base64")->valuestring),
		(m.data_len + 30 + 2) / 3 * 4);
	cJSON_Delete(j);
	free(p);
	tu_msg_free(&m);
	cfg_free(c);
	tu_rm_rf(d);
	free(d);
}

static void text_ok(void **state)
{
	(void)state;
	assert_true(webhook_text_ok("", 0));
	assert_true(webhook_text_ok("plain\r\n", 7));
	assert_true(webhook_text_ok("h\xc3\xa9", 3));
	assert_true(webhook_text_ok("\xe2\x82\xac", 3));
	assert_true(webhook_text_ok("\xf0\x9f\x98\x80", 4));
	assert_false(webhook_text_ok("a\0b", 3));
	assert_false(webhook_text_ok("\xe9", 1));
	assert_false(webhook_text_ok("\xc3", 1));            /* cut */
	assert_false(webhook_text_ok("\xc0\xaf", 2));        /* overlong */
	assert_false(webhook_text_ok("\xe0\x80\xaf", 3));    /* overlong */
	assert_false(webhook_text_ok("\xed\xa0\x80", 3));    /* surrogate */
	assert_false(webhook_text_ok("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
	assert_false(webhook_text_ok("\xc3\x28", 2));
}

static void where(void **state)
{
	char out[300];
	(void)state;

	webhook_where("https://u:secret@h.example:8443/in?token=x#f", out,
		      sizeof(out));
	assert_string_equal(out, "https://h.example:8443/in");
	webhook_where("::", out, sizeof(out));
	assert_string_equal(out, "?");
}

static void init_refuses(void **state)
{
	static const struct tu_init_case cases[] = {
		{"{}", "webhook_url is empty"},
		{"{\"webhook_url\":\"ftp://h/\"}", "webhook_url: not an"},
		{"{\"webhook_url\":\"not a url\"}", "webhook_url: not an"},
		{"{\"webhook_url\":\"https://h/\",\"webhook_format\":\"xml\"}",
		 "webhook_format"},
		{"{\"webhook_url\":\"https://h/\","
		 "\"webhook_ca_file\":\"/nonexistent/ca.pem\"}",
		 "webhook_ca_file: /nonexistent/ca.pem"},
		{"{\"webhook_url\":\"https://h/\"}", NULL},
		{"{\"webhook_url\":\"http://127.0.0.1:1/x\","
		 "\"webhook_format\":\"json\"}", NULL},
	};
	(void)state;
	tu_init_cases(&proc_webhook, cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify),     cmocka_unit_test(headers),
		cmocka_unit_test(bodies),       cmocka_unit_test(text_ok),
		cmocka_unit_test(where),        cmocka_unit_test(init_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
