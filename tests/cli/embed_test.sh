#!/bin/sh
# embed_test.sh - the embedding example of examples/embed, copied out of
# the tree and built with nothing but `pkg-config promptc` against a `make
# install DESTDIR=...` of this build, runs the triage example through
# promptc.h: its baseline and compiled dev scores equal what the installed
# `promptc eval` gives for the same programs, a signed artifact made with
# `promptc keygen` and `pack` loads and runs, and a tampered artifact or
# an untrusted key is refused with a clear error.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

T="$pc_tmp"
S="${PC_TEST_SRCDIR:-tests}/.."
export XDG_CACHE_HOME="$T/xdg-cache" XDG_STATE_HOME="$T/xdg-state"
export XDG_CONFIG_HOME="$T/xdg-config"
unset PROMPTC_KEYRING

if ! pc_destdir_install; then
  not_ok "make install DESTDIR failed (see tests/destdir.log)"
  finish
fi
ok "make install DESTDIR=$PC_DESTDIR"
ROOT="$PC_DESTDIR$PC_PREFIX"
# Wherever the configured libdir put it ($prefix/lib by default).
pcfile=$(find "$ROOT" -name promptc.pc | head -n 1)
PKG_CONFIG_PATH=$(dirname "${pcfile:-$ROOT/lib/pkgconfig/x}")
export PKG_CONFIG_PATH
export PKG_CONFIG_SYSROOT_DIR="$PC_DESTDIR"
# Variables without the sysroot (pkgconf would add it, pkg-config not).
var() { env -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable="$1" promptc; }
LIBDIR="$PC_DESTDIR$(var libdir)"
PLUGINDIR="$PC_DESTDIR$(var plugindir)"
PROMPTC="$ROOT/bin/promptc"
check "pkg-config finds the installed promptc.pc" \
  pkg-config --exists promptc
check "the installed plugin folder holds plugins" \
  test -n "$(ls "$PLUGINDIR"/*.so 2>/dev/null)"

# --- build the example out of the tree -------------------------------------
mkdir -p "$T/embed" "$T/triage"
cp "$S/examples/embed/embed.c" "$S/examples/embed/Makefile" \
  "$S/examples/embed/README.md" "$T/embed/"
cp -R "$S/examples/triage/." "$T/triage/"
chmod -R u+w "$T/triage"
# In a sanitizer build the installed libpromptc is instrumented, so the
# application is built with the same flags (the ASan runtime must come
# first); PC_SAN_CFLAGS is empty otherwise.
san=${PC_SAN_CFLAGS:-}
if make -C "$T/embed" CFLAGS="-O2 -g -Werror $san" LDFLAGS="$san" \
     >"$T/build.log" 2>&1; then
  ok "the example builds with pkg-config promptc"
else
  not_ok "the example does not build"
  sed 's/^/    | /' "$T/build.log" | head -n 30
  finish
fi
contains "$T/build.log" "-I$PC_DESTDIR"

# Everything runs on the installed library and plugins only.
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PROMPTC_PLUGIN_PATH="$PLUGINDIR" PROMPTC_NO_SYSTEM_PLUGINS=1
if command -v ldd >/dev/null 2>&1; then
  ldd "$T/embed/embed" >"$T/ldd" 2>&1
  contains "$T/ldd" "$LIBDIR/libpromptc.so"
fi

# embed ARGS...: run the example; its status in $st.
embed() {
  "$T/embed/embed" "$@" >"$T/eout" 2>"$T/eerr"
  st=$?
}
# embed_ok WHAT ARGS...: run the example, which must exit 0.
embed_ok() {
  what=$1; shift
  embed "$@"
  if [ "$st" -eq 0 ]; then
    ok "$what"
  else
    not_ok "$what: embed exits $st"
    sed 's/^/    stderr: /' "$T/eerr" | head -n 20
  fi
}

embed_ok "embed runs, evaluates and compiles the triage example" \
  "$T/triage" "$T/compiled.json"
contains "$T/eout" "libpromptc "
contains "$T/eout" "outputs {\"queue\":"
contains "$T/eout" "compile report {\"optimizer\":{\"name\":\"bootstrap\""
contains "$T/eout" "saved $T/compiled.json"
check "the compiled program was saved with its demos" \
  grep -q '"demos"' "$T/compiled.json"

