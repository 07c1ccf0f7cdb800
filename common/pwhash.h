/* pwhash.h - the hash-password command of spoolq and smtpd-dashboard
 * (libcrypt; linked by those two, never by the session) */
#ifndef PWHASH_H
#define PWHASH_H

/* pwhash_main - read one password line from stdin (not echoed on a
 * terminal), print its salted yescrypt hash; prog names the tool in
 * errors. Returns the exit status: 0, 65 (empty password), 70 (crypt
 * failed). */
int pwhash_main(const char *prog);

#endif
