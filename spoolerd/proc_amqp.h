/* proc_amqp.h - the parts of the AMQP processor that need no broker:
 * the URL, the templates, what is published and how a refusal is judged
 * (tests/spoolerd/test_amqp.c drives them) */
#ifndef PROC_AMQP_H
#define PROC_AMQP_H

#include "processor.h"

#include <amqp.h>
#include <stddef.h>

#define AMQP_NAME_MAX 255 /* exchange, routing key, message_id */

/* one publish: its properties and the names they point into */
struct amqp_pub {
	amqp_basic_properties_t props;
	amqp_table_entry_t hdr[5];
	amqp_field_value_t *to; /* X-Envelope-To's array, malloc'd */
	char msgid[AMQP_NAME_MAX + 1];
	char exchange[AMQP_NAME_MAX + 1];
	char rkey[AMQP_NAME_MAX + 1];
};

/* the broker as amqp_url names it */
struct amqp_where {
	int tls;
	char host[256];
	int port;
	char vhost[256];
	char text[600]; /* "amqp://host:port/vhost" for logs and reasons */
};

/* proc_amqp_parse_url - amqp_url into w; no user or password in it (they
 * are amqp_user and amqp_password_file). 0, or -1 with err naming the
 * key. */
int proc_amqp_parse_url(const char *url, struct amqp_where *w, char *err,
			size_t n);

/* proc_amqp_check_template - only {user} and {domain} placeholders; 0,
 * or -1 with err naming key */
int proc_amqp_check_template(const char *key, const char *tmpl, char *err,
			     size_t n);

/* proc_amqp_expand - tmpl for address addr (no '@': the domain is dflt):
 * both lower-cased, a-z 0-9 - _ + = kept, '.' kept in {domain} (its
 * labels are the words of a topic key) but %2E in {user}, every other
 * byte %XX. 0, or -1 with why (longer than AMQP_NAME_MAX). */
int proc_amqp_expand(const char *tmpl, const char *addr, const char *dflt,
		     char *out, size_t outsize, const char **why);

/* proc_amqp_prepare - the publish of m for recipient r (-1: the whole
 * message, named by its first recipient): exchange and routing key from
 * the templates, message_id = queue id ("<queue id>/<recipient>" per
 * recipient, "<queue id>/<r>" when that is too long), persistent,
 * message/rfc822, the envelope in headers. 0, or -1 with why (PERM when
 * errno is 0, else out of memory). proc_amqp_pub_free after. */
int proc_amqp_prepare(const struct msg *m, long r, const char *ex_tmpl,
		      const char *rk_tmpl, struct amqp_pub *p, char *why,
		      size_t n);

/* proc_amqp_pub_free - what proc_amqp_prepare allocated */
void proc_amqp_pub_free(struct amqp_pub *p);

/* proc_amqp_body - the body for recipient r: its delivery headers
 * (Return-Path, Delivered-To), or for r = -1 "Return-Path: <sender>",
 * then the message as stored, byte-exact. malloc'd; NULL with errno. */
char *proc_amqp_body(struct msg *m, long r, size_t *len);

/* proc_amqp_close_class - a broker's channel.close or basic.return code
 * as PERM (312 no route, 404 not found, 406 precondition failed: the
 * message cannot go there as it is) or TEMP (the rest: 403 access
 * refused is the operator's to fix, 320 a broker shutting down, 5xx) */
enum proc_res proc_amqp_close_class(int code);

#endif
