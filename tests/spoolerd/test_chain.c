/* test_chain.c - the save_process parser and backend_name mapping */
#include "testutil.h"
#include "chain.h"

static void parses_case_insensitive(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	assert_int_equal(chain_parse("headersparser| HEADER |Hasher|debugger"
				     "|MailDir|mbox",
				     &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 6);
	assert_ptr_equal(ch.p[0], &proc_headersparser);
	assert_ptr_equal(ch.p[1], &proc_header);
	assert_ptr_equal(ch.p[4], &proc_maildir);
	assert_ptr_equal(ch.p[5], &proc_mbox);
	assert_true(chain_stores(&ch));
	assert_int_equal(chain_parse("Debugger", &ch, err, sizeof(err)), 0);
	assert_false(chain_stores(&ch));
}

static void unknown_name_is_named(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	assert_int_equal(chain_parse("HeadersParser|Frobnicator|Maildir", &ch,
				     err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "Frobnicator"));
	assert_int_equal(chain_parse("Maildir||Mbox", &ch, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(chain_parse("", &ch, err, sizeof(err)), -1);
	assert_int_equal(chain_parse("Maildir|", &ch, err, sizeof(err)), -1);
	/* a name that is a prefix of a real one is not that one */
	assert_int_equal(chain_parse("Mail", &ch, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"Mail\""));
}

static void db_processors(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	/* Redis and MySQL key by the hash: Hasher is put before them */
	assert_int_equal(chain_parse("HeadersParser|redis", &ch, err,
				     sizeof(err)),
			 0);
	assert_int_equal(ch.n, 3);
	assert_ptr_equal(ch.p[1], &proc_hasher);
	assert_ptr_equal(ch.p[2], &proc_redis);
	assert_int_equal(chain_parse("Hasher|MySQL|SQL", &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 3);
	assert_int_equal(chain_parse("compressor", &ch, err, sizeof(err)), 0);
	/* go-guerrilla's monolith, under both its names */
	assert_int_equal(chain_parse("GuerrillaDbRedis", &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 6);
	assert_ptr_equal(ch.p[3], &proc_compressor);
	assert_ptr_equal(ch.p[5], &proc_sql);
	assert_int_equal(chain_parse("guerrillaredisdb|Debugger", &ch, err,
				     sizeof(err)),
			 0);
	assert_int_equal(ch.n, 7);
}

static void too_many(void **state)
{
	char spec[1024] = "Header";
	struct chain ch;
	char err[256];
	int i;
	(void)state;

	for (i = 0; i < CHAIN_MAX; i++)
		memcpy(spec + strlen(spec), "|Header", 8);
	assert_int_equal(chain_parse(spec, &ch, err, sizeof(err)), -1);
	assert_string_equal(err, "more than 16 processors");
	/* the six of GuerrillaDbRedis after 11 others */
	spec[0] = '\0';
	for (i = 0; i < 11; i++)
		memcpy(spec + strlen(spec), "Header|", 8);
	memcpy(spec + strlen(spec), "GuerrillaDbRedis", 17);
	err[0] = '\0';
	assert_int_equal(chain_parse(spec, &ch, err, sizeof(err)), -1);
	assert_string_equal(err, "more than 16 processors");
	/* 15 and Redis: no room left for the Hasher it needs */
	spec[0] = '\0';
	for (i = 0; i < 15; i++)
		memcpy(spec + strlen(spec), "Header|", 8);
	memcpy(spec + strlen(spec), "Redis", 6);
	err[0] = '\0';
	assert_int_equal(chain_parse(spec, &ch, err, sizeof(err)), -1);
	assert_string_equal(err, "more than 16 processors");
	/* 14 and Redis fit, with the Hasher */
	spec[0] = '\0';
	for (i = 0; i < 14; i++)
		memcpy(spec + strlen(spec), "Header|", 8);
	memcpy(spec + strlen(spec), "Redis", 6);
	assert_int_equal(chain_parse(spec, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.n, 16);
}

static void backend_name_mapping(void **state)
{
	struct cfg *c;
	struct chain ch;
	char err[256];
	(void)state;

	c = tu_cfg("{\"backend_name\":\"dummy\"}");
	assert_string_equal(chain_spec(c), "HeadersParser|Header|Debugger");
	assert_int_equal(chain_from_cfg(c, &ch, err, sizeof(err)), 0);
	cfg_free(c);
	c = tu_cfg("{\"backend_name\":\"Guerrilla-Redis-DB\"}");
	assert_string_equal(chain_spec(c),
			    "HeadersParser|Header|Hasher|Compressor|Redis|SQL");
	cfg_free(c);
	c = tu_cfg("{\"backend_name\":\"guerrilla-db-redis\"}");
	assert_int_equal(chain_from_cfg(c, &ch, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SQL"));
	assert_non_null(strstr(err, "mysql_db"));
	cfg_free(c);
	/* the seed's keys are enough; nothing connects at parse time */
	c = tu_cfg("{\"backend_name\":\"guerrilla-db-redis\","
		   "\"backend_config\":{\"mysql_db\":\"gmail_mail\","
		   "\"mysql_host\":\"127.0.0.1:1\"}}");
	assert_int_equal(chain_from_cfg(c, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.n, 6);
	assert_int_equal(chain_batch(&ch, c), 50);
	cfg_free(c);
	/* save_process wins over backend_name */
	c = tu_cfg("{\"backend_name\":\"dummy\",\"backend_config\":"
		   "{\"save_process\":\"Maildir\"}}");
	assert_string_equal(chain_spec(c), "Maildir");
	cfg_free(c);
	c = tu_cfg("{}");
	assert_non_null(strstr(chain_spec(c), "Maildir"));
	cfg_free(c);
	/* the processors' own settings are checked by chain_from_cfg */
	c = tu_cfg("{\"backend_config\":{\"save_process\":\"Maildir\","
		   "\"maildir_path\":\"/x/{nope}\"}}");
	assert_int_equal(chain_from_cfg(c, &ch, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "maildir_path"));
	cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_case_insensitive),
		cmocka_unit_test(unknown_name_is_named),
		cmocka_unit_test(db_processors),
		cmocka_unit_test(too_many),
		cmocka_unit_test(backend_name_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
