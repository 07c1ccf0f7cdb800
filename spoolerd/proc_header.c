/*
 * proc_header.c - Header: the delivery headers go-guerrilla adds, made
 * once per recipient for the processors that store the message:
 *
 *   Return-Path: <sender>
 *   Delivered-To: recipient      (user@primary_mail_host without domain)
 *
 * Our Received header is already in the entry (the session wrote it) and
 * is copied from there, so it is not made again here.
 */
#include "processor.h"

#include <stdio.h>

static enum proc_res deliver(void *st, struct msg *m, char *why, size_t n)
{
	size_t i;
	(void)st;

	for (i = 0; i < m->env.nrcpts; i++)
		if (!msg_head(m, i)) {
			snprintf(why, n, "Header: out of memory");
			return PROC_TEMP;
		}
	msg_provide(m, PROV_HEAD, m->rcpt);
	return PROC_OK;
}

const struct proc_ops proc_header = {
	.name = "Header",
	.available = 1,
	.deliver = deliver,
	.provides = PROV_HEAD,
};
