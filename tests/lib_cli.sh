# Shared by the command-line tests (sourced): a scratch folder W removed on exit, pass/fail
# counters, and expect CODE PATTERN -- command...: the command must exit with CODE and print
# PATTERN (grep): on stderr when CODE is an error, on stdout or stderr when it is 0.
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0; fail=0

expect() {
    local code="$1" pat="$2"; shift 3
    "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    local where="$W/err"
    [ "$code" = 0 ] && where="$W/err $W/out"
    if [ "$rc" = "$code" ] && grep -q -- "$pat" $where; then
        pass=$((pass+1))
    else
        fail=$((fail+1))
        echo "FAIL: $* -> exit $rc (want $code, '$pat'), stdout/stderr:"; cat "$W/out" "$W/err"
    fi
}

finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
