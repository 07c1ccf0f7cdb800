# shellcheck shell=bash
# bench/postfix.sh - kept for the scripts that source it (launchers.sh,
# profile.sh): the private Postfix instance (pf_available, pf_start,
# pf_stop) now lives in bench/lib.sh with the rest of the shared set-up.
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
