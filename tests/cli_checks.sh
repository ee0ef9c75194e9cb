# Sourced by the CLI test scripts: counted checks and polling helpers. The script sets `work` (a scratch folder)
# and ends with `finish`, which prints "N passed, N failed" and fails when anything did.
passed=0; failed=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
lacks() { ! grep -qF -- "$2" <<<"$1"; }
wait_for() {  # wait_for FILE: poll (not sleep for a fixed time) until it exists, 120 s at most
  for _ in $(seq 1200); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1
}
finish() {
  echo "$passed passed, $failed failed"
  [ $failed -eq 0 ]
}
