/* test_sql.c - the SQL processor's pure parts: DSN forms, the seed's
 * keys, error classes, header addresses, UTF-8 cutting; and the stored
 * payload, plain and zlib-compressed (Compressor) */
#include "testutil.h"
#include "sql.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <zlib.h>

static void dsn_forms(void **state)
{
	struct sql_dsn d;
	char err[256];
	(void)state;

	assert_int_equal(sql_dsn_parse("gg:s3cr:t@tcp(10.0.0.5:3307)/gmail?"
				       "charset=latin1,utf8&parseTime=true",
				       &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.user, "gg");
	assert_string_equal(d.pass, "s3cr:t");
	assert_string_equal(d.host, "10.0.0.5");
	assert_int_equal(d.port, 3307);
	assert_string_equal(d.db, "gmail");
	assert_string_equal(d.charset, "latin1");
	assert_string_equal(d.sock, "");
	assert_int_equal(sql_dsn_parse("root@unix(/run/mysqld/mysqld.sock)/m",
				       &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.sock, "/run/mysqld/mysqld.sock");
	assert_string_equal(d.user, "root");
	assert_string_equal(d.pass, "");
	assert_string_equal(d.db, "m");
	/* a password with '@' and '/' in it: the last '@' ends it */
	assert_int_equal(sql_dsn_parse("u:a@b/c@tcp(db)/x", &d, err,
				       sizeof(err)),
			 0);
	assert_string_equal(d.pass, "a@b/c");
	assert_string_equal(d.host, "db");
	assert_int_equal(d.port, 3306);
	assert_int_equal(sql_dsn_parse("u@/x", &d, err, sizeof(err)), 0);
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(sql_dsn_parse("u@tcp([::1]:3308)/x", &d, err,
				       sizeof(err)),
			 0);
	assert_string_equal(d.host, "::1");
	assert_int_equal(d.port, 3308);
	assert_int_equal(sql_dsn_parse("u@tcp(:3309)/x", &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(d.port, 3309);
	assert_int_equal(sql_dsn_parse("u@tcp([::1])/x", &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.host, "::1");
	assert_int_equal(d.port, 3306);
	assert_int_equal(sql_dsn_parse("u@tcp(h:0)/x", &d, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "sql_dsn: address \"h:0\": port is not a "
				 "number from 1 to 65535");
	assert_int_equal(sql_dsn_parse("u@tcp(h:99999999999999999999)/x", &d,
				       err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "1 to 65535"));
	/* once accepted as ::1 port 3306, the junk unread */
	assert_int_equal(sql_dsn_parse("u@tcp([::1]3307)/x", &d, err,
				       sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "junk after ']'"));
	assert_int_equal(sql_dsn_parse("u@tcp([::1)/x", &d, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "without ']'"));
	assert_int_equal(sql_dsn_parse("u@udp(h)/x", &d, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "udp"));
	assert_int_equal(sql_dsn_parse("u@tcp(h)", &d, err, sizeof(err)), -1);
}

static void seed_keys(void **state)
{
	struct cfg *c = tu_cfg("{\"backend_config\":{\"mysql_host\":"
			       "\"db.example:3310\",\"mysql_user\":\"gm\","
			       "\"mysql_pass\":\"pw\",\"mysql_db\":\"gmail\"}}");
	struct sql_dsn d;
	char err[256], where[300];
	(void)state;

	assert_int_equal(sql_dsn_from_cfg(&c->backend, &d, err, sizeof(err)),
			 0);
	assert_string_equal(d.host, "db.example");
	assert_int_equal(d.port, 3310);
	assert_string_equal(d.pass, "pw");
	sql_dsn_where(&d, where, sizeof(where));
	assert_string_equal(where, "gm@db.example:3310/gmail");
	assert_null(strstr(where, "pw"));
	cfg_free(c);
	c = tu_cfg("{\"backend_config\":{\"sql_driver\":\"postgres\","
		   "\"sql_dsn\":\"u@/x\"}}");
	assert_int_equal(sql_dsn_from_cfg(&c->backend, &d, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "sql_driver"));
	cfg_free(c);
	c = tu_cfg("{\"backend_config\":{\"mysql_host\":\"db:3306x\","
		   "\"mysql_db\":\"m\"}}");
	assert_int_equal(sql_dsn_from_cfg(&c->backend, &d, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "mysql_host: address \"db:3306x\": port is "
				 "not a number from 1 to 65535");
	cfg_free(c);
}

static void classes(void **state)
{
	(void)state;
	assert_int_equal(sql_classify(CR_CONNECTION_ERROR), SQL_E_CONN);
	assert_int_equal(sql_classify(CR_SERVER_GONE_ERROR), SQL_E_CONN);
	assert_int_equal(sql_classify(ER_ACCESS_DENIED_ERROR), SQL_E_CONN);
	assert_int_equal(sql_classify(ER_NO_SUCH_TABLE), SQL_E_SCHEMA);
	assert_int_equal(sql_classify(ER_BAD_FIELD_ERROR), SQL_E_SCHEMA);
	assert_int_equal(sql_classify(ER_DATA_TOO_LONG), SQL_E_DATA);
	assert_int_equal(sql_classify(ER_DUP_ENTRY), SQL_E_DUP);
	assert_int_equal(sql_classify(ER_LOCK_DEADLOCK), SQL_E_TEMP);
	assert_int_equal(sql_classify(ER_DISK_FULL), SQL_E_TEMP);
	assert_int_equal(sql_classify(99999), SQL_E_TEMP);
}

static void addrs_and_text(void **state)
{
	char out[256];
	(void)state;

	sql_addr("Alice Example <alice@example.org>", out, sizeof(out));
	assert_string_equal(out, "alice@example.org");
	sql_addr("  bob@example.com (Bob)", out, sizeof(out));
	assert_string_equal(out, "bob@example.com");
	sql_addr("<id.123@mx.test>", out, sizeof(out));
	assert_string_equal(out, "id.123@mx.test");
	sql_addr("undisclosed-recipients:;", out, sizeof(out));
	assert_string_equal(out, "");
	sql_addr(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* invalid bytes become '?', a character is never cut */
	assert_int_equal(sql_text("a\xff" "b", out, 255), 3);
	assert_string_equal(out, "a?b");
	assert_int_equal(sql_text("\xc3\xa9\xc3\xa9", out, 3), 2);
	assert_string_equal(out, "\xc3\xa9");
	assert_int_equal(sql_text("  x\ty  ", out, 255), 3);
	assert_string_equal(out, "x y");
	assert_true(sql_ident_ok("new_mail"));
	assert_true(sql_ident_ok("gmail.new_mail"));
	assert_false(sql_ident_ok("new_mail; DROP"));
	assert_false(sql_ident_ok("a..b"));
	assert_false(sql_ident_ok("`x`"));
}

static void payload(void **state)
{
	const char *rc[] = {"u1@example.com", "u2@example.com"};
	char *dir = tu_tmpdir(), path[256], *p, *plain, out[4096];
	struct msg m;
	struct msg_zbody zb = {.level = 6};
	size_t len, plen;
	uLongf olen = sizeof(out);
	(void)state;

	snprintf(path, sizeof(path), "%s/e", dir);
	tu_entry(path, "1764078600.M1P1Q1", "s@example.org", rc, 2,
		 "Subject: hi\r\n\r\nbody\r\n", &m, NULL);
	plain = msg_payload(&m, 1, &plen);
	assert_non_null(plain);
	assert_memory_equal(plain, "Return-Path: <s@example.org>\r\n"
			    "Delivered-To: u2@example.com\r\nReceived: ", 70);
	assert_memory_equal(plain + plen - 21, "Subject: hi\r\n\r\nbody\r\n",
			    21);
	msg_provide(&m, PROV_COMPRESSED, &zb); /* as Compressor does */
	p = msg_payload(&m, 1, &len);
	assert_non_null(p);
	/* a zlib stream (RFC 1950), as go-guerrilla's compress/zlib */
	assert_int_equal((unsigned char)p[0], 0x78);
	assert_int_equal(uncompress((Bytef *)out, &olen, (Bytef *)p, len),
			 Z_OK);
	assert_int_equal(olen, plen);
	assert_memory_equal(out, plain, plen);
	free(p);
	free(plain);
	tu_msg_free(&m);
	free(zb.z);
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dsn_forms),
		cmocka_unit_test(seed_keys),
		cmocka_unit_test(classes),
		cmocka_unit_test(addrs_and_text),
		cmocka_unit_test(payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
