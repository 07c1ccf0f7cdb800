/*
 * utf8.c - what SMTPUTF8 (RFC 6531) needs: a strict UTF-8 check for
 * addresses, and IDNA-to-ASCII of a domain so that a U-label recipient
 * domain can be compared with allowed_hosts (which are A-labels, as in
 * DNS): "bücher.example" is "xn--bcher-kva.example".
 *
 * utf8_valid follows RFC 3629 section 4: overlong forms, surrogates
 * (U+D800..U+DFFF) and anything past U+10FFFF are refused, and so are
 * control characters (C0, DEL and C1 U+0080..U+009F), which have no
 * place in an address or the spool envelope.
 *
 * Punycode is RFC 3492 (base 36, tmin 1, tmax 26, skew 38, damp 700,
 * initial bias 72, initial n 128), with its overflow checks. XXX: this
 * is IDNA's encoding step only. IDNA2008's mapping (UTS #46: NFC,
 * case folding of non-ASCII letters) and its code point rules are not
 * applied: a sender writing "BÜCHER.example" gets "xn--bcher-kva" only
 * for the ASCII letters lowered, "Ü" stays as sent. Senders (Gmail,
 * Postfix with smtputf8_enable) send the U-label as users typed it,
 * normally already NFC and lower case; an unmapped one at worst misses
 * allowed_hosts and is refused 554 5.7.1, never accepted wrongly.
 */
#include "utf8.h"

#include <string.h>

#define P_BASE 36
#define P_TMIN 1
#define P_TMAX 26
#define P_SKEW 38
#define P_DAMP 700
#define P_BIAS 72
#define P_N 128
#define P_MAXINT 0xffffffffu

int utf8_has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* decode_one - the code point at s[0..n): its length, or 0 if the bytes
 * are not a well-formed sequence */
static size_t decode_one(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0; /* a continuation byte, C0, C1, F5..FF */
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* is_control - C0, DEL, C1 */
static int is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t c;
		size_t l = decode_one(p + i, n - i, &c);

		if (!l || is_control(c))
			return 0;
		i += l;
	}
	return 1;
}

/* adapt - RFC 3492 6.1 bias adaptation */
static uint32_t adapt(uint32_t delta, uint32_t numpoints, int first)
{
	uint32_t k = 0;

	delta = first ? delta / P_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((P_BASE - P_TMIN) * P_TMAX) / 2) {
		delta /= P_BASE - P_TMIN;
		k += P_BASE;
	}
	return k + (P_BASE - P_TMIN + 1) * delta / (delta + P_SKEW);
}

/* threshold - t for the digit at k (RFC 3492 6.2) */
static uint32_t threshold(uint32_t k, uint32_t bias)
{
	if (k <= bias)
		return P_TMIN;
	if (k >= bias + P_TMAX)
		return P_TMAX;
	return k - bias;
}

static char digit_char(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* digit_value - a base-36 digit, either case; P_BASE if none */
static uint32_t digit_value(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '0' && c <= '9')
		return c - '0' + 26;
	return P_BASE;
}

