/* chain.h - parse save_process ("HeadersParser|Header|Maildir") */
#ifndef CHAIN_H
#define CHAIN_H

#include "processor.h"

#define CHAIN_MAX 16

struct chain {
	const struct proc_ops *p[CHAIN_MAX];
	size_t n;
	char spec[256]; /* the effective spec, for logs */
	/* processors put in unnamed for a need, for --check-config and the
	 * start-up log: "Hasher inserted before Redis (it needs a hash)",
	 * "; "-separated; "" when none */
	char inserted[256];
};

/* chain_parse - '|'-separated names, case-insensitive, blanks around
 * names ignored. Every processor's needs must be provided by one to its
 * left; a need that one processor autoprovides gets that one inserted
 * just before (noted in ch->inserted). 0, or -1 with
 * "unknown processor \"X\"", "processor \"Redis\" needs a hash: put
 * Hasher before it" (or another reason) in err. */
int chain_parse(const char *spec, struct chain *ch, char *err, size_t n);

/* chain_parse_with - chain_parse with its own registry of nreg
 * processors (for tests) */
int chain_parse_with(const char *spec, const struct proc_ops *const *reg,
                     size_t nreg, struct chain *ch, char *err, size_t n);

/* chain_spec - the save_process the config asks for: save_process, else
 * the seed's backend_name mapped, else the embedded default */
const char *chain_spec(const struct cfg *cfg);

/* chain_from_cfg - chain_spec + chain_parse, then every processor's init
 * and fini once to validate its settings. err names the key. */
int chain_from_cfg(const struct cfg *cfg, struct chain *ch, char *err,
                   size_t n);

/* chain_stores - does any processor keep the message? */
int chain_stores(const struct chain *ch);

/* chain_batch - how many entries a worker takes at once: sql_batch_size
 * when a processor stores several at a time, else 1 */
size_t chain_batch(const struct chain *ch, const struct cfg *cfg);

/* chain_check - probe every store of the chain (reachable, table there);
 * report is called once per store with its name, ok, and what is wrong.
 * Returns the number of stores that failed. */
int chain_check(const struct chain *ch, const struct cfg *cfg,
                void (*report)(void *arg, const char *name, int ok,
                               const char *text),
                void *arg);

#endif
