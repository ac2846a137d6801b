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

# resume_exact NAME FAMILY ARGS...: `genc train FAMILY ARGS` (which must give --steps 24)
# straight through, and again stopped at step 12 then resumed, must write the same checkpoint
# byte for byte (weights, optimizer moments, EMA, RNG streams and data position).
resume_exact() {
    local name="$1" family="$2"; shift 2
    "$GENC" train "$family" "$@" --out "$W/$name-straight" 2>/dev/null
    "$GENC" train "$family" "$@" --out "$W/$name-split" --stop-at 12 2>/dev/null
    local step
    step=$("$GENC" info "$W/$name-split" | sed -n 's/^step: //p')
    if [ "$step" = 12 ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name stopped at step '$step', want 12"; fi
    if cmp -s "$W/$name-straight/model.safetensors" "$W/$name-split/model.safetensors"; then
        fail=$((fail+1)); echo "FAIL: $name: the half run already equals the full run"; else pass=$((pass+1)); fi
    "$GENC" train "$family" --resume --out "$W/$name-split" 2>/dev/null
    if cmp "$W/$name-straight/model.safetensors" "$W/$name-split/model.safetensors"; then pass=$((pass+1))
    else fail=$((fail+1)); echo "FAIL: $name: the resumed checkpoint differs from the straight run"; fi
}

# config_lie SRC DIR KEY VALUE: DIR/model.safetensors, a copy of checkpoint SRC whose config
# JSON has KEY set to VALUE (JSON), tensors unchanged: a checkpoint that lies about its model.
config_lie() {
    mkdir -p "$2"
    "${GENC_PYTHON:-/usr/bin/python3}" - "$1" "$2/model.safetensors" "$3" "$4" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
c = json.loads(h["__metadata__"]["config"])
c[sys.argv[3]] = json.loads(sys.argv[4])
h["__metadata__"]["config"] = json.dumps(c)
hb = json.dumps(h).encode()
hb += b" " * ((8 - len(hb) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
}
