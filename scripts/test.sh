#!/bin/sh
# test.sh - set up a Debian 12 machine and run every test: a -Werror build
# with `make check`, the same suite under AddressSanitizer + UBSan, and the
# unit tests under valgrind. Builds go to _build/ (the source tree stays
# unconfigured). Exit status 0 only when all three pass.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

sh scripts/setup-debian.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

run_suite() {  # run_suite NAME CONFIGURE-ARGS...
  name=$1; shift
  mkdir -p "_build/$name"
  (cd "_build/$name" && "$top/configure" -q "$@" &&
   make -s -j"$jobs" && make -j"$jobs" check) || {
    echo "test.sh: the $name suite failed; logs in _build/$name/tests" >&2
    for f in $(grep -l -E '^(FAIL|ERROR)' "_build/$name"/tests/*/*.trs 2>/dev/null); do
      echo "---- ${f%.trs}.log" >&2
      tail -n 40 "${f%.trs}.log" >&2
    done
    exit 1
  }
}

echo "== -Werror build and make check"
run_suite werror --enable-werror
echo "== AddressSanitizer + UBSan"
run_suite sanitizers --enable-werror --enable-sanitizers
echo "== valgrind (memcheck) on the unit tests"
(cd _build/werror && make -s valgrind) || { echo "test.sh: valgrind found errors" >&2; exit 1; }
echo "test.sh: all suites passed"
