/* test_msg.c - msg.c: the delivery headers, the stored message read on
 * demand, the payload plain and zlib-compressed, and io_copy_range with
 * and without copy_file_range. malloc, pread, copy_file_range and deflate
 * are wrapped (-Wl,--wrap) to fail them: an entry that shrank, a read
 * interrupted by a signal, memory running out. */
#include "testutil.h"

#include <errno.h>
#include <zlib.h>

static int fail_malloc, pread_eintr, pread_zero, fail_cfr, fail_deflate;
static int n_deflate;
static struct msg_zbody zb;

/* set_compress - msg_payload compresses at level from now on, as after
 * Compressor; level < -1: it does not */
static void set_compress(struct msg *mp, int level)
{
	free(zb.z);
	memset(&zb, 0, sizeof(zb));
	zb.level = level;
	msg_provide(mp, PROV_COMPRESSED, level < -1 ? NULL : &zb);
}

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	if (fail_malloc) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

/* pread_fails - an injected pread result, or 1 for the real call */
static ssize_t pread_fails(void)
{
	if (pread_eintr > 0) {
		pread_eintr--;
		errno = EINTR;
		return -1;
	}
	if (pread_zero)
		return 0;
	return 1;
}

/* glibc names pread pread64 on 64-bit, __pread64_chk when fortified */
ssize_t __real_pread64(int fd, void *b, size_t n, off_t off);
ssize_t __wrap_pread64(int fd, void *b, size_t n, off_t off)
{
	ssize_t r = pread_fails();

	return r < 1 ? r : __real_pread64(fd, b, n, off);
}

ssize_t __real___pread64_chk(int fd, void *b, size_t n, off_t off,
                             size_t bn);
ssize_t __wrap___pread64_chk(int fd, void *b, size_t n, off_t off, size_t bn)
{
	ssize_t r = pread_fails();

	return r < 1 ? r : __real___pread64_chk(fd, b, n, off, bn);
}

ssize_t __real_copy_file_range(int a, off_t *ao, int b, off_t *bo, size_t n,
                               unsigned f);
ssize_t __wrap_copy_file_range(int a, off_t *ao, int b, off_t *bo, size_t n,
                               unsigned f)
{
	if (fail_cfr) {
		errno = EXDEV;
		return -1;
	}
	return __real_copy_file_range(a, ao, b, bo, n, f);
}

int __real_deflate(z_streamp z, int flush);
int __wrap_deflate(z_streamp z, int flush)
{
	if (fail_deflate && flush != Z_NO_FLUSH)
		return Z_BUF_ERROR;
	n_deflate++;
	return __real_deflate(z, flush);
}

static char *dir, path[300];
static struct cfg *cfg;
static struct msg m;
static const char body[] = "Subject: hi\r\n\r\nhello\r\n";

