/*
 * tls.c - STARTTLS (RFC 3207) and implicit TLS (RFC 8314) with GnuTLS on
 * the session's fds 0 and 1. The only file that includes GnuTLS.
 *
 * Cost: a plaintext session must not pay for TLS. Linking libgnutls costs
 * every process about 400 KiB of private memory and several ms of start-up
 * (its constructor initialises the library; measured in README), so the
 * library is dlopen'ed only when a handshake is about to happen, and the
 * few functions used are looked up then. Certificates and keys are read
 * per connection: a renewed certificate is used by the next connection.
 *
 * The accept mode (accept.c) turns that around: its parent calls
 * tls_prepare, which loads the library and builds every entry's
 * credentials and priority cache once; each forked child calls tls_use
 * and its handshakes take them from there (a reload in the parent builds
 * a new set for later children). The inetd mode never calls either.
 *
 * Several certificates: public_key_file/private_key_file and then each
 * tls.certificates pair go into one credentials structure; GnuTLS picks
 * per handshake by SNI and key type, else the first. GnuTLS compares the
 * SNI name with the certificates' DNS names byte for byte; when none is
 * equal, sni_pick (just after the ClientHello) matches again without
 * regard to case and with wildcards (RFC 6125 6.4.3) and, when that finds
 * pairs GnuTLS would pass over, hands this handshake the same pairs with
 * the matching ones first.
 *
 * Session tickets (session_tickets): the key must be shared by every
 * session process. The accept mode's parent makes it (tls_prep_tick) and
 * the children inherit it; in the inetd mode each handshake reads the
 * file spoolerd keeps (spoolerd/ticket.c), refusing one others may read.
 *
 * STARTTLS injection (CVE-2011-0411 class): any plaintext the client sent
 * after STARTTLS is discarded before the handshake, never read as commands
 * inside TLS. After the handshake the session is back in ST_CONNECTED.
 */
#include "tls.h"
#include "log.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the GnuTLS functions we use, looked up with dlsym */
#define GNUTLS_FUNCS(X)                                                       \
	X(int, gnutls_certificate_allocate_credentials,                       \
	  (gnutls_certificate_credentials_t *))                               \
	X(void, gnutls_certificate_free_credentials,                          \
	  (gnutls_certificate_credentials_t))                                 \
	X(int, gnutls_certificate_set_x509_key_file2,                         \
	  (gnutls_certificate_credentials_t, const char *, const char *,      \
	   gnutls_x509_crt_fmt_t, const char *, unsigned))                    \
	X(int, gnutls_certificate_set_x509_trust_file,                        \
	  (gnutls_certificate_credentials_t, const char *,                    \
	   gnutls_x509_crt_fmt_t))                                            \
	X(void, gnutls_certificate_server_set_request,                        \
	  (gnutls_session_t, gnutls_certificate_request_t))                   \
	X(int, gnutls_certificate_verify_peers2,                              \
	  (gnutls_session_t, unsigned *))                                     \
	X(const gnutls_datum_t *, gnutls_certificate_get_peers,               \
	  (gnutls_session_t, unsigned *))                                     \
	X(int, gnutls_init, (gnutls_session_t *, unsigned))                   \
	X(void, gnutls_deinit, (gnutls_session_t))                            \
	X(int, gnutls_priority_set_direct,                                    \
	  (gnutls_session_t, const char *, const char **))                    \
	X(int, gnutls_priority_set, (gnutls_session_t, gnutls_priority_t))   \
	X(int, gnutls_priority_init,                                          \
	  (gnutls_priority_t *, const char *, const char **))                 \
	X(void, gnutls_priority_deinit, (gnutls_priority_t))                  \
	X(int, gnutls_credentials_set,                                        \
	  (gnutls_session_t, gnutls_credentials_type_t, void *))              \
	X(void, gnutls_transport_set_int2, (gnutls_session_t, int, int))      \
	X(void, gnutls_handshake_set_timeout, (gnutls_session_t, unsigned))   \
	X(void, gnutls_record_set_timeout, (gnutls_session_t, unsigned))      \
	X(int, gnutls_handshake, (gnutls_session_t))                          \
	X(int, gnutls_error_is_fatal, (int))                                  \
	X(const char *, gnutls_strerror, (int))                               \
	X(ssize_t, gnutls_record_recv, (gnutls_session_t, void *, size_t))    \
	X(ssize_t, gnutls_record_send,                                        \
	  (gnutls_session_t, const void *, size_t))                           \
	X(size_t, gnutls_record_check_pending, (gnutls_session_t))            \
	X(int, gnutls_bye, (gnutls_session_t, gnutls_close_request_t))        \
	X(gnutls_protocol_t, gnutls_protocol_get_version, (gnutls_session_t)) \
	X(const char *, gnutls_protocol_get_name, (gnutls_protocol_t))        \
	X(const char *, gnutls_ciphersuite_get, (gnutls_session_t))           \
	X(void, gnutls_certificate_set_flags,                                 \
	  (gnutls_certificate_credentials_t, unsigned))                       \
	X(int, gnutls_certificate_get_x509_key,                               \
	  (gnutls_certificate_credentials_t, unsigned, gnutls_x509_privkey_t *)) \
	X(int, gnutls_certificate_get_x509_crt,                               \
	  (gnutls_certificate_credentials_t, unsigned, gnutls_x509_crt_t **,  \
	   unsigned *))                                                       \
	X(void, gnutls_x509_privkey_deinit, (gnutls_x509_privkey_t))          \
	X(int, gnutls_x509_privkey_get_key_id,                                \
	  (gnutls_x509_privkey_t, unsigned, unsigned char *, size_t *))       \
	X(int, gnutls_x509_crt_get_key_id,                                    \
	  (gnutls_x509_crt_t, unsigned, unsigned char *, size_t *))           \
	X(int, gnutls_x509_crt_init, (gnutls_x509_crt_t *))                   \
	X(void, gnutls_x509_crt_deinit, (gnutls_x509_crt_t))                  \
	X(int, gnutls_x509_crt_import,                                        \
	  (gnutls_x509_crt_t, const gnutls_datum_t *, gnutls_x509_crt_fmt_t)) \
	X(time_t, gnutls_x509_crt_get_expiration_time, (gnutls_x509_crt_t)) \
	X(int, gnutls_session_ticket_enable_server,                           \
	  (gnutls_session_t, const gnutls_datum_t *))                         \
	X(int, gnutls_session_ticket_key_generate, (gnutls_datum_t *))        \
	X(int, gnutls_session_is_resumed, (gnutls_session_t))            \
	X(int, gnutls_server_name_get,                                        \
	  (gnutls_session_t, void *, size_t *, unsigned *, unsigned))         \
	X(void, gnutls_handshake_set_post_client_hello_function,              \
	  (gnutls_session_t, gnutls_handshake_simple_hook_func))              \
	X(int, gnutls_x509_crt_get_subject_alt_name,                          \
	  (gnutls_x509_crt_t, unsigned, void *, size_t *, unsigned *))

