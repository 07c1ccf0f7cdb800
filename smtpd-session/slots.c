/*
 * slots.c - connection limits that hold under any launcher.
 *
 * systemd's socket unit has MaxConnections and MaxConnectionsPerSource;
 * xinetd and tcpserver have their own knobs or none. So the session
 * enforces max_clients and max_clients_per_ip itself, crash-safe: a slot
 * is one byte of a file under spool_dir/slots, held with an open file
 * description lock (F_OFD_SETLK) for the life of the process. The kernel
 * drops the lock when the process ends in any way, kill -9 included, so
 * no slot leaks and no cleanup is needed.
 *
 * Per-IP slots: the IP is hashed to one of SLOTS_BUCKETS buckets of
 * max_clients_per_ip bytes in a sparse file. Two addresses in one bucket
 * share its slots; with 65536 buckets that is rare, and errs on the side
 * of refusing a little early.
 */
#include "slots.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOTS_BUCKETS 65536

/* slot_file - open spool_dir/slots/NAME, creating both; fd or -1 */
static int slot_file(const char *spool, const char *name)
{
	char path[1200];
	int fd;

	snprintf(path, sizeof(path), "%s/slots/%s", spool, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (fd < 0 && errno == ENOENT) {
		char dir[1100];

		snprintf(dir, sizeof(dir), "%s/slots", spool);
		if (mkdir(dir, 0770) < 0 && errno != EEXIST)
			return -1;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0660);
	}
	return fd;
}

/* take_one - lock one free byte of [base, base+n), starting at a random
 * place so concurrent sessions rarely race for the same byte; 1 taken,
 * 0 all busy, -1 error */
static int take_one(int fd, off_t base, long n)
{
	struct timespec ts;
	long i, start;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = (long)(((unsigned long)ts.tv_nsec ^ (unsigned long)getpid()) %
		       (unsigned long)n);
	for (i = 0; i < n; i++) {
		struct flock fl;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = base + (start + i) % n;
		fl.l_len = 1;
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 1;
		if (errno != EAGAIN && errno != EACCES)
			return -1;
	}
	return 0;
}

/* fnv1a - a small stable hash of the IP text */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* file_name - "127.0.0.1_2525" from the listen_interface */
static void file_name(const struct cfg_server *srv, const char *suffix,
                      char *out, size_t size)
{
	size_t i;

	snprintf(out, size, "%s%s", srv->listen_interface, suffix);
	for (i = 0; out[i]; i++)
		if (out[i] == ':' || out[i] == '/' || out[i] == '[' ||
		    out[i] == ']')
			out[i] = '_';
}

/* slots_take - the entry's max_clients slot first, then the IP's */
enum slots_result slots_take(const struct cfg *cfg,
                              const struct cfg_server *srv,
                              const char *peer_ip)
{
	char name[300];
	int fd, r;

	if (srv->max_clients > 0) {
		file_name(srv, ".clients", name, sizeof(name));
		fd = slot_file(cfg->spool_dir, name);
		r = fd < 0 ? -1 : take_one(fd, 0, srv->max_clients);
		if (r < 0)
			log_error("max_clients not enforced: %s/slots/%s: %s",
				  cfg->spool_dir, name, strerror(errno));
		if (r == 0)
			return SLOTS_FULL;
		/* fd stays open: the lock lives as long as the process */
	}
	return slots_take_ip(cfg, srv, peer_ip, &fd);
}

enum slots_result slots_take_ip(const struct cfg *cfg,
                                const struct cfg_server *srv,
                                const char *ip, int *fd)
{
	char name[300];
	off_t bucket;
	int r;

	*fd = -1;
	if (srv->max_clients_per_ip <= 0 || strcmp(ip, "unknown") == 0)
		return SLOTS_OK;
	bucket = (off_t)(fnv1a(ip) % SLOTS_BUCKETS);
	file_name(srv, ".perip", name, sizeof(name));
	*fd = slot_file(cfg->spool_dir, name);
	r = *fd < 0 ? -1
		    : take_one(*fd, bucket * srv->max_clients_per_ip,
			       srv->max_clients_per_ip);
	if (r < 0)
		log_error("max_clients_per_ip not enforced: %s/slots/%s: %s",
			  cfg->spool_dir, name, strerror(errno));
	if (r <= 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return r == 0 ? SLOTS_IP_FULL : SLOTS_OK;
}