static int setup(void **state)
{
	static const char *rcpts[] = {"bob@example.com", "postmaster"};

	(void)state;
	fail_malloc = pread_eintr = pread_zero = fail_cfr = fail_deflate = 0;
	dir = tu_tmpdir();
	snprintf(path, sizeof(path), "%s/entry", dir);
	cfg = tu_cfg("{\"backend_config\": "
		     "{\"primary_mail_host\": \"mx.example.com\"}}");
	tu_entry(path, "1.M1P1Q1", "alice@example.org", rcpts, 2, body, &m,
		 cfg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_msg_free(&m);
	cfg_free(cfg);
	tu_rm_rf(dir);
	free(dir);
	return 0;
}

/* stored - what msg_data must return: the entry from our Received on */
static char *stored(size_t *len)
{
	char *all = tu_read(path, len);
	char *s;

	assert_non_null(all);
	*len -= m.env.received_off;
	s = malloc(*len + 1);
	assert_non_null(s);
	memcpy(s, all + m.env.received_off, *len + 1);
	free(all);
	return s;
}

static void test_head(void **state)
{
	char *h;

	(void)state;
	assert_string_equal(msg_head(&m, 0),
			    "Return-Path: <alice@example.org>\r\n"
			    "Delivered-To: bob@example.com\r\n");
	/* made once, then kept */
	assert_ptr_equal(msg_head(&m, 0), msg_head(&m, 0));
	/* a bare postmaster gets primary_mail_host */
	assert_string_equal(msg_head(&m, 1),
			    "Return-Path: <alice@example.org>\r\n"
			    "Delivered-To: postmaster@mx.example.com\r\n");
	/* without a config it stays bare */
	m.cfg = NULL;
	h = msg_make_head(&m, 1);
	m.cfg = cfg;
	assert_string_equal(h, "Return-Path: <alice@example.org>\r\n"
			       "Delivered-To: postmaster\r\n");
	free(h);
	fail_malloc = 1;
	assert_null(msg_make_head(&m, 1));
	fail_malloc = 0;
}

static void test_data(void **state)
{
	size_t len, want_len;
	const char *d;
	char *want = stored(&want_len);

	(void)state;
	/* not enough memory: NULL, and nothing kept */
	fail_malloc = 1;
	assert_null(msg_data(&m, &len));
	fail_malloc = 0;
	assert_null(m.data);
	/* the entry shrank under us: EIO, nothing kept */
	pread_zero = 1;
	errno = 0;
	assert_null(msg_data(&m, &len));
	pread_zero = 0;
	assert_int_equal(errno, EIO);
	assert_null(m.data);
	/* reads interrupted by signals are retried */
	pread_eintr = 2;
	d = msg_data(&m, &len);
	assert_int_equal(pread_eintr, 0);
	assert_non_null(d);
	assert_int_equal(len, want_len);
	assert_memory_equal(d, want, len);
	assert_non_null(strstr(d, "hello\r\n"));
	/* read once, then kept */
	pread_zero = 1;
	assert_ptr_equal(msg_data(&m, &len), d);
	pread_zero = 0;
	free(want);
	/* an entry shorter than its own header says: EIO */
	msg_free_parts(&m);
	m.rcpt = calloc(m.env.nrcpts, sizeof(*m.rcpt));
	m.file_size = (off_t)m.env.received_off - 1;
	errno = 0;
	assert_null(msg_data(&m, &len));
	assert_int_equal(errno, EIO);
}

static void test_payload(void **state)
{
	size_t len, dl, want_len;
	char *p, *want = stored(&want_len), out[4096];
	const char *head;
	uLongf olen = sizeof(out);

	(void)state;
	head = msg_head(&m, 0);
	p = msg_payload(&m, 0, &len);
	assert_non_null(p);
	assert_int_equal(len, strlen(head) + want_len);
	assert_memory_equal(p, head, strlen(head));
	assert_memory_equal(p + strlen(head), want, want_len);
	assert_int_equal(p[len], '\0');
	free(p);

	/* Compressor at level 9: a zlib stream of the same bytes */
	set_compress(&m, 9);
	p = msg_payload(&m, 0, &len);
	assert_non_null(p);
	assert_int_equal(uncompress((Bytef *)out, &olen, (Bytef *)p, len),
			 Z_OK);
	assert_int_equal(olen, strlen(head) + want_len);
	assert_memory_equal(out + strlen(head), want, want_len);
	free(p);
	/* zlib refusing the level, or the stream not finishing: ENOMEM */
	set_compress(&m, 11);
	errno = 0;
	assert_null(msg_payload(&m, 0, &len));
	assert_int_equal(errno, ENOMEM);
	set_compress(&m, 0);
	fail_deflate = 1;
	errno = 0;
	assert_null(msg_payload(&m, 0, &len));
	fail_deflate = 0;
	assert_int_equal(errno, ENOMEM);
	set_compress(&m, -2);

	/* no memory for the copy, the head or the data: NULL */
	fail_malloc = 1;
	assert_null(msg_payload(&m, 0, &len));
	set_compress(&m, 9);
	assert_null(msg_payload(&m, 0, &len));
	set_compress(&m, -2);
	assert_null(msg_payload(&m, 1, &len)); /* head not made yet */
	fail_malloc = 0;
	free(m.data);
	m.data = NULL;
	pread_zero = 1;
	assert_null(msg_payload(&m, 0, &len));
	pread_zero = 0;
	assert_non_null(msg_data(&m, &dl));
	free(want);
}

/* copy_check - io_copy_range of the whole entry from offset 5 into a new
 * file; 0 and the bytes, or -1 */
static int copy_check(int dst_flags)
{
	char out[300];
	size_t n = 0, all_len = 0;
	char *all, *got;
	int dst, r;

	snprintf(out, sizeof(out), "%s/copy", dir);
	unlink(out);
	dst = open(out, O_CREAT | dst_flags, 0600);
	assert_true(dst >= 0);
	r = io_copy_range(m.fd, 5, m.file_size - 5, dst);
	close(dst);
	if (r < 0)
		return -1;
	all = tu_read(path, &all_len);
	got = tu_read(out, &n);
	assert_int_equal(n, all_len - 5);
	assert_memory_equal(got, all + 5, n);
	free(all);
	free(got);
	return 0;
}

/* unzip - p[0..len) as one zlib stream, into out (cap bytes); its length */
static size_t unzip(const char *p, size_t len, char *out, size_t cap)
{
	uLongf olen = cap;

	assert_int_equal(uncompress((Bytef *)out, &olen, (const Bytef *)p,
				    len),
			 Z_OK);
	return olen;
}

/* the data is compressed once per message; each recipient's payload is
 * one zlib stream of its own head and that data, with zlib's header for
 * the level */
static void test_payload_once(void **state)
{
	static const struct {
		int level;
		unsigned char flg;
	} lv[] = {{0, 0x01}, {1, 0x01}, {5, 0x5e}, {6, 0x9c}, {-1, 0x9c},
		  {9, 0xda}};
	size_t len, want_len, k, i, ol;
	char *want = stored(&want_len), *p, out[4096], why[64];
	struct msg_zbody *z;
	(void)state;

	for (k = 0; k < sizeof(lv) / sizeof(lv[0]); k++) {
		set_compress(&m, lv[k].level);
		n_deflate = 0;
		for (i = 0; i < 2; i++) {
			const char *head = msg_head(&m, i);

			p = msg_payload(&m, i, &len);
			assert_non_null(p);
			assert_int_equal((unsigned char)p[0], 0x78);
			assert_int_equal((unsigned char)p[1], lv[k].flg);
			ol = unzip(p, len, out, sizeof(out));
			assert_int_equal(ol, strlen(head) + want_len);
			assert_memory_equal(out, head, strlen(head));
			assert_memory_equal(out + strlen(head), want,
					    want_len);
			free(p);
		}
		assert_int_equal(n_deflate, 1);
	}
	set_compress(&m, -2);
	/* Compressor itself: its state is the product, freed with m */
	assert_false(msg_compressed(&m));
	assert_int_equal(m.compress, 0);
	assert_int_equal(proc_compressor.deliver(NULL, &m, why, sizeof(why)),
			 PROC_OK);
	assert_true(msg_compressed(&m));
	/* the old flag, for processors that read it */
	assert_int_equal(m.compress, (int)cfg->backend.compress_level + 1);
	z = msg_product(&m, PROV_COMPRESSED);
	assert_ptr_equal(z, msg_state(&m, &proc_compressor));
	assert_int_equal(z->level, (int)cfg->backend.compress_level);
	p = msg_payload(&m, 1, &len);
	assert_non_null(p);
	assert_true(z->built);
	ol = unzip(p, len, out, sizeof(out));
	assert_memory_equal(out + ol - want_len, want, want_len);
	free(p);
	free(want);
}

/* a message too big for one deflate block, and incompressible */
static void test_payload_big(void **state)
{
	const char *rc[] = {"a@example.com", "b@example.com", "c@example.com"};
	size_t n = 300000, i, len, ol, hl;
	char *big = malloc(n + 3), *out = malloc(n + 4096), *p, ep[400];
	unsigned x = 1;
	struct msg m2;
	(void)state;

	assert_non_null(big);
	assert_non_null(out);
	memcpy(big, "X: y\r\n\r\n", 8);
	for (i = 8; i < n; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)('!' + (x >> 16) % 90);
	}
	memcpy(big + n, "\r\n", 3);
	snprintf(ep, sizeof(ep), "%s/big", dir);
	tu_entry(ep, "2.M2P2Q2", "s@example.org", rc, 3, big, &m2, cfg);
	set_compress(&m2, 9);
	n_deflate = 0;
	for (i = 0; i < 3; i++) {
		const char *head = msg_head(&m2, i);

		hl = strlen(head);
		p = msg_payload(&m2, i, &len);
		assert_non_null(p);
		ol = unzip(p, len, out, n + 4096);
		assert_memory_equal(out, head, hl);
		assert_memory_equal(out + ol - (n + 2), big, n + 2);
		free(p);
	}
	assert_int_equal(n_deflate, 1);
	set_compress(&m2, -2);
	tu_msg_free(&m2);
	free(big);
	free(out);
}

