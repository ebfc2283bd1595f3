#!/usr/bin/env bash
# The whole suite, as `make test` runs it (after scripts/test-services.sh).
#
# Most tests wait on real time (audio at real pace, timeouts, processes starting), not
# on the CPU, so the suite runs as two halves at once (about even in time). The halves share nothing: each
# test folder has Redis databases of its own (see the conftest files), each pytest
# process makes its own PostgreSQL database, and SQLite files live in tmp dirs. Then
# the browser tests run in a loopback-only namespace with their own Redis.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

first=(tests/media tests/ivr tests/twilio tests/cases tests/audit tests/recordings tests/officers)
rest=()
for path in tests/*; do
    case " ${first[*]} " in *" $path "*) continue ;; esac
    [[ -d "$path" && "$path" != tests/__pycache__ && "$path" != tests/artifacts && "$path" != tests/js ]] && rest+=("$path")
    [[ "$path" == tests/test_*.py ]] && rest+=("$path")
done

# The browser code's pure modules first (node's own test runner; a second or two).
node --test tests/js/ || { echo "JS unit tests failed" >&2; exit 1; }

log=$(mktemp /tmp/safecall-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
"$bin/pytest" -p no:cacheprovider "${first[@]}" >"$log" 2>&1 &
first_pid=$!
"$bin/pytest" -p no:cacheprovider "${rest[@]}"
rest_rc=$?
wait "$first_pid"
first_rc=$?
echo "---- ${first[*]} ----"
cat "$log"
if [[ $rest_rc -ne 0 || $first_rc -ne 0 ]]; then
    echo "tests failed (the rest: exit $rest_rc; the first half: exit $first_rc)" >&2
    exit 1
fi
scripts/in-netns.sh "$bin/pytest" -p no:cacheprovider -m browser
