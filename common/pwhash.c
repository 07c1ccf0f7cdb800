/*
 * pwhash.c - `hash-password`: the line for dashboard.password_hash.
 *
 * One line from stdin (the terminal's echo off while it is typed, so it
 * does not stay on the screen), hashed with a fresh salt by libcrypt's
 * yescrypt ("$y$", the method Debian's passwd uses), printed on stdout.
 * The clear text is wiped as soon as the hash is made. Nothing is
 * printed on an empty line.
 */
#include "pwhash.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* read_line - one line from stdin into out, end of line cut; its length */
static size_t read_line(char *out, size_t n)
{
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;
	size_t len;

	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	if (!fgets(out, (int)n, stdin))
		out[0] = '\0';
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return len;
}

int pwhash_main(const char *prog)
{
	char pw[1024], *salt;
	const char *h;

	if (read_line(pw, sizeof(pw)) == 0) {
		fprintf(stderr, "%s: empty password\n", prog);
		return 65; /* EX_DATAERR */
	}
	salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	h = salt ? crypt(pw, salt) : NULL;
	explicit_bzero(pw, sizeof(pw));
	free(salt);
	if (!h || h[0] == '*') {
		fprintf(stderr, "%s: crypt: %s\n", prog, strerror(errno));
		return 70; /* EX_SOFTWARE */
	}
	printf("%s\n", h);
	return 0;
}
