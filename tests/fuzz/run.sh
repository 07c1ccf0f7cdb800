#!/bin/bash
# run.sh - run the libFuzzer harnesses built by `make fuzz-build`.
#
#   run.sh fuzz SECONDS NAME...   fuzz each harness in turn for SECONDS
#                                 (one process at a time); new inputs go to
#                                 build-fuzz/corpus/NAME/, crashes to
#                                 build-fuzz/crashes/NAME/
#   run.sh replay 0 NAME...       run every seed and regression input once
#
# Each fuzzing run adds "NAME CPU-SECONDS TIME" to build-fuzz/cpu.log.
#
# Exit status 1 if any harness crashed (or a replayed input failed). A
# crash is reproduced with `build-fuzz/fuzz_NAME FILE`; once fixed, the
# file goes to tests/fuzz/regressions/NAME/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
mode=$1
secs=$2
shift 2
here=tests/fuzz
b=build-fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()

dict_of() {
	case $1 in
	session | addr | data | bdat) echo $here/smtp.dict ;;
	cfg | tls) echo $here/cfg.dict ;;
	entry | hdrparse) echo $here/mail.dict ;;
	proxy) echo $here/proxy.dict ;;
	lookupproto) echo $here/lookup.dict ;;
	esac
}

inputs_of() { # the seed and regression files of a harness
	find "$here/corpus/$1" "$here/regressions/$1" -type f 2>/dev/null |
		sort
}

for h in "$@"; do
	bin=$b/fuzz_$h
	case $mode in
	fuzz)
		mkdir -p "$b/corpus/$h" "$b/crashes/$h" "$b/logs"
		echo "== fuzz_$h for ${secs}s"
		start=$(date +%s)
		timer=()
		regs=()
		[ -d "$here/regressions/$h" ] && regs=("$here/regressions/$h")
		# a harness without a dictionary runs without -dict (an
		# empty -dict= makes libFuzzer stop at once)
		dict=()
		[ -n "$(dict_of "$h")" ] && dict=(-dict="$(dict_of "$h")")
		rm -f "$b/logs/$h.time"
		[ -x /usr/bin/time ] &&
			timer=(/usr/bin/time -f "%U %S" -o "$b/logs/$h.time")
		"${timer[@]}" "$bin" -max_total_time="$secs" -timeout=10 \
			-rss_limit_mb=1024 \
			"${dict[@]}" -print_final_stats=1 \
			-artifact_prefix="$b/crashes/$h/" \
			"$b/corpus/$h" "$here/corpus/$h" "${regs[@]}" \
			>"$b/logs/$h.log" 2>&1
		rc=$?
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done|cov:' \
			"$b/logs/$h.log" | tail -n 3
		cpu='?'
		[ -s "$b/logs/$h.time" ] &&
			cpu=$(awk 'END { printf "%.0f", $1 + $2 }' \
				"$b/logs/$h.time")
		echo "   exit $rc after $(($(date +%s) - start))s, ${cpu}s CPU," \
			"corpus $(find "$b/corpus/$h" -mindepth 1 -maxdepth 1 |
				wc -l) files"
		# CPU seconds fuzzed, per harness, summed over runs
		echo "$h $cpu $(date +%s)" >>"$b/cpu.log"
		if [ $rc -ne 0 ]; then
			failed+=("$h")
			grep -E 'ERROR|invariant|SUMMARY|artifact' \
				"$b/logs/$h.log" | head -n 5
		fi
		;;
	replay)
		mapfile -t files < <(inputs_of "$h")
		if [ ${#files[@]} -eq 0 ]; then
			echo "fuzz_$h: no inputs"
			continue
		fi
		mkdir -p "$b/logs"
		if "$bin" -runs=1 "${files[@]}" >"$b/logs/replay-$h.log" 2>&1
		then
			echo "fuzz_$h: ${#files[@]} inputs ok"
		else
			failed+=("$h")
			echo "fuzz_$h: FAILED, see $b/logs/replay-$h.log"
			grep -E 'Running:|ERROR|invariant|SUMMARY' \
				"$b/logs/replay-$h.log" | tail -n 4
		fi
		;;
	*)
		echo "usage: run.sh fuzz|replay SECONDS NAME..." >&2
		exit 64
		;;
	esac
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
