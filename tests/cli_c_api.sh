#!/bin/bash
# Installing and embedding: `cmake --install` of this build into a scratch prefix gives a
# genc.pc that pkg-config can use there, an installed genc that loads the same (OpenMP)
# OpenBLAS as the build tree, and the complete example program of docs/c-api.md compiles
# against the installed library with pkg-config and runs (training, loading, evaluation,
# per-token log-probabilities and sampling on a tiny model: a few seconds).
GENC="$1"
source "$(dirname "$0")/lib_cli.sh"
BUILD=$(dirname "$GENC")
SRC="${GENC_SOURCE_DIR:-$(dirname "$0")/..}"
P="$W/prefix"

cmake --install "$BUILD" --prefix "$P" >/dev/null || { echo "FAIL: cmake --install"; fail=$((fail+1)); finish; exit; }
pc=$(find "$P" -name genc.pc | head -1)
export PKG_CONFIG_PATH=$(dirname "$pc")
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
check "pkg-config points into the prefix: $(pkg-config --cflags genc)" \
    '[ "$(pkg-config --variable=includedir genc)" -ef "$P/include" ]'

# the same BLAS as the build tree
blas() { ldd "$1" | awk '/libopenblas/ {print $3}'; }
check "installed genc uses $(blas "$P/bin/genc"), the build tree $(blas "$GENC")" \
    '[ -n "$(blas "$P/bin/genc")" ] && [ "$(readlink -f "$(blas "$P/bin/genc")")" = "$(readlink -f "$(blas "$GENC")")" ]'
expect 0 "^genc " -- "$P/bin/genc" --version

# the example program, exactly as the doc shows it
awk '/<!-- example: c-api-example.c -->/ {f = 1; next} f && /^```c/ {g = 1; next} g && /^```/ {exit} g' \
    "$SRC/docs/c-api.md" > "$W/example.c"
extra=""
grep -q "GENC_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" && extra="-fsanitize=address,undefined"
for i in $(seq 120); do echo "line $i: a small text for the example program"; done > "$W/text.txt"
if cc -std=c11 -Wall -Werror $extra "$W/example.c" $(pkg-config --cflags --libs genc) -o "$W/example"; then
    pass=$((pass+1))
    expect 0 "held-out: [0-9.]* bits per character" -- "$W/example" "$W/run" "$W/text.txt"
    check "the example samples" 'grep -q "^sample: The " "$W/out"'
    check "and prints log-probabilities" 'grep -q "nats$" "$W/out"'
else
    fail=$((fail+1)); echo "FAIL: the example of docs/c-api.md does not compile with pkg-config"
fi
finish
