/* test_tls.c - go-guerrilla's tls keys mapped onto GnuTLS priority
 * strings (tls_priority is pure; GnuTLS itself is not loaded here) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
				 ":+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE");
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
	     "\"TLS_RSA_WITH_RC4_128_SHA\"]}}]}",
	     out, sizeof(out), err, -1);
	assert_non_null(strstr(err, "ciphers[0]"));
	prio("{\"servers\":[{\"tls\":{\"curves\":[\"P256\",\"B163\"]}}]}",
	     out, sizeof(out), err, -1);
	assert_non_null(strstr(err, "curves[1]"));
	/* a buffer too small is an error, never a cut string */
	prio("{}", out, 40, err, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_fs_aead_tls12_13),
		cmocka_unit_test(test_goguerrilla_keys),
		cmocka_unit_test(test_errors_name_the_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
