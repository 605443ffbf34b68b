#!/bin/sh
# abi-gate.sh - the plugin ABI gate: records the ABI of a promptc/plugin.h
# with abidw, and checks with abidiff that a header only appended to a
# released baseline.
#
# Usage:
#   abi-gate.sh dump INCLUDE_DIR OUT.abi
#       Build sdk/abi/abi_types.c against INCLUDE_DIR/promptc/plugin.h and
#       write its ABI (abidw) to OUT.abi: how a baseline is made.
#   abi-gate.sh check INCLUDE_DIR BASELINE.abi...
#       Dump the ABI of INCLUDE_DIR/promptc/plugin.h and compare it with
#       each baseline. Both passes must hold for every baseline:
#         1. abidiff --suppressions append-only.suppr BASELINE CURRENT
#            exits 0 (only members appended at the end of a struct, and
#            new types, are allowed);
#         2. abidiff --leaf-changes-only --suppressions new-types.suppr
#            reports, for each changed struct, only a larger size and data
#            members inserted at or beyond the old size. abigail-tools 2.2
#            applies a has_data_member_inserted_at suppression to a struct
#            that had no insertion at all, which would let a swapped or
#            retyped member of an unrelated struct through pass 1; this
#            pass closes that hole.
#
# Environment: CC (default cc), ABIDW (abidw), ABIDIFF (abidiff).
# Exit status: 0 the ABI holds, 1 a change breaks it (the report says
# which), 2 a usage error, a missing tool or a header that does not build.
set -u

here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
ABIDW=${ABIDW:-abidw}
ABIDIFF=${ABIDIFF:-abidiff}
# Options that make the dump depend on the header only: no paths, no
# source locations, no DT_NEEDED, type ids from hashes.
ABIDW_OPTS="--no-corpus-path --no-comp-dir-path --no-show-locs \
--no-elf-needed --type-id-style hash"

die()
{
  echo "abi-gate: $*" >&2
  exit 2
}

need()
{
  command -v "$1" >/dev/null 2>&1 ||
    die "$1: not found (Debian: apt-get install abigail-tools)"
}

# dump_abi INCLUDE_DIR OUT.abi WORKDIR
dump_abi()
{
  [ -f "$1/promptc/plugin.h" ] || die "$1/promptc/plugin.h: no such header"
  # Compiled from inside sdk/abi so the dump names the source only as
  # abi_types.c, whatever the checkout path.
  (cd "$here" && $CC -std=c99 -g -O0 -fPIC -shared -I"$1" \
     -o "$3/abi_types.so" abi_types.c) ||
    die "$1/promptc/plugin.h: abi_types.c does not build against it"
  # shellcheck disable=SC2086
  $ABIDW $ABIDW_OPTS --out-file "$2" "$3/abi_types.so" ||
    die "abidw failed on the build of $1/promptc/plugin.h"
}

# leaf_appends_only: reads a --leaf-changes-only report on stdin; exits 0
# when every change it lists is members appended to a struct.
leaf_appends_only()
{
  awk '
    /^(Leaf changes summary|Changed leaf types summary):/ { next }
    /^Removed\/Changed\/Added (functions|variables) summary:/ { next }
    /^$/ { next }
    /^'\''struct pc_[A-Za-z0-9_]+'\'' changed:$/ {
      cur = substr($0, 1, length($0) - 9); old = -1; ins = 0; next
    }
    /^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
      old = $5 + 0
      if ($7 + 0 < old) { bad = 1; print "  not an append: " cur " shrank" }
      next
    }
    /^  type size hasn'\''t changed$/ { next }
    /^  [0-9]+ data member insertions?:$/ { ins = 1; next }
    ins && /^    '\''.*'\'', at offset [0-9]+ \(in bits\)$/ {
      n = split($0, w, " ")
      if (old >= 0 && w[n - 2] + 0 < old) {
        bad = 1
        print "  not an append: " cur " gained a member inside its old size"
      }
      next
    }
    {
      # One line per offending struct; the whole report follows it.
      bad = 1
      what = cur == "" ? "(report)" : cur
      if (!(what in said)) {
        said[what] = 1
        sub(/^ +/, "")
        print "  not an append: " what ": " substr($0, 1, 120)
      }
    }
    END { exit bad }
  '
}

# compare BASELINE CURRENT WORKDIR: prints a verdict, returns 0 or 1.
compare()
{
  base=$(basename "$1")
  "$ABIDIFF" --suppressions "$here/append-only.suppr" "$1" "$2" \
    >"$3/pass1.txt" 2>&1
  rc=$?
  [ $((rc & 3)) -eq 0 ] || { cat "$3/pass1.txt" >&2; die "abidiff failed"; }
  "$ABIDIFF" --leaf-changes-only --suppressions "$here/new-types.suppr" \
    "$1" "$2" >"$3/pass2.txt" 2>&1
  rc2=$?
  [ $((rc2 & 3)) -eq 0 ] || { cat "$3/pass2.txt" >&2; die "abidiff failed"; }
  leaf_appends_only <"$3/pass2.txt" >"$3/pass2.verdict"
  leaf=$?
  if [ "$rc" -eq 0 ] && [ "$leaf" -eq 0 ]; then
    echo "abi-gate: $base: ok (only appended members and new types)"
    return 0
  fi
  echo "abi-gate: $base: BROKEN: plugin.h changed the ABI incompatibly"
  if [ "$rc" -ne 0 ]; then
    echo "  abidiff with append-only.suppr (exit $rc):"
    sed 's/^/  | /' "$3/pass1.txt"
  fi
  if [ "$leaf" -ne 0 ]; then
    cat "$3/pass2.verdict"
    sed 's/^/  | /' "$3/pass2.txt"
  fi
  return 1
}

[ $# -ge 3 ] || die "usage: abi-gate.sh dump INCLUDE_DIR OUT.abi |" \
  "check INCLUDE_DIR BASELINE.abi..."
mode=$1
inc=$(cd "$2" 2>/dev/null && pwd) || die "$2: no such directory"
shift 2
need "${CC%% *}"
need "$ABIDW"
work=$(mktemp -d "${TMPDIR:-/tmp}/abigate.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT

case $mode in
dump)
  dump_abi "$inc" "$1" "$work"
  echo "abi-gate: wrote $1"
  ;;
check)
  need "$ABIDIFF"
  dump_abi "$inc" "$work/current.abi" "$work"
  status=0
  for b in "$@"; do
    [ -f "$b" ] || die "$b: no such baseline"
    compare "$b" "$work/current.abi" "$work" || status=1
  done
  exit $status
  ;;
*)
  die "$mode: unknown mode (dump or check)"
  ;;
esac
