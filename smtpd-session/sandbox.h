/* sandbox.h - the session's seccomp filter and process flags */
#ifndef SANDBOX_H
#define SANDBOX_H

/* sandbox_enter - not dumpable, no new privileges, and the filter of
 * sandbox.c; 0, 1 when this build has no filter (a sanitizer build or
 * an architecture without one: errno ENOSYS), -1 on failure (errno) */
int sandbox_enter(void);

/* sandbox_prepare - the accept mode's parent, before its first fork: no
 * new privileges and the filter, installed on the parent itself so that
 * every child inherits it and sandbox_enter there does not attach it
 * again; the parent stays dumpable. Returns as sandbox_enter; on -1
 * nothing is marked inherited and each child installs its own */
int sandbox_prepare(void);

#endif
