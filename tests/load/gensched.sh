# shellcheck shell=bash
# gensched.sh - sourced by tests/load/loadtest.sh and bench/targets.sh:
# how the load generator is started.
#
#   gen_sched MODE   rt: SCHED_FIFO 10 (chrt), else nice -10, else as it
#                    is; nice: nice -10 or as it is; none: as it is.
#                    Sets GEN (the command words to put before the
#                    generator, maybe none) and GEN_DESC; 2 for an
#                    unknown MODE.
#
# The generator is one process beside thousands of sessions. At the
# sessions' priority it gets one share among all runnable tasks, and its
# own lag was measured as the server's: a loopback connect "took" 943 ms
# (p50) where a probe at nice -15 saw 0.2 ms, and the lag throttled the
# load it offered. Real clients are on other machines; SCHED_FIFO gives
# the generator the CPU it asks for (it blocks in epoll_wait, and the
# kernel's RT throttling keeps 5 % for the rest in any case).
gen_sched() {
	GEN=()
	case $1 in
	rt | nice | none) ;;
	*) return 2 ;;
	esac
	if [ "$1" = rt ] && chrt -f 10 true 2>/dev/null; then
		GEN=(chrt -f 10)
	elif [ "$1" != none ] &&
		[ "$(nice -n -10 nice 2>/dev/null)" -lt "$(nice)" ]; then
		# without the privilege nice(1) still runs the command
		GEN=(nice -n -10)
	fi
	# shellcheck disable=SC2034 # read by the scripts that source this
	GEN_DESC=${GEN[*]:-"the sessions' priority (GEN_SCHED=$1 or no privilege to raise it)"}
}
