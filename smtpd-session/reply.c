/*
 * reply.c - the reply table: id -> code, enhanced status code (RFC 3463,
 * RFC 2034) and fixed text. Client bytes are never echoed in a reply, so a
 * reply can neither be forged nor used to reflect input.
 */
#include "reply.h"

#include <string.h>

struct reply {
	int code;
	const char *text; /* "CODE ESC text", no CRLF */
};

static const struct reply replies[R_COUNT] = {
	[R_OKAY] = {250, "250 2.0.0 OK"},
	[R_SENDER_OK] = {250, "250 2.1.0 OK"},
	[R_RCPT_OK] = {250, "250 2.1.5 OK"},
	[R_DATA_GO] = {354, "354 End data with <CR><LF>.<CR><LF>"},
	[R_BYE] = {221, "221 2.0.0 Bye"},
	[R_VRFY] = {252, "252 2.5.2 Cannot VRFY user, but will accept message "
			 "and attempt delivery"},
	[R_HELP] = {214, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT "
			 "RSET NOOP VRFY HELP QUIT"},
	[R_TLS_GO] = {220, "220 2.0.0 Ready to start TLS"},
	[R_UNKNOWN] = {500, "500 5.5.1 Command unrecognized"},
	[R_TOO_LONG] = {500, "500 5.5.2 Line too long"},
	[R_BAD_CHARS] = {500, "500 5.5.2 Invalid characters in command"},
	[R_NOT_IMPL] = {502, "502 5.5.1 Command not implemented"},
	[R_SYNTAX] = {501, "501 5.5.4 Syntax error in parameters or arguments"},
	[R_HELO_SYNTAX] = {501, "501 5.5.4 Syntax: HELO/EHLO hostname"},
	[R_SENDER_SYNTAX] = {501, "501 5.1.7 Bad sender address syntax"},
	[R_RCPT_SYNTAX] = {501, "501 5.1.3 Bad recipient address syntax"},
	[R_NO_ARGS] = {501, "501 5.5.4 Syntax error, no parameters allowed"},
	[R_PARAM] = {555, "555 5.5.4 Unsupported option"},
	[R_BODY_PARAM] = {501, "501 5.5.4 BODY must be 7BIT, 8BITMIME or "
			       "BINARYMIME"},
	[R_NEED_HELO] = {503, "503 5.5.1 Send HELO/EHLO first"},
	[R_NESTED_MAIL] = {503, "503 5.5.1 Sender already specified"},
	[R_NEED_MAIL] = {503, "503 5.5.1 Need MAIL before RCPT"},
	[R_NEED_RCPT] = {503, "503 5.5.1 Need RCPT before DATA"},
	[R_TLS_TWICE] = {503, "503 5.5.1 TLS already active"},
	[R_NO_VALID_RCPT] = {554, "554 5.5.1 No valid recipients"},
	[R_RELAY] = {554, "554 5.7.1 Relay access denied"},
	[R_TOO_MANY_RCPT] = {452, "452 4.5.3 Too many recipients"},
	[R_SIZE] = {552, "552 5.3.4 Message size exceeds fixed limit"},
	[R_BARE] = {550, "550 5.6.0 Message contains bare CR or LF, "
			 "refused (see RFC 5321 2.3.8)"},
	[R_BDAT_SYNTAX] = {501, "501 5.5.4 Syntax: BDAT octets [LAST]"},
	[R_BDAT_NEED_RCPT] = {503, "503 5.5.1 Need RCPT before BDAT"},
	[R_BDAT_MIX] = {503, "503 5.5.1 DATA and BDAT cannot be mixed in one "
			     "transaction"},
	[R_BDAT_SEQ] = {503, "503 5.5.1 Not allowed during a BDAT "
			     "transaction"},
	[R_BINARY_DATA] = {503, "503 5.5.1 BODY=BINARYMIME needs BDAT, not "
				"DATA"},
	[R_WRITE_FAIL] = {451, "451 4.3.0 Error writing message to the spool, "
			       "try again later"},
	[R_NO_SPACE] = {452, "452 4.3.1 Insufficient system storage"},
	[R_TOO_MANY_ERR] = {421, "421 4.7.0 Too many errors, closing "
				 "connection"},
	[R_TIMEOUT] = {421, "421 4.4.2 Timeout exceeded, closing connection"},
	[R_INTERNAL] = {421, "421 4.3.0 Service not available, closing "
			     "connection"},
	[R_TLS_UNAVAIL] = {454, "454 4.7.0 TLS not available"},
	[R_FULL] = {421, "421 4.7.0 Too many connections, try again later"},
	/* RFC 6531 3.5 */
	[R_NEED_UTF8] = {553, "553 5.6.7 Non-ASCII address needs MAIL FROM "
			      "with SMTPUTF8"},
	[R_HELO_INVALID] = {501, "501 5.5.2 HELO/EHLO needs a domain name or "
				 "an address literal"},
	[R_AUTH_NEED_EHLO] = {503, "503 5.5.1 Send EHLO first; no AUTH here "
				   "anyway: this server only receives mail "
				   "for its domains, it takes no "
				   "submission"},
	[R_AUTH_NONE] = {502, "502 5.5.1 AUTH not available: this server only "
			      "receives mail for its domains, it takes no "
			      "submission"},
	[R_XCLIENT_DENY] = {550, "550 5.7.0 Insufficient authorization"},
	[R_XCLIENT_TX] = {503, "503 5.5.1 Mail transaction in progress"},
	[R_XCLIENT_SYNTAX] = {501, "501 5.5.4 Syntax: XCLIENT attribute=value "
				   "..."},
	/* rcpt_check (rcptcheck.c); the address is not echoed */
	[R_RCPT_UNKNOWN] = {550, "550 5.1.1 Recipient address rejected: "
				 "user unknown"},
	[R_RCPT_LOOKUP] = {451, "451 4.3.0 Recipient address lookup failed, "
				"try again later"},
};

int reply_code(enum reply_id id)
{
	return replies[id].code;
}

int reply_add(struct buf *out, enum reply_id id)
{
	const char *t = replies[id].text;

	if (buf_add(out, t, strlen(t)) < 0 || buf_add(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}
