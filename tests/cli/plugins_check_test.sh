#!/bin/sh
# plugins_check_test.sh - `promptc plugins check FILE.so`: every plugin
# this build makes passes (its table goes into the test log); each broken
# fixture (tests/plugins/fx_chk_*.c) fails with exit 8 and the row of its
# defect FAILing, while the other rows still run (a crash is one row).
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

b="${PC_TEST_BUILDDIR:-.}"
fx="$b/tests/chk/.libs"
export XDG_CACHE_HOME="$pc_tmp/xdg" XDG_STATE_HOME="$pc_tmp/xdg"

# --- every shipped plugin conforms ----------------------------------------
n=0
for so in "$b"/plugins/*/.libs/*.so; do
  [ -f "$so" ] || continue
  n=$((n + 1))
  name=$(basename "$so")
  "$PC_PROMPTC" plugins check "$so" >"$pc_tmp/$name.out" 2>"$pc_tmp/$name.err"
  st=$?
  echo "# ---- conformance table of $name"
  sed 's/^/# /' "$pc_tmp/$name.out"
  if [ "$st" -eq 0 ] && grep -q "0 failed" "$pc_tmp/$name.out" &&
     ! grep -q '^FAIL' "$pc_tmp/$name.out"; then
    ok "$name conforms"
  else
    not_ok "$name: plugins check exits $st"
    sed 's/^/    | /' "$pc_tmp/$name.err" | tail -n 5
  fi
  # The run must have exercised the plugin: a behaviour row that PASSes.
  # The plugins whose settings or config have no defaults SKIP it with {};
  # they run with --settings below, where their row must PASS.
  case $name in
    opt-better-together.so | opt-gepa.so | opt-knn.so | opt-simba.so | \
    tool-http-search.so) rows='PASS|SKIP' ;;
    *) rows=PASS ;;
  esac
  if grep -qE "^($rows)  behave:" "$pc_tmp/$name.out"; then
    ok "$name: a behavioural check ran ($rows)"
  else
    not_ok "$name: no $rows behavioural row"
  fi
done
if [ "$n" -ge 10 ]; then ok "checked $n shipped plugins"; else
  not_ok "found only $n shipped plugins to check"; fi

# The built-in behaviours really run: the sim answers through the server
# for HTTP providers, an optimizer compiles, an adapter round-trips.
contains "$pc_tmp/lm-openai.so.out" "through the sim-server"
contains "$pc_tmp/lm-anthropic.so.out" "through the sim-server"
contains "$pc_tmp/opt-bootstrap.so.out" "set a result after"
contains "$pc_tmp/adapter-chat.so.out" "parses back to"
contains "$pc_tmp/metric-basic.so.out" "PASS  behave:metric:exact_match"

# Optimizers whose settings have no defaults run with --settings.
so="$b/plugins/opt-gepa/.libs/opt-gepa.so"
run_promptc 0 plugins check "$so" --settings '{"max_metric_calls": 20}'
contains "$pc_tmp/out" "PASS  behave:optimizer:gepa"
run_promptc 2 plugins check "$so" --settings '[1]'
run_promptc 0 plugins check "$b/plugins/opt-knn/.libs/opt-knn.so" \
  --settings '{"k": 2}'
contains "$pc_tmp/out" "PASS  behave:optimizer:knn"
run_promptc 0 plugins check "$b/plugins/opt-simba/.libs/opt-simba.so" \
  --settings '{"bsize": 4}'
contains "$pc_tmp/out" "PASS  behave:optimizer:simba"
# better-together needs a model id for its w step, and a val split the 6
# examples can hold out; bootstrap as the p steps keeps "p -> w -> p"
# within the behaviour run's 50 calls.
run_promptc 0 plugins check \
  "$b/plugins/opt-better-together/.libs/opt-better-together.so" \
  --settings '{"finetuned_model": "sim-ft-1", "valset_ratio": 0.5,
               "prompt_optimizer": "bootstrap"}'
contains "$pc_tmp/out" "PASS  behave:optimizer:better-together"
# --sim-config: the LM and run config the behavioural runs use.
run_promptc 0 plugins check "$b/plugins/opt-bootstrap/.libs/opt-bootstrap.so" \
  --sim-config "$PC_TEST_SRCDIR/../examples/triage/sim.json"
contains "$pc_tmp/out" "PASS  behave:optimizer:bootstrap"
run_promptc 3 plugins check "$b/plugins/opt-bootstrap/.libs/opt-bootstrap.so" \
  --sim-config "$pc_tmp/no-such.json"
# A tool whose server is not there: the call fails cleanly, which passes.
so="$b/plugins/tool-http-search/.libs/tool-http-search.so"
if [ -f "$so" ]; then
  run_promptc 0 plugins check "$so" --settings '{"url": "http://127.0.0.1:9/"}'
  contains "$pc_tmp/out" "PASS  behave:tool:http-search"
fi


# --- broken fixtures fail on the right row --------------------------------
# fails FIXTURE ROW-PREFIX: exit 8, a FAIL row whose name starts with
# ROW-PREFIX, and the table still ends with its summary.
fails() {
  so="$fx/fx_chk_$1.so"
  "$PC_PROMPTC" plugins check "$so" >"$pc_tmp/$1.out" 2>"$pc_tmp/$1.err"
  st=$?
  echo "# ---- conformance table of fx_chk_$1.so"
  sed 's/^/# /' "$pc_tmp/$1.out"
  if [ "$st" -eq 8 ]; then ok "fx_chk_$1: exit 8"; else
    not_ok "fx_chk_$1: exit $st, want 8"; fi
  if grep -qE "^FAIL  $2" "$pc_tmp/$1.out"; then
    ok "fx_chk_$1: the $2 row fails"
  else
    not_ok "fx_chk_$1: no FAIL row $2"
  fi
  contains "$pc_tmp/$1.out" "failed,"
}

# only_fail FIXTURE ROW-PREFIX: no row other than ROW-PREFIX fails.
only_fail() {
  others=$(grep '^FAIL' "$pc_tmp/$1.out" | grep -vE "^FAIL  $2" || true)
  if [ -z "$others" ]; then ok "fx_chk_$1: no other row fails"; else
    not_ok "fx_chk_$1: other rows fail: $others"; fi
}

fails two_symbols symbols
contains "$pc_tmp/two_symbols.out" "fx_chk_leaked_helper"
only_fail two_symbols symbols
fails bad_id descriptor
contains "$pc_tmp/bad_id.out" "is not reverse-DNS"
fails zero_kinds descriptor
contains "$pc_tmp/zero_kinds.out" "kinds is 0"
fails missing_iface 'iface:pc\.adapter/1'
only_fail missing_iface 'iface:pc\.adapter/1'
fails short_iface 'iface:pc\.metric/1'
contains "$pc_tmp/short_iface.out" "header size too small"
fails lax_create 'create:metric:'
contains "$pc_tmp/lax_create.out" "accepted the bad config []"
only_fail lax_create 'create:metric:'
fails empty_message 'create:metric:'
contains "$pc_tmp/empty_message.out" "empty message"
fails metric_range 'behave:metric:'
contains "$pc_tmp/metric_range.out" "outside [0, 1]"
only_fail metric_range 'behave:metric:'
fails segv 'behave:metric:'
# (With sanitizers, ASan catches the SIGSEGV and exits 1 instead.)
check "fx_chk_segv: the row says the process crashed" \
  grep -qE 'crashed: signal 11|ended the process \(exit 1:' "$pc_tmp/segv.out"
# The crash took only its own row: the checks before it passed.
check "fx_chk_segv: the create row still passed" \
  grep -qE '^PASS  create:metric:fx_chk_metric' "$pc_tmp/segv.out"
# A score that never returns: --timeout kills its child, which fails
# that row alone, and the table is printed in about that time.
t0=$(date +%s)
"$PC_PROMPTC" plugins check --timeout 1 "$fx/fx_chk_hang.so" \
  >"$pc_tmp/hang.out" 2>"$pc_tmp/hang.err"
st=$?
t1=$(date +%s)
echo "# ---- conformance table of fx_chk_hang.so (--timeout 1)"
sed 's/^/# /' "$pc_tmp/hang.out"
check "fx_chk_hang: exit 8" test "$st" -eq 8
check "fx_chk_hang: the behave row fails as timed out" \
  grep -qE '^FAIL  behave:metric:fx_chk_metric +timed out after 1 s' \
  "$pc_tmp/hang.out"
only_fail hang 'behave:metric:'
check "fx_chk_hang: the run ended within 10 s" test $((t1 - t0)) -lt 10
fails adapter_roundtrip 'behave:adapter:'
contains "$pc_tmp/adapter_roundtrip.out" "round trip differs"
only_fail adapter_roundtrip 'behave:adapter:'
fails opt_no_result 'behave:optimizer:'
contains "$pc_tmp/opt_no_result.out" "without set_result"
only_fail opt_no_result 'behave:optimizer:'

# --- the loader's file checks ---------------------------------------------
# A group-writable copy of a good plugin: `plugins list` would refuse it,
# so the check fails its "file" row with the loader's message.
contains "$pc_tmp/metric-basic.so.out" "PASS  file"
mkdir "$pc_tmp/gw"
cp "$b/plugins/metric-basic/.libs/metric-basic.so" "$pc_tmp/gw/mb.so"
chmod 755 "$pc_tmp/gw/mb.so"
chmod g+w "$pc_tmp/gw/mb.so"
run_promptc 8 plugins check "$pc_tmp/gw/mb.so"
contains "$pc_tmp/out" "FAIL  file"
contains "$pc_tmp/out" "mb.so: refused: the file is group-writable"

# --- plugins the host borrows ---------------------------------------------
# check_without DIRS...: plugins check of opt-bootstrap with only these
# plugin folders (names under plugins/) in the plugin path; out and err
# as run_promptc leaves them, the exit status in $st.
check_without() {
  pp=""
  for d in "$@"; do pp="$pp${pp:+:}$b/plugins/$d/.libs"; done
  (PROMPTC_PLUGIN_PATH=$pp; export PROMPTC_PLUGIN_PATH
   exec "$PC_PROMPTC" plugins check \
     "$b/plugins/opt-bootstrap/.libs/opt-bootstrap.so") \
    >"$pc_tmp/out" 2>"$pc_tmp/err"
  st=$?
}
# A missing metric or json adapter is the host's, not the optimizer's: the
# behavioural row is SKIP, naming it, and the plugin still conforms.
check_without lm-sim adapter-chat adapter-json
check "no metric plugin: exit 0" test "$st" -eq 0
contains "$pc_tmp/out" "SKIP  behave:optimizer:bootstrap"
contains "$pc_tmp/out" "exact_match metric is not in the plugin path"
check_without lm-sim adapter-chat metric-basic
check "no json adapter: exit 0" test "$st" -eq 0
contains "$pc_tmp/out" "SKIP  behave:optimizer:bootstrap"
contains "$pc_tmp/out" "json fallback"

# --- JSON, usage and the good fixture -------------------------------------
run_promptc 8 plugins check --json "$fx/fx_chk_metric_range.so"
contains "$pc_tmp/out" '"ok": false'
contains "$pc_tmp/out" '"check": "behave:metric:fx_chk_metric"'
run_promptc 2 plugins check
run_promptc 3 plugins check "$pc_tmp/no-such.so"
run_promptc 0 plugins check --help
contains "$pc_tmp/out" "Exit status"

finish
