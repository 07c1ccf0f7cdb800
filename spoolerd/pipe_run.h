/* pipe_run.h - one command of the Pipe processor, from fork to exit */
#ifndef PIPE_RUN_H
#define PIPE_RUN_H

#include "processor.h"

#include <sys/types.h>

#define PIPE_MAX_GROUPS 256

/* pipe_job - who runs the command, and for how long at most */
struct pipe_job {
	long long timeout_ms;
	int setid; /* switch to uid, gid, groups in the child (under root) */
	uid_t uid;
	gid_t gid;
	gid_t groups[PIPE_MAX_GROUPS];
	int ngroups;
};

/* pipe_run - run argv (argv[0] a path, no shell) with envp as its whole
 * environment and in[0..nin) on its stdin: OK on exit 0; TEMP on 75, a
 * signal, the timeout or a failed exec; PERM on any other status; the
 * reason, with the first line of stderr (else stdout), in why */
enum proc_res pipe_run(const struct pipe_job *job, char **argv, char **envp,
		       const char *const *in, const size_t *inlen, size_t nin,
		       char *why, size_t n);

#endif
