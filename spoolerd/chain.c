/*
 * chain.c - the save_process parser and the processor registry.
 *
 * go-guerrilla's syntax: names separated by '|', matched without regard
 * to case, run left to right; each processor can stop the chain with a
 * temporary or permanent failure. The seed's backend_name is mapped to
 * the chain it stood for, and go-guerrilla's monolithic GuerrillaDbRedis
 * (alias GuerrillaRedisDB) stands for the chain that does the same work:
 * HeadersParser|Header|Hasher|Compressor|Redis|SQL.
 *
 * The registry is processors.def. Each processor declares what it needs
 * from processors to its left and what it provides (PROV_*); a need not
 * provided is an error naming the processor, unless a processor declares
 * that it autoprovides it: that one is inserted just before, and the
 * insertion is noted for the logs (Redis and MySQL key their writes by
 * the hash, and go-guerrilla configs name them without Hasher).
 */
#include "chain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct proc_ops *const registry[] = {
#define PROC(sym) &sym,
#include "processors.def"
#undef PROC
};

/* go-guerrilla's monolithic processor, as the chain doing its work */
static const struct proc_ops *const gdbredis[] = {
	&proc_headersparser, &proc_header, &proc_hasher,
	&proc_compressor,    &proc_redis,  &proc_sql,
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

/* note_add - one more entry of ch->inserted */
static void note_add(struct chain *ch, const struct proc_ops *ins,
                     const struct proc_ops *p, unsigned what)
{
	size_t used = strlen(ch->inserted);

	snprintf(ch->inserted + used, sizeof(ch->inserted) - used,
		 "%s%s inserted before %s (it needs %s)", used ? "; " : "",
		 ins->name, p->name, prov_name(what));
}

/* chain_add - append p, after the processors its missing needs get
 * inserted for; 0 or -1 with err */
static int chain_add(struct chain *ch, const struct proc_ops *p,
                     const struct proc_ops *const *reg, size_t nreg,
                     int depth, char *err, size_t n)
{
	unsigned have = 0, miss, bit;
	size_t i, b;

	for (i = 0; i < ch->n; i++)
		have |= ch->p[i]->provides;
	miss = p->needs & ~have;
	for (b = 0; b < PROV_N && miss; b++) {
		const struct proc_ops *ins = NULL, *hint = NULL;

		bit = 1u << b;
		if (!(miss & bit))
			continue;
		for (i = 0; i < nreg && !ins; i++)
			if (reg[i]->available && (reg[i]->autoprovides & bit))
				ins = reg[i];
		for (i = 0; i < nreg && !hint; i++)
			if (reg[i]->available && (reg[i]->provides & bit))
				hint = reg[i];
		if (!ins || depth > 3) {
			if (hint)
				snprintf(err, n, "processor \"%s\" needs %s: "
					 "put %s before it", p->name,
					 prov_name(bit), hint->name);
			else
				snprintf(err, n, "processor \"%s\" needs %s, "
					 "which no processor of this build "
					 "provides", p->name, prov_name(bit));
			return -1;
		}
		if (chain_add(ch, ins, reg, nreg, depth + 1, err, n) < 0)
			return -1;
		note_add(ch, ins, p, bit);
		for (i = 0; i < ch->n; i++)
			have |= ch->p[i]->provides;
		miss &= ~have;
	}
	if (ch->n == CHAIN_MAX) {
		snprintf(err, n, "more than %d processors", CHAIN_MAX);
		return -1;
	}
	ch->p[ch->n++] = p;
	return 0;
}

int chain_parse_with(const char *spec, const struct proc_ops *const *reg,
                     size_t nreg, struct chain *ch, char *err, size_t n)
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
		for (i = 0; i < nreg; i++)
			if (strlen(reg[i]->name) == len &&
			    !strncasecmp(reg[i]->name, s, len))
				found = reg[i];
		if (reg == registry &&
		    ((len == 16 && !strncasecmp(s, "guerrilladbredis", 16)) ||
		     (len == 16 && !strncasecmp(s, "guerrillaredisdb", 16)))) {
			for (i = 0; i < 6; i++)
				if (chain_add(ch, gdbredis[i], reg, nreg, 0,
					      err, n) < 0)
					return -1;
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
		if (chain_add(ch, found, reg, nreg, 0, err, n) < 0)
			return -1;
		if (!bar)
			break;
		p = bar + 1;
	}
	return 0;
}

int chain_parse(const char *spec, struct chain *ch, char *err, size_t n)
{
	return chain_parse_with(spec, registry,
				sizeof(registry) / sizeof(registry[0]), ch,
				err, n);
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