#define DECLARE(ret, name, args) static ret(*p_##name) args;
GNUTLS_FUNCS(DECLARE)
#undef DECLARE
#define G(name) p_##name

static void *lib;
static gnutls_free_function *p_free; /* a variable in libgnutls */
static void (*p_rnd_refresh)(void); /* optional (GnuTLS >= 3.6.x) */

struct tls_state {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	int cred_owned; /* read by this session (inetd mode): free it */
	gnutls_certificate_credentials_t sni_cred; /* sni_pick's, or NULL */
	const struct cfg_tls *tls; /* this handshake's entry, for sni_pick */
	int verify; /* check the client certificate after the handshake */
};

static struct tls_state st;

/* what the accept mode's parent built once per server entry */
struct tls_prep {
	size_t n;
	const struct cfg_server **srv;
	gnutls_certificate_credentials_t *cred;
	gnutls_priority_t *prio;
};

static const struct tls_prep *used; /* the child's, from tls_use */
static int reseed; /* tls_use: reseed before this process's first handshake */

/* the accept mode's session-ticket master key: made in the parent,
 * inherited by every child forked after; kept across reloads */
static gnutls_datum_t tk;
static long long tk_born; /* CLOCK_MONOTONIC ms */

/* tls_load_lib - dlopen libgnutls once; 0 or -1 (reason logged) */
static int tls_load_lib(void)
{
	if (lib)
		return 0;
	lib = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		log_error("TLS: cannot load libgnutls.so.30: %s", dlerror());
		return -1;
	}
