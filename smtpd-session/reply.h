/* reply.h - every fixed SMTP reply of the session, by id */
#ifndef REPLY_H
#define REPLY_H

#include "buf.h"

enum reply_id {
	R_OKAY,            /* 250 2.0.0 */
	R_SENDER_OK,     /* 250 2.1.0 */
	R_RCPT_OK,       /* 250 2.1.5 */
	R_DATA_GO,       /* 354 */
	R_BYE,           /* 221 2.0.0 */
	R_VRFY,          /* 252 2.5.2 */
	R_HELP,          /* 214 2.0.0 */
	R_TLS_GO,        /* 220 2.0.0 */
	R_UNKNOWN,       /* 500 5.5.1 */
	R_TOO_LONG,      /* 500 5.5.2 */
	R_BAD_CHARS,     /* 500 5.5.2 */
	R_NOT_IMPL,      /* 502 5.5.1 */
	R_SYNTAX,        /* 501 5.5.4 */
	R_HELO_SYNTAX,   /* 501 5.5.4 */
	R_SENDER_SYNTAX, /* 501 5.1.7 */
	R_RCPT_SYNTAX,   /* 501 5.1.3 */
	R_NO_ARGS,       /* 501 5.5.4 */
	R_PARAM,         /* 555 5.5.4 */
	R_BODY_PARAM,    /* 501 5.5.4 */
	R_NEED_HELO,     /* 503 5.5.1 */
	R_NESTED_MAIL,   /* 503 5.5.1 */
	R_NEED_MAIL,     /* 503 5.5.1 */
	R_NEED_RCPT,     /* 503 5.5.1 */
	R_TLS_TWICE,     /* 503 5.5.1 */
	R_NO_VALID_RCPT, /* 554 5.5.1 */
	R_RELAY,         /* 554 5.7.1 */
	R_TOO_MANY_RCPT, /* 452 4.5.3 */
	R_SIZE,          /* 552 5.3.4 */
	R_BARE,          /* 550 5.6.0 */
	R_BDAT_SYNTAX,    /* 501 5.5.4 */
	R_BDAT_NEED_RCPT, /* 503 5.5.1 */
	R_BDAT_MIX,       /* 503 5.5.1 */
	R_BDAT_SEQ,       /* 503 5.5.1 */
	R_BINARY_DATA,    /* 503 5.5.1 */
	R_WRITE_FAIL,    /* 451 4.3.0 */
	R_NO_SPACE,      /* 452 4.3.1 */
	R_TOO_MANY_ERR,  /* 421 4.7.0 */
	R_TIMEOUT,       /* 421 4.4.2 */
	R_INTERNAL,      /* 421 4.3.0 */
	R_TLS_UNAVAIL,   /* 454 4.7.0 */
	R_FULL,          /* 421 4.7.0 */
	R_NEED_UTF8,     /* 553 5.6.7 */
	R_HELO_INVALID,  /* 501 5.5.2 */
	R_AUTH_NEED_EHLO, /* 503 5.5.1 */
	R_AUTH_NONE,     /* 502 5.5.1 */
	R_XCLIENT_DENY,  /* 550 5.7.0 */
	R_XCLIENT_TX,    /* 503 5.5.1 */
	R_XCLIENT_SYNTAX, /* 501 5.5.4 */
	R_RCPT_UNKNOWN,  /* 550 5.1.1 */
	R_RCPT_LOOKUP,   /* 451 4.3.0 */
	R_COUNT
};

/* reply_code - the three-digit code of a reply */
int reply_code(enum reply_id id);

/* reply_add - append "CODE ESC text\r\n" to out; -1 on the buffer cap */
int reply_add(struct buf *out, enum reply_id id);

#endif
