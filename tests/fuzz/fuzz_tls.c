/*
 * fuzz_tls.c - libFuzzer harness for tls_priority (smtpd-session/tls.c):
 * go-guerrilla's protocols / ciphers / curves keys, or our priority key,
 * to a GnuTLS priority string.
 *
 * Input: a config file (cfg_load_buf). For every servers[] entry the
 * string is built in a buffer as big as the session's (1024). Checked:
 * a failure names its key; a success is NUL-terminated, is the priority
 * key exactly when that is set (never a cut copy), and otherwise is a
 * string GnuTLS parses (it may still find no usable version or suite
 * in it: that is the admin's choice, reported by --check-config).
 */
#include "cfg.h"
#include "fuzz.h"
#include "tls.h"

#include <gnutls/gnutls.h>
#include <stdint.h>
#include <string.h>

#define PRIO_SIZE 1024 /* prio[] in tls.c */

static void check(const struct cfg_tls *t)
{
	char out[PRIO_SIZE + 1], err[160];
	gnutls_priority_t pr;
	const char *pos = NULL;
	int ret;

	out[PRIO_SIZE] = 'X'; /* canary: nothing written past size */
	if (tls_priority(t, out, PRIO_SIZE, err, sizeof(err)) < 0) {
		CHECK(out[PRIO_SIZE] == 'X');
		CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		return;
	}
	CHECK(out[PRIO_SIZE] == 'X');
	CHECK(memchr(out, '\0', PRIO_SIZE));
	if (t->priority) {
		CHECK(!strcmp(out, t->priority));
		return;
	}
	ret = gnutls_priority_init(&pr, out, &pos);
	/* a list that leaves nothing this GnuTLS offers (only ssl3.0, say)
	 * is the admin's error, and --check-config reports it; a name
	 * GnuTLS does not know is ours */
	if (ret < 0 && ret != GNUTLS_E_NO_PRIORITIES_WERE_SET) {
		fprintf(stderr, "GnuTLS refuses \"%s\" near \"%s\": %s\n",
			out, pos ? pos : "", gnutls_strerror(ret));
		CHECK(0);
	}
	if (ret == 0)
		gnutls_priority_deinit(pr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct cfg *c;
	size_t i;

	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	c = cfg_load_buf(text, NULL, NULL);
	free(text);
	if (!c)
		return 0;
	for (i = 0; i < c->nservers; i++)
		check(&c->servers[i].tls);
	cfg_free(c);
	return 0;
}
