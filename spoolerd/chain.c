/*
 * chain.c - the save_process parser and the processor registry.
 *
 * go-guerrilla's syntax: names separated by '|', matched without regard
 * to case, run left to right; each processor can stop the chain with a
 * temporary or permanent failure. The seed's backend_name is mapped to
 * the chain it stood for, and go-guerrilla's monolithic GuerrillaDbRedis
 * (alias GuerrillaRedisDB) stands for the chain that does the same work:
 * HeadersParser|Header|Hasher|Compressor|Redis|SQL. Redis and MySQL key
 * their writes by the hash: a chain naming them without Hasher gets one
 * just before the first of them.
 */
#include "chain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct proc_ops *registry[] = {
	&proc_headersparser, &proc_header, &proc_hasher, &proc_debugger,
	&proc_maildir,       &proc_mbox,   &proc_compressor, &proc_redis,
	&proc_mysql,         &proc_sql,
	&proc_webhook,
	&proc_pipe,
	&proc_amqp,
};

/* go-guerrilla's monolithic processor, as the chain doing its work */
static const struct proc_ops *const gdbredis[] = {
	&proc_headersparser, &proc_header, &proc_hasher,
	&proc_compressor,    &proc_redis,  &proc_sql,
};

static int chain_has(const struct chain *ch, const struct proc_ops *p)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->p[i] == p)
			return 1;
	return 0;
}

#define DEFAULT_CHAIN "HeadersParser|Header|Hasher|Debugger|Maildir"

const char *chain_spec(const struct cfg *cfg)
{
	const char *bn = cfg->backend_name;

	if (cfg->backend.save_process && cfg->backend.save_process[0])
		return cfg->backend.save_process;
	if (bn && !strcasecmp(bn, "dummy"))
		return "HeadersParser|Header|Debugger";
	if (bn && (!strcasecmp(bn, "guerrilla-db-redis") ||
		   !strcasecmp(bn, "guerrilla-redis-db")))
		/* go-guerrilla's own chain for its old backend: the
		 * compressed message in Redis, a row in MySQL */
		return "HeadersParser|Header|Hasher|Compressor|Redis|SQL";
	return DEFAULT_CHAIN;
}

int chain_parse(const char *spec, struct chain *ch, char *err, size_t n)
{
	const char *p = spec;

	memset(ch, 0, sizeof(*ch));
	snprintf(ch->spec, sizeof(ch->spec), "%s", spec);
	for (;;) {
		const char *s, *e, *bar = strchr(p, '|');
		size_t len, i;
		const struct proc_ops *found = NULL;

		e = bar ? bar : p + strlen(p);
		s = p;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		len = (size_t)(e - s);
		if (len == 0) {
			snprintf(err, n, "empty processor name in \"%.100s\"",
				 spec);
			return -1;
		}
		for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
			if (strlen(registry[i]->name) == len &&
			    !strncasecmp(registry[i]->name, s, len))
				found = registry[i];
		if ((len == 16 && !strncasecmp(s, "guerrilladbredis", 16)) ||
		    (len == 16 && !strncasecmp(s, "guerrillaredisdb", 16))) {
			if (ch->n + 6 > CHAIN_MAX) {
				snprintf(err, n, "more than %d processors",
					 CHAIN_MAX);
				return -1;
			}
			for (i = 0; i < 6; i++)
				ch->p[ch->n++] = gdbredis[i];
			if (!bar)
				break;
			p = bar + 1;
			continue;
		}
		if (!found) {
			snprintf(err, n, "unknown processor \"%.*s\"",
				 (int)(len > 64 ? 64 : len), s);
			return -1;
		}
		if (!found->available) {
			snprintf(err, n,
				 "processor \"%s\" is not available in this "
				 "build",
				 found->name);
			return -1;
		}
		if (ch->n == CHAIN_MAX) {
			snprintf(err, n, "more than %d processors", CHAIN_MAX);
			return -1;
		}
		if ((found == &proc_redis || found == &proc_mysql ||
		     found == &proc_sql) &&
		    !chain_has(ch, &proc_hasher)) {
			/* go-guerrilla lets these run without a hash and
			 * stores under ""; here the hash is the key, so
			 * Hasher runs first even when not named */
			if (ch->n + 1 == CHAIN_MAX) {
				snprintf(err, n, "more than %d processors",
					 CHAIN_MAX);
				return -1;
			}
			ch->p[ch->n++] = &proc_hasher;
		}
		ch->p[ch->n++] = found;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

int chain_from_cfg(const struct cfg *cfg, struct chain *ch, char *err,
                   size_t n)
{
	const char *spec = chain_spec(cfg);
	const char *key = cfg->backend.save_process &&
				  cfg->backend.save_process[0]
			  ? "backend_config.save_process"
			  : "backend_name";
	char why[256];
	size_t i;

	if (chain_parse(spec, ch, why, sizeof(why)) < 0) {
		snprintf(err, n, "%s: %s", key, why);
		return -1;
	}
	for (i = 0; i < ch->n; i++) {
		void *st = NULL;

		if (!ch->p[i]->init)
			continue;
		if (ch->p[i]->init(cfg, &st, why, sizeof(why)) < 0) {
			snprintf(err, n, "%s: %s", ch->p[i]->name, why);
			return -1;
		}
		if (ch->p[i]->fini)
			ch->p[i]->fini(st);
	}
	return 0;
}

int chain_stores(const struct chain *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->p[i]->stores)
			return 1;
	return 0;
}

size_t chain_batch(const struct chain *ch, const struct cfg *cfg)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->p[i]->deliver_batch)
			return cfg->backend.sql_batch_size > 1
				       ? (size_t)cfg->backend.sql_batch_size
				       : 1;
	return 1;
}

int chain_check(const struct chain *ch, const struct cfg *cfg,
                void (*report)(void *arg, const char *name, int ok,
                               const char *text),
                void *arg)
{
	const struct proc_ops *done[CHAIN_MAX];
	size_t i, j, nd = 0;
	int bad = 0;

	for (i = 0; i < ch->n; i++) {
		char err[600];
		int dup = 0;

		if (!ch->p[i]->check)
			continue;
		/* MySQL and SQL are one store */
		for (j = 0; j < nd; j++)
			if (done[j]->check == ch->p[i]->check)
				dup = 1;
		if (dup)
			continue;
		done[nd++] = ch->p[i];
		err[0] = '\0';
		if (ch->p[i]->check(cfg, err, sizeof(err)) < 0) {
			bad++;
			report(arg, ch->p[i]->name, 0, err);
		} else {
			report(arg, ch->p[i]->name, 1, "");
		}
	}
	return bad;
}
