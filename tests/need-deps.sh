#!/bin/sh
# need-deps.sh [run|test] - exit 0 if every prerequisite in tests/deps.list
# for the mode is here (default test; test includes run), else name each
# missing one on stderr with its Debian package and exit 1. The test mode
# also checks that every module the Python test scripts import can be
# imported. DEPS_LIST overrides the list (for testing this script).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-test}
list=${DEPS_LIST:-$top/tests/deps.list}
case $mode in
run | test) ;;
*)
	echo "usage: $0 [run|test]" >&2
	exit 2
	;;
esac

missing=0
miss() { # what package
	echo "need-deps: missing $1 (Debian package $2)" >&2
	missing=$((missing + 1))
}

# have_cmd NAME - on PATH, or in an sbin directory a non-root PATH lacks
have_cmd() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] ||
		[ -x "/sbin/$1" ]
}

# have_file GLOB - at least one file matches
have_file() {
	for f in $1; do
		[ -e "$f" ] && return 0
	done
	return 1
}

while read -r m pkg checks; do
	case $m in
	run) ;;
	test) [ "$mode" = test ] || continue ;;
	*) continue ;; # comments, blank lines
	esac
	for c in $checks; do
		what=${c#*:}
		case $c in
		cmd:*) have_cmd "$what" || miss "command $what" "$pkg" ;;
		pc:*)
			if ! have_cmd pkg-config ||
				! pkg-config --exists "$what"; then
				miss "pkg-config library $what" "$pkg"
			fi
			;;
		perl:*)
			perl "-M$what" -e1 >/dev/null 2>&1 ||
				miss "Perl module $what" "$pkg"
			;;
		py:*)
			python3 -c "import $what" >/dev/null 2>&1 ||
				miss "Python module $what" "$pkg"
			;;
		file:*) have_file "$what" || miss "file $what" "$pkg" ;;
		*)
			echo "need-deps: $list: unknown check $c" >&2
			missing=$((missing + 1))
			;;
		esac
	done
done <"$list"

# Every module the Python test scripts import (the .py files and the
# python3 scripts without a suffix under tests/ and bench/) must be
# importable: the standard library's are, a third-party one needs its
# package in the list above. Modules that are our own files are skipped.
if [ "$mode" = test ] && have_cmd python3; then
	python3 - "$top" "$list" <<'PY' || missing=$((missing + 1))
import ast, importlib.util, os, sys

top, listfile = sys.argv[1], sys.argv[2]
listed = set()
for line in open(listfile):
    for w in line.split():
        if w.startswith("py:"):
            listed.add(w[3:])
scripts, local = [], set()
for d in ("tests", "bench"):
    for root, dirs, files in os.walk(os.path.join(top, d)):
        dirs[:] = [x for x in dirs if x not in ("corpus", "regressions",
                                                 "pending", "__pycache__")]
        for f in files:
            p = os.path.join(root, f)
            if f.endswith(".py"):
                local.add(f[:-3])
                scripts.append(p)
            elif "." not in f:
                with open(p, "rb") as fh:
                    if fh.readline().startswith(b"#!/usr/bin/env python3"):
                        scripts.append(p)
need = {}
for p in scripts:
    for n in ast.walk(ast.parse(open(p, "rb").read(), p)):
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and not n.level:
            names = [n.module]
        else:
            continue
        for name in names:
            need.setdefault(name.split(".")[0], os.path.relpath(p, top))
bad = 0
for mod, where in sorted(need.items()):
    if mod in local or importlib.util.find_spec(mod) is not None:
        continue
    how = "its package is in tests/deps.list" if mod in listed else \
        "add its package to tests/deps.list"
    print("need-deps: missing Python module %s (imported by %s; %s)"
          % (mod, where, how), file=sys.stderr)
    bad = 1
sys.exit(bad)
PY
fi

[ "$missing" -eq 0 ]
