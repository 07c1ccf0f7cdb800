/* hasher.h - Hasher's MD5, exported for tests and later processors */
#ifndef HASHER_H
#define HASHER_H

/* hasher_md5_hex - hex MD5 of sender, subject, stamp, rcpt concatenated
 * (go-guerrilla's order); 0 or -1 */
int hasher_md5_hex(const char *sender, const char *subject,
                   const char *stamp, const char *rcpt, char out[33]);

#endif
