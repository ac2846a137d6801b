#!/bin/sh
# Install the Debian packages genc needs, when they are missing.
# As root this runs apt-get; otherwise it prints the command to run and fails.
# Usage: scripts/deps.sh [build|test|demo]   (test adds the PyTorch reference, and clang with
# its OpenMP runtime for the compile check in `make test`; test and demo add Debian's
# Fashion-MNIST, which the image tests and demos read)
set -e
need="build-essential cmake pkg-config libopenblas-dev libopenblas0-openmp libpng-dev zlib1g-dev libcjson-dev fortunes"
# Open MPI: data-parallel training under mpirun (optional for a build by hand; make installs it)
need="$need libopenmpi-dev openmpi-bin"
case "$1" in
  test) need="$need python3-torch python3-numpy clang libomp-dev" ;;
  bench) need="$need python3-torch python3-numpy" ;;
esac
case "$1" in
  test|demo) need="$need dataset-fashion-mnist" ;;
esac
missing=""
for p in $need; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "genc: installing Debian packages:$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
else
  echo "genc: missing Debian packages:$missing" >&2
  echo "genc: run: sudo apt-get install$missing" >&2
  exit 1
fi
