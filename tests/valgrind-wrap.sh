#!/bin/sh
# valgrind-wrap.sh - LOG_COMPILER for `make valgrind`: runs one unit test
# program under memcheck, through the build's libtool (which knows where
# the real binary and its libraries are), failing on any error or leak.
top=$(dirname "$0")/..
# Tests may skip cases that would take minutes under memcheck (scrypt).
PC_UNDER_VALGRIND=1
export PC_UNDER_VALGRIND
exec "${LIBTOOL_BIN:-libtool}" --mode=execute valgrind -q --error-exitcode=1 \
  --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --suppressions="$top/tests/valgrind.supp" "$@"
