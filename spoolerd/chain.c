/*
 * chain.c - the save_process parser and the processor registry.
 *
 * go-guerrilla's syntax: names separated by '|', matched without regard
 * to case, run left to right; each processor can stop the chain with a
 * temporary or permanent failure. The seed's backend_name is mapped to
 * the chain it stood for. Names of processors that later issues add
 * (Redis, MySQL, ...) are known but refused here with "not available in
 * this build", so a config written for them fails loudly, never silently
 * drops mail.
 */
#include "chain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* known but not built yet: config error when named */
#define UNAVAILABLE(sym, nm)                                                \
	static const struct proc_ops sym = {nm, 0, 1, NULL, NULL, NULL}
UNAVAILABLE(proc_compressor, "Compressor");
UNAVAILABLE(proc_redis, "Redis");
UNAVAILABLE(proc_mysql, "MySQL");
UNAVAILABLE(proc_sql, "SQL");
UNAVAILABLE(proc_gredisdb, "GuerrillaRedisDB");
UNAVAILABLE(proc_gdbredis, "GuerrillaDbRedis");

static const struct proc_ops *registry[] = {
	&proc_headersparser, &proc_header, &proc_hasher, &proc_debugger,
	&proc_maildir,       &proc_mbox,   &proc_compressor, &proc_redis,
	&proc_mysql,         &proc_sql,    &proc_gredisdb,  &proc_gdbredis,
};

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
		/* go-guerrilla's alias for its own redis+db processor */
		if (!found && len == 16 && !strncasecmp(s, "guerrillaredisdb", 16))
			found = &proc_gredisdb;
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
