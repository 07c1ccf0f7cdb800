/*
 * sandbox.c - what a session gives up before it reads a byte from the
 * client.
 *
 * Every session runs as the same uid, so every spool entry a session
 * wrote is, by ownership, open to every other session. What keeps them
 * apart is that an entry can only be reached by its name, and names hold
 * 128 random bits (spool.c). A session must therefore never learn a name
 * it did not make: it must not list a spool directory, watch one, or read
 * another process's memory. It still needs a readable descriptor of new/
 * (fsync(2) of a directory takes one), so the kernel's permission checks
 * alone cannot stop it from listing; this filter does:
 *
 *   getdents getdents64                 listing any directory
 *   inotify_* fanotify_*                names of files as they appear
 *   io_uring_*                          a second way into the kernel
 *   ptrace process_vm_* pidfd_getfd     another session's memory and fds
 *   name_to_handle_at open_by_handle_at names by file handle
 *
 * all fail with EPERM. PR_SET_DUMPABLE 0 keeps other sessions (same uid)
 * out of this one's /proc/PID/mem, and NO_NEW_PRIVS is what lets an
 * unprivileged process install a filter. System calls of another ABI
 * (i386 via int 0x80, x32) are refused outright: they would walk past
 * the numbers checked here. The filter is inherited by anything the
 * session could exec.
 *
 * The accept mode's parent installs the filter on itself, once, before
 * its first fork (sandbox_prepare): each attach costs the kernel a
 * conversion and JIT compilation of the program (~0.1 ms, measured),
 * whereas a forked child inherits the parent's filter for a reference
 * count. The child then only gives up being dumpable. The parent needs
 * none of the denied calls (it stats, opens, accepts, forks, reaps); it
 * stays dumpable, so that its own /proc entries stay its user's.
 *
 * Sanitizer builds skip the filter: LeakSanitizer lists /proc/self/task
 * and ptraces the process at exit.
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SB_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_SANITIZED 1
#endif
#endif

#if defined(SB_ARCH) && !defined(SB_SANITIZED)
static const int denied[] = {
#ifdef __NR_getdents
	__NR_getdents,
#endif
	__NR_getdents64,
#ifdef __NR_inotify_init
	__NR_inotify_init,
#endif
	__NR_inotify_init1,
	__NR_inotify_add_watch,
	__NR_fanotify_init,
	__NR_fanotify_mark,
	__NR_io_uring_setup,
	__NR_io_uring_enter,
	__NR_io_uring_register,
	__NR_ptrace,
	__NR_process_vm_readv,
	__NR_process_vm_writev,
	__NR_pidfd_getfd,
	__NR_name_to_handle_at,
	__NR_open_by_handle_at,
};

#define NDENIED (sizeof(denied) / sizeof(denied[0]))

/* set by sandbox_prepare; a forked child inherits it with the filter */
static int inherited;

#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
			 offsetof(struct seccomp_data, arch))
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
		       offsetof(struct seccomp_data, nr))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

/* install - the BPF program: the arch check, the x32 check, one test
 * per denied number, then allow */
static int install(void)
{
	struct sock_filter prog[7 + 2 * NDENIED];
	struct sock_fprog fp;
	size_t i, n = 0;

	if (inherited)
		return 0;

	prog[n++] = (struct sock_filter)LD_ARCH;
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						 SB_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)LD_NR;
#if defined(__x86_64__)
	/* x32 numbers carry bit 30; x86_64's never do */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
						 0x40000000u, 0, 1);
	prog[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < NDENIED; i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(
			BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i], 0, 1);
		prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO |
						    (EPERM & SECCOMP_RET_DATA));
	}
	prog[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
	fp.len = (unsigned short)n;
	fp.filter = prog;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
}
#endif

int sandbox_prepare(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
#if defined(SB_ARCH) && !defined(SB_SANITIZED)
	if (install() < 0)
		return -1;
	inherited = 1;
	return 0;
#else
	errno = ENOSYS;
	return 1;
#endif
}

int sandbox_enter(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
#if defined(SB_ARCH) && !defined(SB_SANITIZED)
	return install();
#else
	errno = ENOSYS;
	return 1;
#endif
}
