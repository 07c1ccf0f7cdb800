/* addr.h - RFC 5321 reverse-path / forward-path parsing */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

#define ADDR_MAX_PATH 256
#define ADDR_MAX_LOCAL 64
#define ADDR_MAX_DOMAIN 255

enum addr_kind {
	ADDR_BAD,     /* not a path */
	ADDR_NULL,    /* "<>" */
	ADDR_MAILBOX, /* local@domain */
	ADDR_LOCAL    /* a bare local part, "<postmaster>" */
};

struct mailpath {
	enum addr_kind kind;
	char addr[ADDR_MAX_PATH + 1]; /* without <> and source route */
	size_t len;
	size_t at; /* index of the '@' separating the domain, or len */
	const char *params; /* the rest of the argument, spaces skipped */
	size_t params_len;
};

/* addr_parse - parse "<path> params" (arg points after "FROM:"/"TO:";
 * leading spaces allowed). A missing <> is tolerated for a plain mailbox
 * without spaces, as Postfix does. */
enum addr_kind addr_parse(const char *arg, size_t len, struct mailpath *mp);

/* addr_param_next - split the next "KEY[=VALUE]" from *p; 0, or -1 at the
 * end. Returns pointers into the argument. */
int addr_param_next(const char **p, const char *end, const char **key,
                    size_t *klen, const char **val, size_t *vlen);

#endif
