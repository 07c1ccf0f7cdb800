/* hdrparse.h - HeadersParser's parsing, exported for the unit tests */
#ifndef HDRPARSE_H
#define HDRPARSE_H

#include "processor.h"

/* hdr_decode_2047 - decode RFC 2047 encoded words in s to UTF-8;
 * malloc'd, at most 4096 bytes, NULL on allocation failure */
char *hdr_decode_2047(const char *s, size_t len);

/* hdr_parse - fill h from the header at p[0..len) (stops at the blank
 * line); 0 or -1 */
int hdr_parse(struct msg_headers *h, const char *p, size_t len);

/* hdr_free - the strings of h, h zeroed */
void hdr_free(struct msg_headers *h);

#endif
