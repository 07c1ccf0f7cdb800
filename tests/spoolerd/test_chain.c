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

/* the insertion of an autoprovider is said, once per insertion */
static void inserted_is_noted(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	assert_int_equal(chain_parse("HeadersParser|Redis", &ch, err,
				     sizeof(err)),
			 0);
	assert_string_equal(ch.inserted,
			    "Hasher inserted before Redis (it needs a hash)");
	/* one Hasher serves every later need */
	assert_int_equal(chain_parse("MySQL|Redis|SQL", &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 4);
	assert_ptr_equal(ch.p[0], &proc_hasher);
	assert_string_equal(ch.inserted,
			    "Hasher inserted before MySQL (it needs a hash)");
	/* named before: nothing inserted, nothing said */
	assert_int_equal(chain_parse("Hasher|Redis", &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.inserted, "");
	/* named after is too late: inserted before, as go-guerrilla
	 * configs expect, and the named one still runs */
	assert_int_equal(chain_parse("Redis|Hasher", &ch, err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 3);
	assert_ptr_equal(ch.p[0], &proc_hasher);
	assert_ptr_equal(ch.p[2], &proc_hasher);
	assert_int_equal(chain_parse("GuerrillaDbRedis", &ch, err,
				     sizeof(err)),
			 0);
	assert_string_equal(ch.inserted, "");
}

/* test processors: only their declarations matter to chain_parse */
static enum proc_res t_deliver(void *st, struct msg *m, char *why, size_t n)
{
	(void)st;
	(void)m;
	(void)why;
	(void)n;
	return PROC_OK;
}

static const struct proc_ops t_zipper = {
	.name = "Zipper", .available = 1, .deliver = t_deliver,
	.provides = PROV_COMPRESSED};
static const struct proc_ops t_needy = {
	.name = "Needy", .available = 1, .deliver = t_deliver,
	.needs = PROV_COMPRESSED};
static const struct proc_ops t_lonely = {
	.name = "Lonely", .available = 1, .deliver = t_deliver,
	.needs = PROV_REDIS};
static const struct proc_ops t_parser = {
	.name = "Parser", .available = 1, .deliver = t_deliver,
	.provides = PROV_HEADERS, .autoprovides = PROV_HEADERS};
static const struct proc_ops t_hash = {
	.name = "Hash", .available = 1, .deliver = t_deliver,
	.needs = PROV_HEADERS, .provides = PROV_HASH,
	.autoprovides = PROV_HASH};
static const struct proc_ops t_store = {
	.name = "Store", .available = 1, .stores = 1, .deliver = t_deliver,
	.needs = PROV_HASH};
static const struct proc_ops t_loop = {
	.name = "Loop", .available = 1, .deliver = t_deliver,
	.needs = PROV_HEAD, .provides = PROV_HEAD, .autoprovides = PROV_HEAD};
static const struct proc_ops t_gone = {
	.name = "Gone", .available = 0, .deliver = t_deliver,
	.provides = PROV_REDIS, .autoprovides = PROV_REDIS};
static const struct proc_ops *const t_reg[] = {
	&t_zipper, &t_needy, &t_lonely, &t_parser, &t_hash, &t_store, &t_loop,
	&t_gone,
};
#define T_NREG (sizeof(t_reg) / sizeof(t_reg[0]))

/* a need nobody autoprovides is an error naming the processor, what it
 * lacks and who provides it */
static void needs_are_checked(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	assert_int_equal(chain_parse_with("Zipper|Needy", t_reg, T_NREG, &ch,
					  err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 2);
	err[0] = '\0';
	assert_int_equal(chain_parse_with("Needy|Zipper", t_reg, T_NREG, &ch,
					  err, sizeof(err)),
			 -1);
	assert_string_equal(err, "processor \"Needy\" needs a compressed "
				 "payload: put Zipper before it");
	err[0] = '\0';
	assert_int_equal(chain_parse_with("needy", t_reg, T_NREG, &ch, err,
					  sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "\"Needy\" needs a compressed payload"));
	/* nobody (available) provides it at all */
	err[0] = '\0';
	assert_int_equal(chain_parse_with("Zipper|Lonely", t_reg, T_NREG, &ch,
					  err, sizeof(err)),
			 -1);
	assert_string_equal(err, "processor \"Lonely\" needs the copies in "
				 "Redis, which no processor of this build "
				 "provides");
	/* an autoprovider that needs itself ends in an error, not a loop */
	err[0] = '\0';
	assert_int_equal(chain_parse_with("Loop", t_reg, T_NREG, &ch, err,
					  sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "\"Loop\" needs delivery headers"));
}

/* an autoprovider's own needs are met the same way, in order */
static void autoprovided_in_order(void **state)
{
	struct chain ch;
	char err[256];
	(void)state;

	assert_int_equal(chain_parse_with("Store", t_reg, T_NREG, &ch, err,
					  sizeof(err)),
			 0);
	assert_int_equal(ch.n, 3);
	assert_ptr_equal(ch.p[0], &t_parser);
	assert_ptr_equal(ch.p[1], &t_hash);
	assert_ptr_equal(ch.p[2], &t_store);
	assert_string_equal(ch.inserted,
			    "Parser inserted before Hash (it needs parsed "
			    "headers); Hash inserted before Store (it needs a "
			    "hash)");
	assert_int_equal(chain_parse_with("Parser|Store", t_reg, T_NREG, &ch,
					  err, sizeof(err)),
			 0);
	assert_int_equal(ch.n, 3);
	assert_string_equal(ch.inserted,
			    "Hash inserted before Store (it needs a hash)");
	/* the monolith's name is the real registry's only */
	assert_int_equal(chain_parse_with("GuerrillaDbRedis", t_reg, T_NREG,
					  &ch, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "unknown processor"));
}

/* every processor of the registry can run with what it needs met */
static void registry_is_consistent(void **state)
{
	static const struct proc_ops *const reg[] = {
#define PROC(sym) &sym,
#include "processors.def"
#undef PROC
	};
	struct chain ch;
	char err[256];
	size_t i, j;
	(void)state;

	for (i = 0; i < sizeof(reg) / sizeof(reg[0]); i++) {
		if (!reg[i]->available)
			continue;
		assert_int_equal(chain_parse(reg[i]->name, &ch, err,
					     sizeof(err)),
				 0);
		assert_ptr_equal(ch.p[ch.n - 1], reg[i]);
		for (j = i + 1; j < sizeof(reg) / sizeof(reg[0]); j++)
			assert_true(strcasecmp(reg[i]->name, reg[j]->name));
	}
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
		cmocka_unit_test(inserted_is_noted),
		cmocka_unit_test(needs_are_checked),
		cmocka_unit_test(autoprovided_in_order),
		cmocka_unit_test(registry_is_consistent),
		cmocka_unit_test(backend_name_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