/* per-message states: made once, found again, freed last first */
static int t_made, t_freed[4], t_nfreed;

static void *t_new(struct msg *mp)
{
	int *v = malloc(sizeof(*v));

	(void)mp;
	assert_non_null(v);
	*v = ++t_made;
	return v;
}

static void t_free(void *p)
{
	t_freed[t_nfreed++] = *(int *)p;
	free(p);
}

static void *t_null(struct msg *mp)
{
	(void)mp;
	return NULL;
}

static void test_state(void **state)
{
	static const struct proc_ops a = {.name = "A", .mstate_new = t_new,
					  .mstate_free = t_free};
	static const struct proc_ops b = {.name = "B", .mstate_new = t_new,
					  .mstate_free = t_free};
	static const struct proc_ops none = {.name = "None"};
	static const struct proc_ops oom = {.name = "Oom",
					    .mstate_new = t_null,
					    .mstate_free = t_free};
	int *sa, *sb;
	(void)state;

	sa = msg_state(&m, &a);
	assert_non_null(sa);
	sb = msg_state(&m, &b);
	assert_int_equal(*sb, 2);
	assert_ptr_equal(msg_state(&m, &a), sa);
	assert_int_equal(t_made, 2);
	assert_null(msg_state(&m, &none));
	msg_provide(&m, PROV_HASH, sb);
	assert_ptr_equal(msg_product(&m, PROV_HASH), sb);
	assert_null(msg_product(&m, PROV_HASH | PROV_HEAD));
	/* no memory: NULL, and nothing kept */
	assert_null(msg_state(&m, &oom));
	assert_int_equal(m.nslot, 2);
	msg_free_parts(&m);
	assert_int_equal(t_nfreed, 2);
	assert_int_equal(t_freed[0], 2);
	assert_int_equal(t_freed[1], 1);
	assert_null(msg_product(&m, PROV_HASH));
	assert_string_equal(msg_hash(&m, 0), "");
	assert_null(msg_headers(&m)->subject);
	m.rcpt = calloc(m.env.nrcpts, sizeof(*m.rcpt));
}

static void test_copy_range(void **state)
{
	int wo;

	(void)state;
	assert_int_equal(copy_check(O_WRONLY), 0);
	/* no copy_file_range across these file systems: read and write */
	fail_cfr = 1;
	assert_int_equal(copy_check(O_WRONLY), 0);
	pread_eintr = 1;
	assert_int_equal(copy_check(O_WRONLY), 0);
	assert_int_equal(pread_eintr, 0);
	/* the destination refuses writes */
	assert_int_equal(copy_check(O_RDONLY), -1);
	/* the entry is shorter than the range: EIO */
	pread_zero = 1;
	errno = 0;
	assert_int_equal(copy_check(O_WRONLY), -1);
	assert_int_equal(errno, EIO);
	pread_zero = 0;
	/* the source cannot be read */
	wo = open(path, O_WRONLY);
	assert_true(wo >= 0);
	errno = 0;
	assert_int_equal(io_copy_range(wo, 0, 10, 1), -1);
	assert_int_equal(errno, EBADF);
	close(wo);
	fail_cfr = 0;
	assert_int_equal(io_copy_range(m.fd, 0, 0, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_payload_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_payload_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_range, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