# cli_score PROGRAM: "SCORE N" of `promptc eval` on dev.
cli_score() {
  "$PROMPTC" eval "$1" --config "$T/triage/sim.json" \
    --data "$T/triage/data/dev.jsonl" --no-record --no-progress \
    2>"$T/cerr" |
    sed -n 's/^score  *\([0-9.]*\) over \([0-9]*\) examples.*/\1 \2/p'
}
# api_score LABEL: "SCORE N" that embed printed for LABEL.
api_score() {
  sed -n "s/^$1 score \([0-9.]*\) over \([0-9]*\) examples.*/\1 \2/p" \
    "$T/eout"
}
base_api=$(api_score "baseline dev")
base_cli=$(cli_score "$T/triage/program.json")
comp_api=$(api_score "compiled dev")
comp_cli=$(cli_score "$T/compiled.json")
if [ -n "$base_api" ] && [ "$base_api" = "$base_cli" ]; then
  ok "baseline dev score: the API and promptc eval agree ($base_api)"
else
  not_ok "baseline dev score: API '$base_api', promptc eval '$base_cli'"
fi
if [ -n "$comp_api" ] && [ "$comp_api" = "$comp_cli" ]; then
  ok "compiled dev score: the API and promptc eval agree ($comp_api)"
else
  not_ok "compiled dev score: API '$comp_api', promptc eval '$comp_cli'"
fi
if [ -n "$comp_api" ] && [ "$comp_api" != "$base_api" ]; then
  ok "compiling changed the dev score ($base_api -> $comp_api)"
else
  not_ok "compiling left the dev score at '$base_api'"
fi

# --- a signed artifact ------------------------------------------------------
# The installed promptc, through lib.sh's run_promptc.
PC_PROMPTC=$PROMPTC
E="$T/triage"
run_promptc 0 compile "$E/program.json" --config "$E/sim.json" \
  --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
  --optimizer bootstrap --set max_bootstrapped_demos=2 \
  --runs "$T/runs.sqlite" --run-id r1 --no-progress -o "$T/c.json"
run_promptc 0 keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
run_promptc 0 keygen -p "$T/k2.pub" -s "$T/k2.sec" --no-password
run_promptc 0 pack "$T/c.json" --run r1 --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" \
  --test "$E/data/test.jsonl" --no-progress -o "$T/rel"
A="$T/rel/triage-1.0.0.ppa"
check "pack wrote the artifact and its signature" test -s "$A.minisig"

embed_ok "embed loads and runs the signed artifact" \
  "$T/triage" "$T/compiled2.json" "$A" "$T/k.pub"
contains "$T/eout" "artifact outputs {\"queue\":"
# The same outputs as `promptc run --artifact` (which prints them pretty).
"$PROMPTC" run --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" \
  --input-json "@$E/input.json" --no-record >"$T/run.json" 2>"$T/err"
want=$(tr -d ' \n' <"$T/run.json")
got=$(sed -n 's/^artifact outputs //p' "$T/eout" | tr -d ' \n')
if [ -n "$want" ] && [ "$got" = "$want" ]; then
  ok "the artifact's outputs equal promptc run --artifact's ($got)"
else
  not_ok "artifact outputs: API '$got', promptc run '$want'"
fi

# Signed by a key the application does not trust.
embed "$T/triage" "$T/compiled3.json" "$A" "$T/k2.pub"
check "an artifact signed by another key is refused (exit 1)" \
  test "$st" -eq 1
contains "$T/eerr" "embed: artifact: $A: signed by key"
check "no run of the refused artifact was printed" \
  test -z "$(sed -n '/^artifact outputs/p' "$T/eout")"

# One byte of the tar changed (in the first member's mode field).
mkdir -p "$T/bad"
cp "$A" "$A.minisig" "$T/bad/"
B="$T/bad/triage-1.0.0.ppa"
printf 'X' | dd of="$B" bs=1 seek=100 conv=notrunc 2>/dev/null
check "the tampered copy differs from the artifact" \
  test "$(cmp -s "$A" "$B"; echo $?)" -eq 1
embed "$T/triage" "$T/compiled4.json" "$B" "$T/k.pub"
check "a tampered artifact is refused (exit 1)" test "$st" -eq 1
contains "$T/eerr" "embed: artifact: $B: the signature does not match the file"
contains "$T/eerr" "(PC_E_INVALID_ARG)"
check "no run of the tampered artifact was printed" \
  test -z "$(sed -n '/^artifact outputs/p' "$T/eout")"
finish
