/* test_tls.c - go-guerrilla's tls keys mapped onto GnuTLS priority
 * strings (tls_priority is pure), and --check-config's TLS checks
 * (tls_check, which loads GnuTLS) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tls.h"

static void prio(const char *json, char *out, size_t size, char *err,
                 int want)
{
	struct cfg *c = cfg_load_buf(json, NULL, NULL);

	assert_non_null(c);
	assert_int_equal(tls_priority(&c->servers[0].tls, out, size, err, 160),
			 want);
	cfg_free(c);
}

static void test_default_is_fs_aead_tls12_13(void **state)
{
	char out[1024], err[160];

	(void)state;
	prio("{}", out, sizeof(out), err, 0);
	assert_string_equal(out, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
				 ":-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM"
				 ":+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL"
				 ":+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL"
				 ":+GROUP-X25519:+GROUP-SECP256R1"
				 ":+GROUP-SECP384R1:+GROUP-SECP521R1"
				 ":+GROUP-X448:+GROUP-FFDHE2048"
				 ":+GROUP-FFDHE3072:+GROUP-FFDHE4096"
				 ":+GROUP-FFDHE6144:+GROUP-FFDHE8192"
				 ":%SERVER_PRECEDENCE");
}

static void test_goguerrilla_keys(void **state)
{
	char out[1024], err[160];

	(void)state;
	prio("{\"servers\":[{\"tls\":{\"protocols\":[\"tls1.0\",\"tls1.2\"],"
	     "\"ciphers\":[\"TLS_FALLBACK_SCSV\","
	     "\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\","
	     "\"TLS_RSA_WITH_AES_128_CBC_SHA\"],"
	     "\"curves\":[\"P256\",\"X25519\"]}}]}",
	     out, sizeof(out), err, 0);
	assert_string_equal(
		out, "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0"
		     ":-CIPHER-ALL:-MAC-ALL:-KX-ALL:+ECDHE-RSA:+AES-128-GCM"
		     ":+AEAD:+RSA:+AES-128-CBC:+SHA1:-GROUP-ALL"
		     ":+GROUP-SECP256R1:+GROUP-X25519:%SERVER_PRECEDENCE");
	prio("{\"servers\":[{\"tls\":{\"priority\":\"SECURE256\"}}]}", out,
	     sizeof(out), err, 0);
	assert_string_equal(out, "SECURE256");
}

static void test_errors_name_the_key(void **state)
{
	char out[1024], err[160];

	(void)state;
	prio("{\"servers\":[{\"tls\":{\"protocols\":[\"tls1.2\","
	     "\"tls9\"]}}]}",
	     out, sizeof(out), err, -1);
	assert_non_null(strstr(err, "protocols[1]"));
	prio("{\"servers\":[{\"tls\":{\"ciphers\":["
	     "\"TLS_ECDHE_RSA_WITH_MADE_UP_SUITE\"]}}]}",
	     out, sizeof(out), err, -1);
	assert_non_null(strstr(err, "ciphers[0]"));
	prio("{\"servers\":[{\"tls\":{\"curves\":[\"P256\",\"B163\"]}}]}",
	     out, sizeof(out), err, -1);
	assert_non_null(strstr(err, "curves[1]"));
	/* a buffer too small is an error, never a cut string */
	prio("{}", out, 40, err, -1);
}

/* test_every_size - each buffer size short of the whole string fails
 * with "too long", at every place the string grows; the exact size works */
