/* run.h - drive one session: lines to session.c, DATA to the spool */
#ifndef RUN_H
#define RUN_H

#include "frame.h"
#include "io.h"
#include "session.h"
#include "spool.h"

struct run {
	struct session *s;
	struct io *io;
	struct spool *sp;
	const char *spool_dir;
	struct frame frame; /* command lines out of io's input */
	/* STARTTLS hook (tls.c); set whenever s->tls_offer is */
	int (*starttls)(struct run *r);
};

/* run_session - greeting to close; returns when the session ends */
void run_session(struct run *r);

/* run_flush - write the queued replies; 0 or an io_status */
int run_flush(struct run *r);

#endif
