/*
 * ticket.c - the session-ticket key of the inetd mode (README "TLS").
 *
 * Sessions under socket activation, tcpserver or xinetd are separate
 * processes that share nothing but files; for one to resume a TLS
 * session another one started, they need one ticket key. spoolerd, the
 * long-lived process, writes it: TICKET_KEY_SIZE random bytes (GnuTLS's
 * master key size) in tls_ticket_key_file, by default
 * spool_dir/tls/ticket.key. The directory is made 02750 (group
 * smtpd-spool through the spool's setgid bit, so sessions may read and
 * nobody else may enter), the file 0640.
 *
 * Rotation: a new key is written when the file's mtime is older than
 * tls_ticket_rotate (12 h); its age is the file's, so a restart does not
 * rotate. Tickets sealed with the previous key then no longer open: the
 * sender does a full handshake once and gets a new ticket. Inside one
 * key's life GnuTLS derives its ticket keys from it per period and still
 * accepts the previous period's (gnutls_session_ticket_enable_server).
 *
 * Atomic replacement: write a temporary file, fsync, rename over the key,
 * fsync the directory. A session opens either file whole.
 */
#include "ticket.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int ticket_wanted(const struct cfg *c)
{
	size_t i;

	for (i = 0; i < c->nservers; i++) {
		const struct cfg_server *s = &c->servers[i];

		if (s->is_enabled && s->tls.session_tickets &&
		    s->tls.public_key_file.n &&
		    (s->tls.start_tls_on || s->tls.tls_always_on))
			return 1;
	}
	return 0;
}

/* split - the directory part of path into dir; 0 or -1 (too long) */
static int split(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;

	if (n + 1 > size)
		return -1;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (n == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return 0;
}

/* fill_random - size bytes from the kernel's generator; 0 or -1 */
static int fill_random(unsigned char *p, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = getrandom(p + got, size - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* write_key - a new key into dirfd/name, atomically; 0 or -1 */
static int write_key(int dirfd, const char *name)
{
	unsigned char key[TICKET_KEY_SIZE];
	char tmp[300];
	int fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.new", name) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (fill_random(key, sizeof(key)) < 0)
		return -1;
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0640);
	if (fd < 0)
		return -1;
	ok = fchmod(fd, 0640) == 0 &&
	     write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) &&
	     fsync(fd) == 0;
	memset(key, 0, sizeof(key));
	if (close(fd) < 0)
		ok = 0;
	if (!ok || renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;

		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return fsync(dirfd);
}

int ticket_key_tick(const struct cfg *c, time_t now)
{
	char path[1024], dir[1024];
	const char *name;
	struct stat sb;
	int dirfd, r;

	if (!ticket_wanted(c))
		return 0;
	if (cfg_ticket_key_path(c, path, sizeof(path)) < 0 ||
	    split(path, dir, sizeof(dir)) < 0) {
		log_error("tls_ticket_key_file: path too long");
		return -1;
	}
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_size == TICKET_KEY_SIZE &&
	    (long long)(now - sb.st_mtime) * 1000 < c->tls_ticket_rotate &&
	    sb.st_mtime <= now + 60)
		return 0;
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	/* spool_dir/tls: made on first use, sessions enter it through
	 * the group the spool's setgid bit gives it */
	if (mkdir(dir, 0750) == 0) {
		/* past the umask; the setgid bit keeps the group */
		if (chmod(dir, 02750) < 0)
			log_warnx("chmod %s: %s", dir, strerror(errno));
	} else if (errno != EEXIST) {
		log_error("ticket key directory %s: %s", dir, strerror(errno));
		return -1;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_error("ticket key directory %s: %s", dir, strerror(errno));
		return -1;
	}
	r = write_key(dirfd, name);
	if (r < 0)
		log_error("ticket key %s: %s", path, strerror(errno));
	else
		log_info("ticket key %s: new key written", path);
	close(dirfd);
	return r < 0 ? -1 : 1;
}