static void test_every_size(void **state)
{
	static const char *cfgs[] = {
	    "{}",
	    "{\"servers\":[{\"tls\":{\"protocols\":[],"
	    "\"ciphers\":[\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\","
	    "\"TLS_RSA_WITH_AES_128_CBC_SHA\"],"
	    "\"curves\":[\"P256\",\"X25519\"]}}]}",
	    "{\"servers\":[{\"tls\":{\"priority\":\"SECURE256:-VERS-ALL\"}}]}",
	};
	char out[1024], err[160];
	size_t i, size, full;

	(void)state;
	for (i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		prio(cfgs[i], out, sizeof(out), err, 0);
		full = strlen(out) + 1;
		for (size = 1; size < full; size++) {
			prio(cfgs[i], out, size, err, -1);
			if (!strstr(err, "too long") &&
			    !strstr(err, "longer than"))
				fail_msg("size %zu: \"%s\"", size, err);
		}
		prio(cfgs[i], out, full, err, 0);
	}
	/* an empty protocols list is the default pair */
	prio(cfgs[1], out, sizeof(out), err, 0);
	assert_non_null(strstr(out, ":-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-"));
	assert_non_null(strstr(out, ":+AES-256-GCM:+AES-128-GCM"
				    ":+CHACHA20-POLY1305:+AEAD:+ECDHE-RSA"));
}

struct diags {
	char text[2048];
	int errors, warnings;
};

static void collect(void *arg, int is_error, const char *msg)
{
	struct diags *d = arg;
	size_t n = strlen(d->text);

	snprintf(d->text + n, sizeof(d->text) - n, "%s\n", msg);
	if (is_error)
		d->errors++;
	else
		d->warnings++;
}

/* check - tls_check of servers[0] of json: its result and diagnostics */
static int check(const char *json, struct diags *d)
{
	struct cfg *c = cfg_load_buf(json, NULL, NULL);
	int r;

	assert_non_null(c);
	memset(d, 0, sizeof(*d));
	r = tls_check(&c->servers[0], "servers[0].tls", collect, d);
	cfg_free(c);
	return r;
}

static void test_check(void **state)
{
	struct diags d;

	(void)state;
	/* TLS off: nothing to check */
	assert_int_equal(check("{}", &d), 0);
	assert_int_equal(d.errors + d.warnings, 0);
	/* STARTTLS on without a certificate: only not offered */
	assert_int_equal(check("{\"servers\":[{\"tls\":{\"start_tls_on\":"
			       "true}}]}",
			       &d),
			 0);
	assert_int_equal(d.warnings, 1);
	assert_non_null(strstr(d.text, "servers[0].tls.public_key_file: TLS "
				       "is on but no certificate"));
	/* implicit TLS without one cannot work */
	assert_int_equal(check("{\"servers\":[{\"tls\":{\"tls_always_on\":"
			       "true}}]}",
			       &d),
			 1);
	assert_int_equal(d.errors, 1);
	/* a bad protocol name */
	assert_int_equal(check("{\"servers\":[{\"tls\":{\"start_tls_on\":"
			       "true,\"public_key_file\":\"/nonexistent.pem\","
			       "\"private_key_file\":\"/nonexistent.key\","
			       "\"protocols\":[\"ssl3\"]}}]}",
			       &d),
			 1);
	assert_non_null(strstr(d.text, "servers[0].tls.protocols[0]: unknown"));
	/* GnuTLS refuses the priority string, and the files are missing:
	 * both reported */
	assert_int_equal(check("{\"servers\":[{\"tls\":{\"start_tls_on\":"
			       "true,\"public_key_file\":\"/nonexistent.pem\","
			       "\"private_key_file\":\"/nonexistent.key\","
			       "\"priority\":\"NORMAL:+BOGUS\"}}]}",
			       &d),
			 2);
	assert_int_equal(d.errors, 2);
	assert_non_null(strstr(d.text, "servers[0].tls.priority: GnuTLS "
				       "refuses \"NORMAL:+BOGUS\" near "
				       "\"+BOGUS\""));
	assert_non_null(strstr(d.text, "servers[0].tls.public_key_file: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_fs_aead_tls12_13),
		cmocka_unit_test(test_goguerrilla_keys),
		cmocka_unit_test(test_errors_name_the_key),
		cmocka_unit_test(test_every_size),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
