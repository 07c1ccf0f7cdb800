/*
 * sampler.c - a thread that watches the server while the load runs:
 * the launcher's children (the smtpd-session processes), their summed RSS
 * (every sample) and PSS (every pss_every-th sample, smaps_rollup is
 * dearer), the age of the oldest session against a limit, spoolerd's RSS,
 * the backlog in spool new/, and the machine's MemAvailable.
 */
#include "loadgen.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	int lpid, spid;
	const char *spool;
	double age_limit, interval;
	int pss_every;
	volatile int stop;
	pthread_t th;
	int running;
	struct sample_stats st;
} S;

static int read_file(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	size_t got;

	if (!f)
		return -1;
	got = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[got] = '\0';
	return (int)got;
}

/* stat_fields - starttime (ticks), rss (pages) and the state letter
 * (R, S, D, Z, ...) from /proc/PID/stat */
static int stat_fields(int pid, unsigned long long *start, long long *rss,
                       char *state)
{
	char path[64], buf[1024], *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return -1;
	p++;
	/* field 3 is the state, after ") " */
	*state = p[0] == ' ' ? p[1] : '?';
	for (field = 2; *p && field < 24; p++) {
		if (*p == ' ') {
			field++;
			if (field == 22)
				*start = strtoull(p + 1, NULL, 10);
			if (field == 24)
				*rss = strtoll(p + 1, NULL, 10);
		}
	}
	return field >= 24 ? 0 : -1;
}

static long long pss_kib(int pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nPss:");
	if (!p)
		return -1;
	return strtoll(p + 5, NULL, 10);
}

static long long meminfo(const char *key)
{
	char buf[8192], *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, key);
	if (!p)
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

static long long count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void *run(void *arg)
{
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE) / 1024;
	int *pids = NULL, round = 0;
	size_t cap = 0;
	char path[128], buf[1 << 16], up[64];
	struct timespec ts;

	(void)arg;
	S.st.min_mem_avail_kib = S.st.mem_avail_start_kib =
		meminfo("MemAvailable:");
	while (!S.stop) {
		size_t n = 0, nz = 0;
		long long rss = 0, pss = 0, v;
		double uptime;
		char *p;
		int do_pss = S.pss_every > 0 && round % S.pss_every == 0;

		round++;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
			 S.lpid, S.lpid);
		if (S.lpid > 0 && read_file(path, buf, sizeof(buf)) >= 0) {
			for (p = buf; *p;) {
				char *e;
				long pid = strtol(p, &e, 10);

				if (e == p)
					break;
				if (n == cap) {
					int *np;

					cap = cap ? cap * 2 : 1024;
					np = realloc(pids, cap * sizeof(*pids));
					if (!np) {
						free(pids);
						return NULL;
					}
					pids = np;
				}
				pids[n++] = (int)pid;
				p = e;
				while (*p == ' ' || *p == '\n')
					p++;
			}
		}
		read_file("/proc/uptime", up, sizeof(up));
		uptime = strtod(up, NULL);
		for (size_t i = 0; i < n; i++) {
			unsigned long long start = 0;
			long long r = 0;
			double age;
			char state = '?';

			if (stat_fields(pids[i], &start, &r, &state) < 0)
				continue;
			if (state == 'Z') {
				/* ended, not yet reaped by the launcher: no
				 * session any more, so no age */
				nz++;
				continue;
			}
			rss += r * page;
			age = uptime - (double)start / (double)hz;
			if (age > S.st.max_age_s) {
				S.st.max_age_s = age;
				S.st.oldest_pid = pids[i];
			}
			if (S.age_limit > 0 && age > S.age_limit)
				S.st.sessions_over_age++;
			if (do_pss && (v = pss_kib(pids[i])) > 0)
				pss += v;
		}
		S.st.samples++;
		if ((int)n > S.st.peak_procs)
			S.st.peak_procs = (int)n;
		if ((int)nz > S.st.peak_zombies)
			S.st.peak_zombies = (int)nz;
		if (rss > S.st.peak_rss_kib)
			S.st.peak_rss_kib = rss;
		/* PSS per live session: zombies have none */
		if (do_pss && pss > S.st.peak_pss_kib) {
			S.st.peak_pss_kib = pss;
			S.st.pss_procs_at_peak = (int)(n - nz);
		}
		if (do_pss && n - nz >= 10 &&
		    (double)pss / (double)(n - nz) >
			    S.st.max_pss_per_session_kib)
			S.st.max_pss_per_session_kib =
				(double)pss / (double)(n - nz);
		if (S.spid > 0) {
			unsigned long long st0;
			long long r = 0;
			char state;

			if (stat_fields(S.spid, &st0, &r, &state) == 0 &&
			    r * page > S.st.spoolerd_peak_rss_kib)
				S.st.spoolerd_peak_rss_kib = r * page;
		}
		if (S.spool) {
			snprintf(path, sizeof(path), "%s/new", S.spool);
			v = count_dir(path);
			if (v > S.st.peak_spool_new)
				S.st.peak_spool_new = v;
		}
		{
			char sb[8192], *q;

			if (read_file("/proc/stat", sb, sizeof(sb)) > 0 &&
			    (q = strstr(sb, "\nprocs_running "))) {
				int r = atoi(q + 15);

				if (r > S.st.peak_running)
					S.st.peak_running = r;
			}
			if (read_file("/proc/loadavg", sb, sizeof(sb)) > 0) {
				double la = strtod(sb, NULL);

				if (la > S.st.peak_loadavg)
					S.st.peak_loadavg = la;
			}
		}
		v = meminfo("MemAvailable:");
		if (v > 0 && v < S.st.min_mem_avail_kib)
			S.st.min_mem_avail_kib = v;
		{
			double t = S.interval;
			struct timespec sl = {(time_t)t,
					      (long)((t - (double)(time_t)t) *
						     1e9)};

			while (!S.stop && nanosleep(&sl, &sl) < 0 &&
			       errno == EINTR)
				;
		}
	}
	free(pids);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	S.st.sample_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return NULL;
}

int sampler_start(int launcher_pid, int spoolerd_pid, const char *spool,
		  double age_limit, double interval, int pss_every)
{
	memset(&S.st, 0, sizeof(S.st));
	S.lpid = launcher_pid;
	S.spid = spoolerd_pid;
	S.spool = spool;
	S.age_limit = age_limit;
	S.interval = interval > 0.01 ? interval : 0.5;
	S.pss_every = pss_every;
	S.st.age_limit_s = age_limit;
	S.stop = 0;
	if (pthread_create(&S.th, NULL, run, NULL) != 0)
		return -1;
	S.running = 1;
	return 0;
}

void sampler_stop(struct sample_stats *out)
{
	if (S.running) {
		S.stop = 1;
		pthread_join(S.th, NULL);
		S.running = 0;
	}
	*out = S.st;
}
