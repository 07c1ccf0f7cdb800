/*
 * fuzz_cfg.c - libFuzzer harness for the config loader (common/cfg.c).
 *
 * Input: a config file. cfg_load_buf must refuse it (with at least one
 * error through diag) or load it; a loaded config is dumped, the dump
 * must load again without an error or a warning, and its dump must be
 * the same text (what --check-config prints is a config that means the
 * same). The lookups a session makes (cfg_host_allowed,
 * cfg_server_pick) run on every loaded config.
 */
#include "cfg.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

struct count {
	int errors, warnings;
};

static void diag(void *arg, int is_error, const char *msg)
{
	struct count *c = arg;

	CHECK(strlen(msg) < 512);
	if (is_error)
		c->errors++;
	else
		c->warnings++;
}

static void lookups(const struct cfg *c)
{
	static const char *hosts[] = {"example.com", "a.example.com", "", ".",
				      "EXAMPLE.COM.", "*", "x"};
	enum cfg_pick why;
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		(void)cfg_host_allowed(c, hosts[i], strlen(hosts[i]));
	(void)cfg_server_pick(c, "127.0.0.1", 2525, NULL, &why);
	(void)cfg_server_pick(c, "::1", 25, NULL, &why);
	(void)cfg_server_pick(c, NULL, 0, "mx", &why);
	CHECK(c->nservers >= 1);
	for (i = 0; i < c->nservers; i++) {
		CHECK(c->servers[i].host_name && c->servers[i].listen_interface);
		CHECK(c->servers[i].max_line_length >= 512);
	}
	CHECK(c->spool_dir && c->spool_dir[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct count n1 = {0, 0}, n2 = {0, 0};
	char *text = malloc(size + 1), *d1, *d2;
	struct cfg *c, *c2;

	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	c = cfg_load_buf(text, diag, &n1);
	free(text);
	if (!c) {
		CHECK(n1.errors > 0);
		return 0;
	}
	CHECK(n1.errors == 0);
	lookups(c);
	d1 = cfg_dump(c);
	CHECK(d1);
	c2 = cfg_load_buf(d1, diag, &n2);
	if (!c2 || n2.errors || n2.warnings) {
		fprintf(stderr, "dump does not load back:\n%s\n", d1);
		CHECK(0);
	}
	d2 = cfg_dump(c2);
	CHECK(d2);
	if (strcmp(d1, d2)) {
		fprintf(stderr, "dump 1:\n%s\ndump 2:\n%s\n", d1, d2);
		CHECK(0);
	}
	free(d1);
	free(d2);
	cfg_free(c2);
	cfg_free(c);
	return 0;
}