#define RESOLVE(ret, name, args)                                     \
	*(void **)(&p_##name) = dlsym(lib, #name);                   \
	if (!p_##name) {                                             \
		log_error("TLS: libgnutls lacks %s", #name);         \
		dlclose(lib);                                        \
		lib = NULL;                                          \
		return -1;                                           \
	}
	GNUTLS_FUNCS(RESOLVE)
#undef RESOLVE
	p_free = dlsym(lib, "gnutls_free");
	if (!p_free) {
		log_error("TLS: libgnutls lacks gnutls_free");
		dlclose(lib);
		lib = NULL;
		return -1;
	}
	*(void **)(&p_rnd_refresh) = dlsym(lib, "gnutls_rnd_refresh");
	return 0;
}

/* ---- priority strings from go-guerrilla's keys ---- */

struct suite {
	const char *iana;
	const char *kx, *cipher, *mac; /* GnuTLS names; kx NULL: TLS 1.3 */
};

static const struct suite suites[] = {
	{"TLS_AES_128_GCM_SHA256", NULL, "AES-128-GCM", "AEAD"},
	{"TLS_AES_256_GCM_SHA384", NULL, "AES-256-GCM", "AEAD"},
	{"TLS_CHACHA20_POLY1305_SHA256", NULL, "CHACHA20-POLY1305", "AEAD"},
	{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA",
	 "AES-128-GCM", "AEAD"},
	{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA",
	 "AES-256-GCM", "AEAD"},
	{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM",
	 "AEAD"},
	{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM",
	 "AEAD"},
	{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA",
	 "CHACHA20-POLY1305", "AEAD"},
	{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA",
	 "CHACHA20-POLY1305", "AEAD"},
	{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA",
	 "CHACHA20-POLY1305", "AEAD"},
	{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA",
	 "CHACHA20-POLY1305", "AEAD"},
	{"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA", "AES-128-GCM",
	 "AEAD"},
	{"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA", "AES-256-GCM",
	 "AEAD"},
	{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC",
	 "SHA1"},
	{"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC",
	 "SHA1"},
	{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC",
	 "SHA1"},
	{"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC",
	 "SHA1"},
	{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA",
	 "AES-128-CBC", "SHA256"},
	{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA", "AES-128-CBC",
	 "SHA256"},
	{"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
	{"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
	{"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
	{"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
	{"TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "AES-128-CBC", "SHA256"},
	/* RC4 and 3DES suites never reach here: cfg.c drops them with a
	 * warning (weak_ciphers) */
};

static const struct {
	const char *go, *gnutls;
} curves[] = {
	{"P256", "GROUP-SECP256R1"}, {"P384", "GROUP-SECP384R1"},
	{"P521", "GROUP-SECP521R1"}, {"X25519", "GROUP-X25519"},
	{"X448", "GROUP-X448"},
};

static const struct {
	const char *go, *gnutls;
	int rank;
} versions[] = {
	{"ssl3.0", "VERS-SSL3.0", 0}, {"tls1.0", "VERS-TLS1.0", 1},
	{"tls1.1", "VERS-TLS1.1", 2}, {"tls1.2", "VERS-TLS1.2", 3},
	{"tls1.3", "VERS-TLS1.3", 4},
};

#define NVERS (sizeof(versions) / sizeof(versions[0]))

/* add - append pre and name, unless that exact item is there already;
 * -1 when out is full */
static int add(char *out, size_t size, const char *pre, const char *name)
{
	size_t n = strlen(out), pl = strlen(pre), nl = strlen(name);
	const char *hit;

	for (hit = strstr(out, name); hit; hit = strstr(hit + 1, name)) {
		char after = hit[nl];

		if ((size_t)(hit - out) >= pl &&
		    !memcmp(hit - pl, pre, pl) && (after == ':' || !after))
			return 0;
	}
	if (n + pl + nl + 1 > size)
		return -1;
	memcpy(out + n, pre, pl);
	memcpy(out + n + pl, name, nl + 1);
	return 0;
}

int tls_priority(const struct cfg_tls *t, char *out, size_t size, char *err,
                 size_t errsize)
{
	int lo = -1, hi = -1;
	size_t i, k;

	err[0] = '\0';
	if (t->priority) {
		/* a cut string could drop the restrictions at its end */
		if ((size_t)snprintf(out, size, "%s", t->priority) >= size) {
			snprintf(err, errsize, "priority: longer than %zu bytes",
				 size - 1);
			return -1;
		}
		return 0;
	}
	snprintf(out, size, "NORMAL:-VERS-ALL");
	for (i = 0; i < t->protocols.n; i++) {
		for (k = 0; k < NVERS; k++)
			if (!strcasecmp(t->protocols.v[i], versions[k].go))
				break;
		if (k == NVERS) {
			snprintf(err, errsize,
				 "protocols[%zu]: unknown, expected tls1.0, "
				 "tls1.1, tls1.2 or tls1.3",
				 i);
			return -1;
		}
		if (lo < 0 || versions[k].rank < lo)
			lo = versions[k].rank;
		if (versions[k].rank > hi)
			hi = versions[k].rank;
	}
	if (lo < 0) { /* empty list: our default */
		lo = 3;
		hi = 4;
	}
	/* go-guerrilla reads the list as [min, max] */
	for (k = NVERS; k-- > 0;)
		if (versions[k].rank >= lo && versions[k].rank <= hi &&
		    add(out, size, ":+", versions[k].gnutls) < 0)
			goto full;
	if (t->ciphers.n == 0) {
		/* forward-secret AEAD suites only */
		if (add(out, size, "", ":-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM"
				       ":+CHACHA20-POLY1305:-MAC-ALL:+AEAD"
				       ":-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA") < 0)
			goto full;
	} else {
		/* as Go's crypto/tls: the list chooses TLS 1.2 and older
		 * suites; TLS 1.3 keeps its AEAD suites. GnuTLS combines
		 * key exchanges, ciphers and MACs, so the list is honoured
		 * as a set of each. */
		if (add(out, size, "", ":-CIPHER-ALL:-MAC-ALL:-KX-ALL") < 0)
			goto full;
		if (hi >= 4 && add(out, size, "",
				   ":+AES-256-GCM:+AES-128-GCM"
				   ":+CHACHA20-POLY1305:+AEAD") < 0)
			goto full;
		for (i = 0; i < t->ciphers.n; i++) {
			const char *c = t->ciphers.v[i];

			if (!strcmp(c, "TLS_FALLBACK_SCSV"))
				continue; /* GnuTLS handles it itself */
			for (k = 0; k < sizeof(suites) / sizeof(suites[0]); k++)
				if (!strcmp(c, suites[k].iana))
					break;
			if (k == sizeof(suites) / sizeof(suites[0])) {
				snprintf(err, errsize,
					 "ciphers[%zu]: unknown or unsupported "
					 "cipher suite",
					 i);
				return -1;
			}
			if ((suites[k].kx &&
			     add(out, size, ":+", suites[k].kx) < 0) ||
			    add(out, size, ":+", suites[k].cipher) < 0 ||
			    add(out, size, ":+", suites[k].mac) < 0)
				goto full;
		}
	}
	if (t->curves.n == 0) {
		/* NORMAL's groups with X25519 first, as Go's crypto/tls
		 * (go-guerrilla) and OpenSSL order them: OpenSSL's clients
		 * (s_client, Python's ssl, Postfix's smtp) send one key
		 * share, for X25519, and NORMAL's SECP256R1 first with
		 * %SERVER_PRECEDENCE answered each with a HelloRetryRequest,
		 * a round trip and a second ClientHello per handshake */
		if (add(out, size, "", ":-GROUP-ALL:+GROUP-X25519"
				       ":+GROUP-SECP256R1:+GROUP-SECP384R1"
				       ":+GROUP-SECP521R1:+GROUP-X448"
				       ":+GROUP-FFDHE2048:+GROUP-FFDHE3072"
				       ":+GROUP-FFDHE4096:+GROUP-FFDHE6144"
				       ":+GROUP-FFDHE8192") < 0)
			goto full;
	} else {
		if (add(out, size, "", ":-GROUP-ALL") < 0)
			goto full;
		for (i = 0; i < t->curves.n; i++) {
			for (k = 0; k < sizeof(curves) / sizeof(curves[0]); k++)
				if (!strcasecmp(t->curves.v[i], curves[k].go))
					break;
			if (k == sizeof(curves) / sizeof(curves[0])) {
				snprintf(err, errsize,
					 "curves[%zu]: unknown, expected P256, "
					 "P384, P521, X25519 or X448",
					 i);
				return -1;
			}
			if (add(out, size, ":+", curves[k].gnutls) < 0)
				goto full;
		}
	}
	if (add(out, size, "", ":%SERVER_PRECEDENCE") < 0)
		goto full;
	return 0;
full:
	snprintf(err, errsize, "priority string too long");
	return -1;
}

int tls_configured(const struct cfg_server *srv)
{
	return srv->tls.public_key_file.n > 0 &&
	       srv->tls.private_key_file.n == srv->tls.public_key_file.n;
}

/* tls_path - a relative path names a systemd credential when
 * $CREDENTIALS_DIRECTORY is set (LoadCredential=), so the session user
 * needs no access to the key file itself */
static const char *tls_path(const char *p, char *buf, size_t size)
{
	const char *cd = getenv("CREDENTIALS_DIRECTORY");

	if (p[0] == '/' || !cd)
		return p;
	snprintf(buf, size, "%s/%s", cd, p);
	return buf;
}

/* key_matches - does the idx'th key belong to its certificate? Compares
 * key ids (hashes of the public key). GnuTLS's own check signs and
 * verifies a test message, which costs an RSA-2048 private-key operation
 * (2.3 ms measured) on every connection; this costs a hash. */
static int key_matches(gnutls_certificate_credentials_t cred, unsigned idx)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t *crts;
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);
	unsigned n = 0, i;
	int ok;

	if (G(gnutls_certificate_get_x509_key)(cred, idx, &key) < 0)
		return 0;
	if (G(gnutls_certificate_get_x509_crt)(cred, idx, &crts, &n) < 0) {
		G(gnutls_x509_privkey_deinit)(key);
		return 0;
	}
	ok = n > 0 && G(gnutls_x509_privkey_get_key_id)(key, 0, a, &al) == 0 &&
	     G(gnutls_x509_crt_get_key_id)(crts[0], 0, b, &bl) == 0 &&
	     al == bl && !memcmp(a, b, al);
	G(gnutls_x509_privkey_deinit)(key);
	for (i = 0; i < n; i++)
		G(gnutls_x509_crt_deinit)(crts[i]);
	(*p_free)(crts);
	return ok;
}

/* unreadable - 1 with "FILE: errno text" in why when path cannot be
 * opened for reading, so an error names the file of a pair that failed
 * and why (GnuTLS only says "Error while reading file") */
static int unreadable(const char *path, char *why, size_t whysize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	snprintf(why, whysize, "%s: %s", path, strerror(errno));
	return 1;
}

/* add_pair - one certificate (chain) and its key into cred as the
 * idx'th pair; 0, or -1 with the files and reason in why */
static int add_pair(gnutls_certificate_credentials_t cred, unsigned idx,
                    const char *pub, const char *priv, char *why,
                    size_t whysize)
{
	char cb[1024], kb[1024];
	const char *c = tls_path(pub, cb, sizeof(cb));
	const char *k = tls_path(priv, kb, sizeof(kb));
	int r;

	r = G(gnutls_certificate_set_x509_key_file2)(cred, c, k,
						     GNUTLS_X509_FMT_PEM, NULL,
						     0);
	if (r >= 0 && !key_matches(cred, idx))
		r = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
	if (r < 0) {
		if (unreadable(c, why, whysize) || unreadable(k, why, whysize))
			return -1;
		snprintf(why, whysize, "%s / %s: %s", c, k,
			 G(gnutls_strerror)(r));
		return -1;
	}
	return 0;
}

/* tls_creds - read every certificate and key of the entry (per
 * connection): public_key_file/private_key_file first, so the first of
 * them is the default, then tls.certificates. GnuTLS picks among them
 * per handshake: a certificate whose names match the client's SNI (and
 * whose key suits the handshake), else the first that suits. 0, or -1
 * with the failing file and reason in why */
static int tls_creds(const struct cfg_tls *t,
                     gnutls_certificate_credentials_t *cred, char *why,
                     size_t whysize)
{
	size_t i, n = t->public_key_file.n;
	int r;

	r = G(gnutls_certificate_allocate_credentials)(cred);
	if (r < 0) {
		snprintf(why, whysize, "%s", G(gnutls_strerror)(r));
		return -1;
	}
	G(gnutls_certificate_set_flags)(*cred,
					GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	for (i = 0; i < n; i++)
		if (add_pair(*cred, (unsigned)i, t->public_key_file.v[i],
			     t->private_key_file.v[i], why, whysize) < 0)
			goto fail;
	for (i = 0; i < t->certificates.pub.n; i++)
		if (add_pair(*cred, (unsigned)(n + i),
			     t->certificates.pub.v[i],
			     t->certificates.key.v[i], why, whysize) < 0)
			goto fail;
	if (t->root_cas_file) {
		char rb[1024];
		const char *ca = tls_path(t->root_cas_file, rb, sizeof(rb));

		r = G(gnutls_certificate_set_x509_trust_file)(
			*cred, ca, GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			if (!unreadable(ca, why, whysize))
				snprintf(why, whysize, "%s: %s", ca,
					 G(gnutls_strerror)(r));
			goto fail;
		}
	}
	return 0;
fail:
	G(gnutls_certificate_free_credentials)(*cred);
	*cred = NULL;
	return -1;
}

/* ---- SNI names GnuTLS does not match itself ---- */

#define SNI_PAIRS_MAX 64

/* pair_files - the certificate and key file of the entry's idx'th pair
 * (public_key_file first, then tls.certificates); 0, or -1 past the end */
static int pair_files(const struct cfg_tls *t, size_t idx, const char **pub,
                      const char **priv)
{
	size_t n = t->public_key_file.n;

	if (idx < n) {
		*pub = t->public_key_file.v[idx];
		*priv = t->private_key_file.v[idx];
		return 0;
	}
	if (idx - n < t->certificates.pub.n) {
		*pub = t->certificates.pub.v[idx - n];
		*priv = t->certificates.key.v[idx - n];
		return 0;
	}
	return -1;
}

/* name_rank - how the certificate name pat covers host: 3 equal byte
 * for byte (GnuTLS's own rule), 2 equal but for case, 1 by a wildcard
 * that is the whole leftmost label ("*.example.net" covers
 * "mx.example.net", neither "a.mx.example.net" nor "example.net"), 0 not */
static int name_rank(const char *pat, size_t pl, const char *host, size_t hl)
{
	const char *dot;

	if (pl == hl && !memcmp(pat, host, hl))
		return 3;
	if (pl == hl && !strncasecmp(pat, host, hl))
		return 2;
	if (pl < 3 || pat[0] != '*' || pat[1] != '.')
		return 0;
	dot = memchr(host, '.', hl);
	if (!dot || dot == host || (size_t)(host + hl - dot) != pl - 1)
		return 0;
	return !strncasecmp(dot, pat + 1, pl - 1) ? 1 : 0;
}

/* pair_rank - the best name_rank of pair idx's DNS names (its
 * subjectAltName; a certificate without one is not matched by name) */
static int pair_rank(gnutls_certificate_credentials_t cred, unsigned idx,
                     const char *host, size_t hl)
{
	gnutls_x509_crt_t *crts;
	unsigned n = 0, i, crit;
	int best = 0, type;

	if (G(gnutls_certificate_get_x509_crt)(cred, idx, &crts, &n) < 0)
		return 0;
	for (i = 0; n > 0 && best < 3; i++) {
		char name[256];
		size_t nl = sizeof(name);
		int r;

		type = G(gnutls_x509_crt_get_subject_alt_name)(crts[0], i,
								name, &nl,
								&crit);
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (type < 0)
			break;
		if (type != GNUTLS_SAN_DNSNAME)
			continue;
		r = name_rank(name, strnlen(name, nl), host, hl);
		if (r > best)
			best = r;
	}
	for (i = 0; i < n; i++)
		G(gnutls_x509_crt_deinit)(crts[i]);
	(*p_free)(crts);
	return best;
}

/* sni_pick - the post-ClientHello hook: when no pair has the client's
 * SNI name byte for byte (GnuTLS then takes the first pair that suits)
 * but some match without regard to case or by a wildcard, give this
 * handshake credentials with those pairs first, the others after them,
 * so that GnuTLS takes the first matching pair that suits the key
 * exchange and falls back as before. The pairs are read again from their
 * files (as the inetd mode reads them per connection), only then. */
static int sni_pick(gnutls_session_t s)
{
	const struct cfg_tls *t = st.tls;
	unsigned char rank[SNI_PAIRS_MAX];
	char host[256], why[600];
	size_t hl = sizeof(host) - 1, n, i, k, at = 0;
	unsigned type = 0;
	int best = 0, r;
	gnutls_certificate_credentials_t c;

	/* a second ClientHello (after a HelloRetryRequest) keeps the
	 * choice made for the first */
	if (st.sni_cred)
		return 0;
	if (!t || G(gnutls_server_name_get)(s, host, &hl, &type, 0) < 0 ||
	    type != GNUTLS_NAME_DNS || hl == 0)
		return 0;
	host[hl < sizeof(host) ? hl : sizeof(host) - 1] = '\0';
	hl = strlen(host);
	n = t->public_key_file.n + t->certificates.pub.n;
	if (n < 2 || n > SNI_PAIRS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		rank[i] = (unsigned char)pair_rank(st.cred, (unsigned)i, host,
						   hl);
		if (rank[i] > best)
			best = rank[i];
	}
	/* GnuTLS's own choice is right when a name is equal, or when
	 * nothing matches, or when the matching pairs come first already */
	if (best == 0 || best == 3)
		return 0;
	for (i = 0; i < n && rank[i] == best; i++)
		;
	for (k = i; k < n && rank[k] != best; k++)
		;
	if (k == n)
		return 0;
	r = G(gnutls_certificate_allocate_credentials)(&c);
	if (r < 0)
		return 0;
	G(gnutls_certificate_set_flags)(c,
					GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	for (k = 0; k < 2; k++)
		for (i = 0; i < n; i++) {
			const char *pub, *priv;

			if ((rank[i] == best) != (k == 0) ||
			    pair_files(t, i, &pub, &priv) < 0)
				continue;
			if (add_pair(c, (unsigned)at++, pub, priv, why,
				     sizeof(why)) < 0) {
				log_warnx("TLS: SNI %s: %s", host, why);
				G(gnutls_certificate_free_credentials)(c);
				return 0;
			}
		}
	if (t->root_cas_file) {
		char rb[1024];

		G(gnutls_certificate_set_x509_trust_file)(
			c, tls_path(t->root_cas_file, rb, sizeof(rb)),
			GNUTLS_X509_FMT_PEM);
	}
	if (G(gnutls_credentials_set)(s, GNUTLS_CRD_CERTIFICATE, c) < 0) {
		G(gnutls_certificate_free_credentials)(c);
		return 0;
	}
	st.sni_cred = c;
	log_debug("TLS: SNI %s matched %s", host,
		  best == 2 ? "without regard to case" : "by a wildcard");
	return 0;
}

/* ---- the transport below io.c once TLS is up ---- */

static ssize_t tls_rd(struct io *io, void *p, size_t n)
{
	ssize_t r = G(gnutls_record_recv)(io->ctx, p, n);

	if (r >= 0)
		return r;
	if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
		errno = EINTR;
	else if (r == GNUTLS_E_TIMEDOUT)
		errno = ETIMEDOUT;
	else if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* the client just closed */
	else
		errno = EPROTO;
	return -1;
}

static ssize_t tls_wr(struct io *io, const void *p, size_t n)
{
	ssize_t r = G(gnutls_record_send)(io->ctx, p, n);

	if (r >= 0)
		return r;
	errno = (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN) ? EINTR
								  : EPIPE;
	return -1;
}

static size_t tls_pending(struct io *io)
{
	return G(gnutls_record_check_pending)(io->ctx);
}

/* prep_find - the parent's priority cache (and in *cred its credentials)
 * for srv, or NULL: then this session reads them itself */
static gnutls_priority_t prep_find(const struct cfg_server *srv,
                                   gnutls_certificate_credentials_t *cred)
{
	size_t i;

	for (i = 0; used && i < used->n; i++)
		if (used->srv[i] == srv) {
			if (cred)
				*cred = used->cred[i];
			return used->prio[i];
		}
	return NULL;
}

/* session_creds - st.cred from the parent's set, else read now */
static int session_creds(const struct cfg_server *srv, char *why,
                         size_t whysize)
{
	if (prep_find(srv, &st.cred)) {
		st.cred_owned = 0;
		return 0;
	}
	if (tls_load_lib() < 0) {
		snprintf(why, whysize, "cannot load libgnutls.so.30");
		return -1;
	}
	st.cred_owned = 1;
	return tls_creds(&srv->tls, &st.cred, why, whysize);
}

/* ticket_file_key - the inetd mode's shared key, read from the file
 * spoolerd writes (spoolerd/ticket.c); 0, or -1 (no tickets: logged at
 * debug, or as a warning for a file others may read) */
static int ticket_file_key(const struct cfg *cfg, gnutls_datum_t *d)
{
	static unsigned char key[64];
	char path[1024];
	struct stat sb;
	ssize_t got;
	int fd;

	if (cfg_ticket_key_path(cfg, path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_debug("TLS: no session tickets: %s: %s", path,
			  strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size != (off_t)sizeof(key)) {
		log_warnx("TLS: no session tickets: %s is not a %zu-byte "
			  "file",
			  path, sizeof(key));
		close(fd);
		return -1;
	}
	if (sb.st_mode & 0007) {
		/* a key others can read lets them decrypt every session
		 * that used its tickets */
		log_warnx("TLS: no session tickets: %s is readable by "
			  "others (mode %04o)",
			  path, (unsigned)(sb.st_mode & 07777));
		close(fd);
		return -1;
	}
	got = read(fd, key, sizeof(key));
	close(fd);
	if (got != (ssize_t)sizeof(key))
		return -1;
	d->data = key;
	d->size = sizeof(key);
	return 0;
}

/* tickets_on - turn on session tickets (RFC 5077, RFC 8446 4.6.1) with
 * the shared key: the parent's in the accept mode, else the file's */
static void tickets_on(const struct run *r, int prepared)
{
	gnutls_datum_t d;
	int ret;

	if (prepared && tk.data)
		d = tk;
	else if (ticket_file_key(r->s->cfg, &d) < 0)
		return;
	ret = G(gnutls_session_ticket_enable_server)(st.session, &d);
	if (ret < 0)
		log_warnx("TLS: session tickets: %s", G(gnutls_strerror)(ret));
}

/* handshake - set up and run the server side handshake on fds 0/1 */
static int handshake(struct run *r)
{
	const struct cfg_server *srv = r->s->srv;
	const struct cfg_tls *t = &srv->tls;
	char prio[1024], err[160], desc[128];
	const char *pos = NULL, *proto, *suite;
	gnutls_priority_t cache = prep_find(srv, NULL);
	int ret;

	if (!cache &&
	    tls_priority(t, prio, sizeof(prio), err, sizeof(err)) < 0) {
		log_error("TLS: servers.tls.%s", err);
		return -1;
	}
	if (reseed && lib && p_rnd_refresh) {
		/* the parent's generator state, forked: reseed first */
		reseed = 0;
		p_rnd_refresh();
	}
	ret = G(gnutls_init)(&st.session, GNUTLS_SERVER);
	if (ret < 0)
		goto fail;
	if (cache)
		ret = G(gnutls_priority_set)(st.session, cache);
	else
		ret = G(gnutls_priority_set_direct)(st.session, prio, &pos);
	if (ret < 0)
		goto fail;
	ret = G(gnutls_credentials_set)(st.session, GNUTLS_CRD_CERTIFICATE,
					st.cred);
	if (ret < 0)
		goto fail;
	if (t->session_tickets)
		tickets_on(r, cache != NULL);
	st.tls = t;
	G(gnutls_handshake_set_post_client_hello_function)(st.session,
							   sni_pick);
	if (!strcasecmp(t->client_auth_type, "RequestClientCert") ||
	    !strcasecmp(t->client_auth_type, "VerifyClientCertIfGiven"))
		G(gnutls_certificate_server_set_request)(st.session,
							 GNUTLS_CERT_REQUEST);
	else if (!strcasecmp(t->client_auth_type, "RequireAnyClientCert") ||
		 !strcasecmp(t->client_auth_type,
			     "RequireAndVerifyClientCert"))
		G(gnutls_certificate_server_set_request)(st.session,
							 GNUTLS_CERT_REQUIRE);
	st.verify = !strncasecmp(t->client_auth_type, "Verify", 6) ||
		    !strcasecmp(t->client_auth_type,
				"RequireAndVerifyClientCert");
	G(gnutls_transport_set_int2)(st.session, r->io->rfd, r->io->wfd);
	G(gnutls_handshake_set_timeout)(st.session,
					(unsigned)t->handshake_timeout * 1000);
	G(gnutls_record_set_timeout)(st.session,
				     (unsigned)srv->timeout * 1000);
	do {
		ret = G(gnutls_handshake)(st.session);
	} while (ret < 0 && !G(gnutls_error_is_fatal)(ret) && !io_stop);
	if (ret < 0)
		goto fail;
	if (st.verify) {
		unsigned status = 0, n = 0;

		if (G(gnutls_certificate_get_peers)(st.session, &n) && n &&
		    (G(gnutls_certificate_verify_peers2)(st.session, &status) <
			     0 ||
		     status != 0)) {
			log_info("TLS: client certificate from %s not "
				 "trusted (status 0x%x)",
				 r->s->peer_ip, status);
			return -1;
		}
	}
	proto = G(gnutls_protocol_get_name)(
		G(gnutls_protocol_get_version)(st.session));
	suite = G(gnutls_ciphersuite_get)(st.session);
	snprintf(desc, sizeof(desc), "%s %s", proto ? proto : "TLS",
		 suite ? suite : "unknown");
	r->io->ctx = st.session;
	r->io->rd = tls_rd;
	r->io->wr = tls_wr;
	r->io->pending = tls_pending;
	session_tls_done(r->s, desc);
	log_debug("TLS established with %s: %s%s", r->s->peer_ip, desc,
		  G(gnutls_session_is_resumed)(st.session) ? " (resumed)"
							   : "");
	return 0;
fail:
	log_info("TLS handshake with %s failed: %s", r->s->peer_ip,
		 io_stop ? "timeout" : G(gnutls_strerror)(ret));
	if (r->s->end == END_NONE)
		r->s->end = END_TLS;
	return -1;
}

int tls_starttls(struct run *r)
{
	char why[600];
	size_t pending;

	if (session_creds(r->s->srv, why, sizeof(why)) < 0) {
		if (lib)
			log_error("TLS: %s", why);
		session_reply(r->s, R_TLS_UNAVAIL);
		return 0;
	}
	session_reply(r->s, R_TLS_GO);
	if (run_flush(r) < 0)
		return -1;
	pending = r->io->end - r->io->start;
	if (pending) {
		/* never let plaintext sent before the handshake be read as
		 * commands inside TLS (RFC 3207 5, CVE-2011-0411) */
		log_info("discarding %zu bytes sent after STARTTLS by %s",
			 pending, r->s->peer_ip);
		r->io->start = r->io->end;
	}
	return handshake(r);
}

int tls_implicit(struct run *r)
{
	char why[600];

	if (session_creds(r->s->srv, why, sizeof(why)) < 0) {
		if (lib)
			log_error("TLS: %s", why);
		return -1;
	}
	return handshake(r);
}

void tls_end(struct run *r)
{
	(void)r;
	if (st.session) {
		if (!io_stop)
			G(gnutls_bye)(st.session, GNUTLS_SHUT_WR);
		G(gnutls_deinit)(st.session);
		st.session = NULL;
	}
	if (st.cred && st.cred_owned)
		G(gnutls_certificate_free_credentials)(st.cred);
	st.cred = NULL;
	if (st.sni_cred)
		G(gnutls_certificate_free_credentials)(st.sni_cred);
	st.sni_cred = NULL;
	st.tls = NULL;
}

/* read_file - whole small file into a malloc'd datum; 0 or -1 */
static int read_file(const char *path, gnutls_datum_t *d)
{
	struct stat sb;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || sb.st_size > 1 << 20) {
		close(fd);
		return -1;
	}
	d->data = malloc((size_t)sb.st_size + 1);
	if (!d->data) {
		close(fd);
		return -1;
	}
	got = read(fd, d->data, (size_t)sb.st_size);
	close(fd);
	if (got != sb.st_size) {
		free(d->data);
		return -1;
	}
	d->size = (unsigned)got;
	return 0;
}

/* check_expiry - warn about an expired or soon expiring certificate */
static void check_expiry(const char *path, const char *key, cfg_diag_fn diag,
                         void *arg)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	char msg[600], when[64];
	time_t exp;

	if (read_file(path, &d) < 0)
		return;
	if (G(gnutls_x509_crt_init)(&crt) == 0) {
		if (G(gnutls_x509_crt_import)(crt, &d, GNUTLS_X509_FMT_PEM) ==
		    0) {
			exp = G(gnutls_x509_crt_get_expiration_time)(crt);
			util_rfc5322_date((long long)exp, when, sizeof(when));
			if (exp < time(NULL)) {
				snprintf(msg, sizeof(msg),
					 "%s: %s: certificate expired on %s",
					 key, path, when);
				diag(arg, 0, msg);
			} else if (exp < time(NULL) + 14 * 86400) {
				snprintf(msg, sizeof(msg),
					 "%s: %s: certificate expires on %s",
					 key, path, when);
				diag(arg, 0, msg);
			}
		}
		G(gnutls_x509_crt_deinit)(crt);
	}
	free(d.data);
}

int tls_check(const struct cfg_server *srv, const char *prefix,
              cfg_diag_fn diag, void *arg)
{
	const struct cfg_tls *t = &srv->tls;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t pr;
	char prio[1024], err[160], why[600], msg[900];
	const char *pos = NULL;
	size_t i;
	int errors = 0;

	if (!t->start_tls_on && !t->tls_always_on)
		return 0;
	if (!tls_configured(srv)) {
		snprintf(msg, sizeof(msg),
			 "%s.public_key_file: TLS is on but no certificate "
			 "is set",
			 prefix);
		diag(arg, !t->start_tls_on || t->tls_always_on, msg);
		return t->tls_always_on ? 1 : 0;
	}
	if (tls_priority(t, prio, sizeof(prio), err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s.%s", prefix, err);
		diag(arg, 1, msg);
		return 1;
	}
	if (tls_load_lib() < 0) {
		snprintf(msg, sizeof(msg), "%s: cannot load libgnutls.so.30",
			 prefix);
		diag(arg, 1, msg);
		return 1;
	}
	if (G(gnutls_priority_init)(&pr, prio, &pos) < 0) {
		snprintf(msg, sizeof(msg),
			 "%s.priority: GnuTLS refuses \"%s\" near \"%s\"",
			 prefix, prio, pos ? pos : "");
		diag(arg, 1, msg);
		errors++;
	} else {
		G(gnutls_priority_deinit)(pr);
	}
	if (tls_creds(t, &cred, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "%s.public_key_file: %s", prefix,
			 why);
		diag(arg, 1, msg);
		errors++;
	} else {
		G(gnutls_certificate_free_credentials)(cred);
	}
	for (i = 0; i < t->public_key_file.n; i++) {
		char cb[1024], key[160];

		snprintf(key, sizeof(key), "%s.public_key_file", prefix);
		check_expiry(tls_path(t->public_key_file.v[i], cb, sizeof(cb)),
			     key, diag, arg);
	}
	for (i = 0; i < t->certificates.pub.n; i++) {
		char cb[1024], key[160];

		snprintf(key, sizeof(key), "%s.certificates[%zu]", prefix, i);
		check_expiry(
			tls_path(t->certificates.pub.v[i], cb, sizeof(cb)),
			key, diag, arg);
	}
	return errors;
}

struct tls_prep *tls_prepare(const struct cfg *cfg, cfg_diag_fn diag,
                             void *arg, int *errors)
{
	struct tls_prep *p = calloc(1, sizeof(*p));
	size_t k;

	*errors = 0;
	if (!p)
		goto oom;
	p->srv = calloc(cfg->nservers + 1, sizeof(*p->srv));
	p->cred = calloc(cfg->nservers + 1, sizeof(*p->cred));
	p->prio = calloc(cfg->nservers + 1, sizeof(*p->prio));
	if (!p->srv || !p->cred || !p->prio)
		goto oom;
	for (k = 0; k < cfg->nservers; k++) {
		const struct cfg_server *srv = &cfg->servers[k];
		char prio[1024], err[160], why[600], msg[900], prefix[48];
		const char *pos = NULL;
		gnutls_certificate_credentials_t cred;
		gnutls_priority_t pr;

		if (!srv->is_enabled || !tls_configured(srv) ||
		    (!srv->tls.start_tls_on && !srv->tls.tls_always_on))
			continue;
		snprintf(prefix, sizeof(prefix), "servers[%zu].tls", k);
		/* the same checks as --check-config, expiry warnings too */
		if (tls_check(srv, prefix, diag, arg) > 0) {
			(*errors)++;
			continue;
		}
		if (tls_priority(&srv->tls, prio, sizeof(prio), err,
				 sizeof(err)) < 0 ||
		    G(gnutls_priority_init)(&pr, prio, &pos) < 0) {
			(*errors)++;
			continue;
		}
		if (tls_creds(&srv->tls, &cred, why, sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg), "%s.public_key_file: %s",
				 prefix, why);
			diag(arg, 1, msg);
			G(gnutls_priority_deinit)(pr);
			(*errors)++;
			continue;
		}
		p->srv[p->n] = srv;
		p->cred[p->n] = cred;
		p->prio[p->n++] = pr;
	}
	tls_prep_tick(p, cfg->tls_ticket_rotate);
	return p;
oom:
	diag(arg, 1, "TLS: out of memory");
	tls_prep_free(p);
	(*errors)++;
	return NULL;
}

void tls_prep_free(struct tls_prep *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		G(gnutls_certificate_free_credentials)(p->cred[i]);
		G(gnutls_priority_deinit)(p->prio[i]);
	}
	if (used == p)
		used = NULL;
	free(p->srv);
	free(p->cred);
	free(p->prio);
	free(p);
}

/* mono_ms - CLOCK_MONOTONIC in ms */
static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tls_prep_tick(const struct tls_prep *p, long long rotate_ms)
{
	gnutls_datum_t n;
	size_t i;
	int want = 0, ret;

	for (i = 0; p && i < p->n; i++)
		want |= p->srv[i]->tls.session_tickets;
	if (!want || (tk.data && mono_ms() - tk_born < rotate_ms))
		return;
	ret = G(gnutls_session_ticket_key_generate)(&n);
	if (ret < 0) {
		log_error("TLS: session-ticket key: %s",
			  G(gnutls_strerror)(ret));
		return;
	}
	if (tk.data) {
		memset(tk.data, 0, tk.size);
		(*p_free)(tk.data);
		log_info("TLS: new session-ticket key (every %lld s)",
			 rotate_ms / 1000);
	}
	tk = n;
	tk_born = mono_ms();
}

void tls_use(const struct tls_prep *p)
{
	used = p;
	/* GnuTLS notices a fork itself; reseed anyway (STYLE 13), but
	 * only when a handshake is due (handshake): in a session without
	 * TLS the reseed was 1 getrandom and ~10 of its 61 page faults
	 * (GnuTLS's and nettle's code and state), for nothing */
	reseed = 1;
}

const char *tls_file_path(const char *p, char *buf, size_t size)
{
	return tls_path(p, buf, size);
}
