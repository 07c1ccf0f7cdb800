/* scan.h - the spool as spoolerd sees it: find entries, claim them */
#ifndef SCAN_H
#define SCAN_H

#include <dirent.h>
#include <time.h>

/* directory fds under spool_dir; done is -1 unless keep_done */
struct sd_spool {
	int dir, tmp, new, cur, defer, failed, state, done;
};

/* scan_open - open (and create when missing) spool_dir and its
 * subdirectories; 0 or -1 with errno and the failing name in *what */
int scan_open(struct sd_spool *sp, const char *dir, int keep_done,
              const char **what);
void scan_close(struct sd_spool *sp);

/* scan_name_ok - a spool entry name: not hidden, [A-Za-z0-9._-] only,
 * no ".reason"-style suffix of ours */
int scan_name_ok(const char *name);

/* scan_opendir - a stream over dirfd from its first entry; dirfd stays
 * open (the stream has a dup). NULL with errno. */
DIR *scan_opendir(int dirfd);

/* scan_list - call fn for every entry name in dirfd; count or -1 */
long scan_list(int dirfd, void (*fn)(void *arg, const char *name),
               void *arg);

/* scan_claim - take name from fromfd (new/ or defer/; cur/ itself for
 * recovery) into cur/ by rename, open it and flock it. The fd, or -1
 * when someone else has it (ENOENT, EWOULDBLOCK) or on error (errno),
 * or SCAN_BAD when cur/name is there but can never be delivered (not a
 * regular file, or not openable: why says what); the caller moves it
 * aside. Only regular files are opened, never blocking (O_NONBLOCK), and
 * never through a symlink. */
#define SCAN_BAD (-2)
int scan_claim(struct sd_spool *sp, int fromfd, const char *name,
               char *why, size_t whysize);

/* scan_clean_tmp - remove files in tmp/ older than max_age seconds (a
 * session that died mid-write); number removed */
long scan_clean_tmp(struct sd_spool *sp, time_t now, long max_age);

/* scan_mutt_names - entries a maildir reader renamed (mutt -f without
 * -R: new/ID to cur/ID:2,S, or back as new/ID:2,) are renamed back to
 * new/ID (never over an existing one) and so delivered. Their count. */
long scan_mutt_names(struct sd_spool *sp);

/* scan_clean_state - remove state/ files whose entry is in none of
 * new/ cur/ defer/ failed/ (at start, before workers run) */
long scan_clean_state(struct sd_spool *sp);

#endif
