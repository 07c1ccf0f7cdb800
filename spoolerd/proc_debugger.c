/*
 * proc_debugger.c - Debugger: one log line per message with the envelope
 * and the parsed Subject, when log_received_mails is on (go-guerrilla's
 * Debugger). Client strings are escaped and cut for the log.
 */
#include "log.h"
#include "processor.h"
#include "util.h"

#include <string.h>

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	char from[120], to[120], subj[120], helo[120];
	(void)st;
	(void)why;
	(void)n;

	if (!m->cfg || !m->cfg->backend.log_received_mails)
		return PROC_OK;
	util_printable(from, sizeof(from), m->env.sender,
		       strlen(m->env.sender), 100);
	util_printable(to, sizeof(to), m->env.rcpts[0],
		       strlen(m->env.rcpts[0]), 100);
	util_printable(helo, sizeof(helo), m->env.helo, strlen(m->env.helo),
		       100);
	if (msg_headers(m)->subject)
		util_printable(subj, sizeof(subj), msg_headers(m)->subject,
			       strlen(msg_headers(m)->subject), 100);
	else
		memcpy(subj, "-", 2);
	log_info("%s received from=<%s> to=<%s> nrcpt=%zu size=%lld "
		 "client=%s helo=%s subject=\"%s\" hash=%s",
		 m->env.queue_id, from, to, m->env.nrcpts, m->env.size,
		 m->env.client_ip, helo, subj,
		 msg_hash(m, 0)[0] ? msg_hash(m, 0) : "-");
	return PROC_OK;
}

const struct proc_ops proc_debugger = {"Debugger", 1, 0, NULL, deliver,
				       NULL, NULL, NULL};
