/* utf8.h - UTF-8 checks and IDNA-to-ASCII for SMTPUTF8 (RFC 6531) */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>
#include <stdint.h>

/* utf8_has_8bit - does s[0..n) hold any byte >= 0x80? */
int utf8_has_8bit(const char *s, size_t n);

/* utf8_valid - is s[0..n) well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF) without control
 * characters (C0, DEL, C1)? 1 or 0 */
int utf8_valid(const char *s, size_t n);

/* utf8_punycode_encode - RFC 3492 encoding of cp[0..ncp) into out
 * (NUL-terminated, without the "xn--" prefix); its length, or -1 when it
 * does not fit in cap bytes or overflows */
int utf8_punycode_encode(const uint32_t *cp, size_t ncp, char *out,
                         size_t cap);

/* utf8_punycode_decode - the reverse, into cp[0..cap); the number of
 * code points, or -1 on bad input */
int utf8_punycode_decode(const char *in, size_t n, uint32_t *cp,
                         size_t cap);

/* utf8_domain_to_ascii - a domain of U-labels (valid UTF-8) into its
 * A-label form in out (NUL-terminated): ASCII labels are kept (lower
 * case), others become "xn--" + punycode of their code points, lower
 * case ASCII letters in them. Its length, or -1 when a label or the
 * result is too long (63 / 253 octets) or the input is not valid. */
int utf8_domain_to_ascii(const char *s, size_t n, char *out, size_t cap);

#endif
