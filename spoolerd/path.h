/* path.h - mailbox paths from maildir_path / mbox_path templates */
#ifndef PATH_H
#define PATH_H

#include <stddef.h>

#define PATH_COMPONENT_MAX 255

/* path_component - one safe file name from untrusted bytes: ASCII
 * lower-cased; a-z 0-9 . _ + = - kept; every other byte (/, NUL, %, ...)
 * and a leading '.' become %XX, so the mapping is one-to-one and the
 * result is never "", ".", ".." or a hidden name. 0, or -1 if empty or
 * longer than PATH_COMPONENT_MAX or outsize. */
int path_component(const char *s, size_t len, char *out, size_t outsize);

/* path_check_template - only {user} and {domain} placeholders, not
 * empty; 0 or -1 with a reason */
int path_check_template(const char *tmpl, const char **why);

/* path_expand - the template for address addr ("user@domain"; without
 * '@' the domain is dflt_domain). 0, or -1 with a reason (a permanent
 * failure: the address cannot name a mailbox). */
int path_expand(const char *tmpl, const char *addr, const char *dflt_domain,
                char *out, size_t outsize, const char **why);

/* path_mkdirs - mkdir -p of path (mode 0700 for new dirs); 0 or -1 */
int path_mkdirs(const char *path);

/* path_fixed_len - how much of an expanded template is the operator's
 * own: up to and with the last '/' before the first placeholder (0 when
 * the template starts with one) */
size_t path_fixed_len(const char *tmpl);

/* path_walk - open the directory path: path[0..fixed) as it is (the
 * operator may use symlinks there), every later component beneath the
 * one before with O_NOFOLLOW|O_DIRECTORY, so a symlink or a non-directory
 * derived from an address ends the walk (ELOOP, ENOTDIR); missing ones
 * are made (0700) when mkdirs. The fd, or -1 with errno. */
int path_walk(const char *path, size_t fixed, int mkdirs);

#endif