int utf8_punycode_encode(const uint32_t *cp, size_t ncp, char *out,
                         size_t cap)
{
	uint32_t n = P_N, delta = 0, bias = P_BIAS, h, b, m;
	size_t o = 0, j;

	if (ncp >= P_MAXINT || cap == 0)
		return -1;
	for (j = 0; j < ncp; j++) {
		if (cp[j] < 0x80) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = (char)cp[j];
		}
	}
	h = b = (uint32_t)o;
	if (b > 0) {
		if (o + 1 >= cap)
			return -1;
		out[o++] = '-';
	}
	while (h < ncp) {
		m = P_MAXINT;
		for (j = 0; j < ncp; j++)
			if (cp[j] >= n && cp[j] < m)
				m = cp[j];
		if (m - n > (P_MAXINT - delta) / (h + 1))
			return -1;
		delta += (m - n) * (h + 1);
		n = m;
		for (j = 0; j < ncp; j++) {
			if (cp[j] < n && ++delta == 0)
				return -1;
			if (cp[j] == n) {
				uint32_t q = delta, k;

				for (k = P_BASE;; k += P_BASE) {
					uint32_t t = threshold(k, bias);

					if (q < t)
						break;
					if (o + 1 >= cap)
						return -1;
					out[o++] = digit_char(
						t + (q - t) % (P_BASE - t));
					q = (q - t) / (P_BASE - t);
				}
				if (o + 1 >= cap)
					return -1;
				out[o++] = digit_char(q);
				bias = adapt(delta, h + 1, h == b);
				delta = 0;
				h++;
			}
		}
		delta++;
		n++;
	}
	out[o] = '\0';
	return (int)o;
}

int utf8_punycode_decode(const char *in, size_t len, uint32_t *cp,
                         size_t cap)
{
	uint32_t n = P_N, i = 0, bias = P_BIAS;
	size_t b = 0, j, o, pos;

	for (j = 0; j < len; j++)
		if (in[j] == '-')
			b = j;
	if (b > cap)
		return -1;
	for (j = 0; j < b; j++) {
		if ((unsigned char)in[j] >= 0x80)
			return -1;
		cp[j] = (unsigned char)in[j];
	}
	o = b;
	pos = b > 0 ? b + 1 : 0;
	while (pos < len) {
		uint32_t oldi = i, w = 1, k;

		for (k = P_BASE;; k += P_BASE) {
			uint32_t d, t;

			if (pos >= len)
				return -1;
			d = digit_value((unsigned char)in[pos++]);
			if (d >= P_BASE || d > (P_MAXINT - i) / w)
				return -1;
			i += d * w;
			t = threshold(k, bias);
			if (d < t)
				break;
			if (w > P_MAXINT / (P_BASE - t))
				return -1;
			w *= P_BASE - t;
		}
		bias = adapt(i - oldi, (uint32_t)o + 1, oldi == 0);
		if (i / (o + 1) > P_MAXINT - n)
			return -1;
		n += i / (uint32_t)(o + 1);
		i %= (uint32_t)(o + 1);
		if (o >= cap || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) ||
		    n < 0x80)
			return -1;
		memmove(cp + i + 1, cp + i, (o - i) * sizeof(*cp));
		cp[i++] = n;
		o++;
	}
	return (int)o;
}

/* lower - ASCII lower case */
static uint32_t lower(uint32_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int utf8_domain_to_ascii(const char *s, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	if (cap < 254 || n == 0 || !utf8_valid(s, n))
		return -1;
	while (i <= n) {
		size_t e = i, j;
		uint32_t cp[64];
		size_t ncp = 0;
		char label[64];
		int l;

		while (e < n && p[e] != '.')
			e++;
		if (e == i)
			return -1; /* an empty label */
		for (j = i; j < e;) {
			uint32_t c;
			size_t k = decode_one(p + j, e - j, &c);

			if (!k || ncp == 64)
				return -1;
			cp[ncp++] = lower(c);
			j += k;
		}
		if (!utf8_has_8bit(s + i, e - i)) {
			if (ncp > 63)
				return -1;
			for (j = 0; j < ncp; j++)
				label[j] = (char)cp[j];
			l = (int)ncp;
		} else {
			memcpy(label, "xn--", 4);
			l = utf8_punycode_encode(cp, ncp, label + 4,
						 sizeof(label) - 4);
			if (l < 0)
				return -1;
			l += 4;
		}
		if (o + (size_t)l + 1 > 254)
			return -1;
		if (o)
			out[o - 1] = '.';
		memcpy(out + o, label, (size_t)l);
		o += (size_t)l + 1;
		i = e + 1;
	}
	out[o - 1] = '\0';
	return (int)(o - 1);
}
