/* sandbox.h - the session's seccomp filter and process flags */
#ifndef SANDBOX_H
#define SANDBOX_H

/* sandbox_enter - not dumpable, no new privileges, and the filter of
 * sandbox.c; 0, 1 when this build has no filter (a sanitizer build or
 * an architecture without one: errno ENOSYS), -1 on failure (errno) */
int sandbox_enter(void);

#endif
