# lib.sh - helpers for the shell tests of tests/cli/ (sourced, POSIX sh).
#
# The test environment (Makefile.am, AM_TESTS_ENVIRONMENT) provides
# PC_PROMPTC (the built promptc), PC_TEST_SRCDIR, PC_TEST_BUILDDIR, PC_NM
# and PROMPTC_PLUGIN_PATH. A test prints "ok - ..." / "not ok - ..." lines
# and exits 0 when every check passed, 1 otherwise, 77 to skip.

set -u
PC_PROMPTC=${PC_PROMPTC:-promptc}
PC_NM=${PC_NM:-nm}
pc_failures=0
pc_checks=0
pc_tmp=$(mktemp -d "${TMPDIR:-/tmp}/pctest.XXXXXX") || exit 99
trap 'rm -rf "$pc_tmp"' EXIT

ok() { pc_checks=$((pc_checks + 1)); echo "ok - $*"; }
not_ok() { pc_checks=$((pc_checks + 1)); pc_failures=$((pc_failures + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0.
check() {
  desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# run_promptc EXPECTED_STATUS ARGS...: runs promptc with stdout in
# $pc_tmp/out and stderr in $pc_tmp/err; passes when the status matches.
run_promptc() {
  want=$1; shift
  "$PC_PROMPTC" "$@" >"$pc_tmp/out" 2>"$pc_tmp/err"
  got=$?
  if [ "$got" -eq "$want" ]; then
    ok "promptc $* exits $want"
  else
    not_ok "promptc $* exits $got, expected $want"
    sed 's/^/    stderr: /' "$pc_tmp/err" | head -n 20
  fi
}

# contains FILE TEXT: passes when FILE contains the fixed string TEXT.
contains() {
  if grep -qF -- "$2" "$1"; then
    ok "$(basename "$1") contains '$2'"
  else
    not_ok "$(basename "$1") lacks '$2'"
    sed 's/^/    | /' "$1" | head -n 20
  fi
}

# resume_paid FIRST TOTAL FULL: the check after a compile at --threads 1
# with the LM cache on was killed with SIGKILL once FIRST calls were
# logged and resumed to TOTAL calls, where an uninterrupted run with a
# cache of its own makes FULL. Resuming pays again at most the one call
# that was in flight: the provider answered it, but the process died
# before the answer reached the cache (docs/cli.md, --resume; with
# --no-cache the baseline and the request in flight are paid again).
resume_paid() {
  if [ "$2" -ge "$3" ] && [ "$2" -le $(($3 + 1)) ]; then
    ok "resuming repaid at most the call in flight ($1 + $(($2 - $1)) = $2; uninterrupted $3)"
  else
    not_ok "resuming paid $2 calls where an uninterrupted run pays $3 ($1 before the kill)"
  fi
}

finish() {
  echo "$((pc_checks - pc_failures)) passed, $pc_failures failed"
  [ "$pc_failures" -eq 0 ]
  exit $?
}

# pc_destdir_install: `make install DESTDIR=...` of this build tree, done
# once per build and shared by the tests that need an installed promptc
# (under a lock, since make check runs tests in parallel). Sets
# PC_DESTDIR (the staging root) and PC_PREFIX (the configured prefix);
# the installed tree is $PC_DESTDIR$PC_PREFIX. Returns non-zero when the
# install failed (its log is $PC_TEST_BUILDDIR/tests/destdir.log).
pc_destdir_install() {
  PC_DESTDIR="$PC_TEST_BUILDDIR/tests/destdir"
  PC_PREFIX=$(sed -n 's/^prefix = //p' "$PC_TEST_BUILDDIR/Makefile")
  (
    flock 9
    if [ ! -f "$PC_DESTDIR/.done" ] ||
       [ -n "$(find "$PC_TEST_BUILDDIR/core" "$PC_TEST_BUILDDIR/plugins" \
              -name '*.la' -newer "$PC_DESTDIR/.done" 2>/dev/null)" ]; then
      rm -rf "$PC_DESTDIR"
      # Unset the variables make check exports, so the sub-make sees a
      # plain install.
      env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -C "$PC_TEST_BUILDDIR" install DESTDIR="$PC_DESTDIR" \
        >"$PC_TEST_BUILDDIR/tests/destdir.log" 2>&1 &&
        touch "$PC_DESTDIR/.done"
    fi
  ) 9>"$PC_TEST_BUILDDIR/tests/destdir.lock"
  [ -f "$PC_DESTDIR/.done" ]
}
