#!/bin/sh
# release_test.sh - the release registry and promotion through gates, end
# to end on the sim LM: a passing candidate is promoted to an empty
# channel; a candidate that improves the average but drops a critical
# slice is refused; a leaked test example (present in train) is refused;
# a required key or model that does not match is refused; a better
# candidate is promoted and rollback restores the previous one; every
# decision, refused ones included, is in the history with its gate table.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }
top="$PC_TEST_SRCDIR/.."
b="${PC_TEST_BUILDDIR:-.}"
PROMPTC_PLUGIN_PATH="${PROMPTC_PLUGIN_PATH:+$PROMPTC_PLUGIN_PATH:}\
$b/plugins/opt-labeled/.libs:$b/plugins/opt-bootstrap/.libs"
export PROMPTC_PLUGIN_PATH
export XDG_CACHE_HOME="$pc_tmp/xdg" XDG_STATE_HOME="$pc_tmp/xdg"
export XDG_CONFIG_HOME="$pc_tmp/xdg" PROMPTC_KEYRING=
unset PROMPTC_REGISTRY SOURCE_DATE_EPOCH

tri="$top/examples/triage"
cfg="$tri/sim.json"
test_split="$tri/data/test.jsonl"
runs="$pc_tmp/runs.sqlite"
cache="$pc_tmp/cache"
reg="$pc_tmp/registry"

field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# build NAME VERSION PROGRAM OPTIMIZER [ARGS...]: compile PROGRAM on the
# triage data with run id NAME-VERSION and pack it as
# $pc_tmp/art/NAME-VERSION.ppa.
build() {
  name=$1; ver=$2; prog=$3; opt=$4; shift 4
  run_promptc 0 compile "$prog" --config "$cfg" \
    --train "$tri/data/train.jsonl" --val "$tri/data/dev.jsonl" \
    --optimizer "$opt" --runs "$runs" --cache "$cache" --no-progress \
    --run-id "$name-$ver" -o "$pc_tmp/$name-$ver.json" "$@"
  run_promptc 0 pack "$pc_tmp/$name-$ver.json" --run "$name-$ver" \
    --runs "$runs" --name "$name" --version "$ver" --key "$pc_tmp/k.sec" \
    --test "$test_split" --cache "$cache" --no-progress -o "$pc_tmp/art"
}

# promote WANT ARTIFACT CHANNEL GATES TEST [ARGS...]
promote() {
  want=$1; art=$2; chan=$3; gates=$4; data=$5; shift 5
  run_promptc "$want" promote "$art" --registry "$reg" --to "$chan" \
    --gates "$gates" --test "$data" --config "$cfg" -p "$pc_tmp/k.pub" \
    --cache "$cache" --no-progress --actor tester "$@"
}

run_promptc 0 keygen -p "$pc_tmp/k.pub" -s "$pc_tmp/k.sec" --no-password
run_promptc 0 keygen -p "$pc_tmp/o.pub" -s "$pc_tmp/o.sec" --no-password
keyid=$(sed -n 's/^untrusted comment: minisign public key //p' \
          "$pc_tmp/k.pub")
other=$(sed -n 's/^untrusted comment: minisign public key //p' \
          "$pc_tmp/o.pub")

# A: the triage program made chain of thought, compiled with
# BootstrapFewShot. B: the plain Predict program, compiled the same way:
# better on average, but without the reasoning field the sim's hard items
# do worse (docs/sim.md), so B loses on the "hard" slice.
python3 - "$tri/program.json" "$pc_tmp/cot.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["modules"]["classify"]["type"] = "chain_of_thought"
json.dump(p, open(sys.argv[2], "w"), indent=2)
EOF
build triage 1.0.0 "$pc_tmp/cot.json" bootstrap
build triage 1.1.0 "$tri/program.json" bootstrap
A="$pc_tmp/art/triage-1.0.0.ppa"
B="$pc_tmp/art/triage-1.1.0.ppa"

run_promptc 0 release init "$reg"
run_promptc 2 release init "$reg"
run_promptc 0 release list --registry "$reg"
contains "$pc_tmp/out" "staging"

cat >"$pc_tmp/gates.json" <<EOF
{"schema": "promptc.gates/1", "min_score": 0.5,
 "min_slice_score": {"*": 0.4}, "max_regression": 0.0,
 "max_slice_regression": 0.05, "min_test_size": 50, "disjoint": true,
 "require_key": ["$keyid"]}
EOF

# 1. A passes every gate into the empty staging channel.
promote 0 "$A" staging "$pc_tmp/gates.json" "$test_split" --reason "first"
contains "$pc_tmp/out" "min_score"
contains "$pc_tmp/out" "no current artifact"
contains "$pc_tmp/out" "promoted"
run_promptc 0 release show staging --registry "$reg" --json
check "staging holds A" test "$(field "$pc_tmp/out" 'd["version"]')" = 1.0.0

# 2. B improves the average but drops a critical slice: refused. The test
#    split's slices are set to each example's difficulty.
python3 - "$test_split" "$pc_tmp/sliced.jsonl" <<'EOF'
import json, sys
with open(sys.argv[2], "w") as f:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        r["slice"] = r.get("difficulty", "easy")
        f.write(json.dumps(r) + "\n")
EOF
cat >"$pc_tmp/critical.json" <<EOF
{"schema": "promptc.gates/1", "min_score": 0.5, "max_regression": 0.0,
 "critical_slices": ["hard"], "min_test_size": 50}
EOF
promote 7 "$B" staging "$pc_tmp/critical.json" "$pc_tmp/sliced.jsonl" \
  --json
check "the mean improved" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["detail"]
sys.exit(0 if d["candidate"]["score"] > d["current"]["score"] else 1)' \
  "$pc_tmp/out"
check "the critical slice row fails and max_regression passes" \
  python3 -c 'import json, sys
g = {r["gate"]: r["pass"] for r in json.load(open(sys.argv[1]))["gates"]}
sys.exit(0 if g.get("critical_regression[hard]") is False and
         g.get("max_regression") is True else 1)' "$pc_tmp/out"
run_promptc 0 release show staging --registry "$reg" --json
check "staging still holds A" \
  test "$(field "$pc_tmp/out" 'd["version"]')" = 1.0.0

# 3. A test split that leaks a training example is refused.
{ head -n 1 "$tri/data/train.jsonl"; cat "$test_split"; } \
  >"$pc_tmp/leaky.jsonl"
promote 7 "$B" staging "$pc_tmp/gates.json" "$pc_tmp/leaky.jsonl"
contains "$pc_tmp/out" "disjoint"
contains "$pc_tmp/out" "FAIL"
check "the leaked example is named" grep -q "$(head -n 1 \
  "$tri/data/train.jsonl" | python3 -c 'import json,sys
print(json.load(sys.stdin)["id"])')" "$pc_tmp/out"

# 4. The wrong required key, and the wrong required model.
sed "s/$keyid/$other/" "$pc_tmp/gates.json" >"$pc_tmp/otherkey.json"
promote 7 "$B" staging "$pc_tmp/otherkey.json" "$test_split"
contains "$pc_tmp/out" "require_key"
cat >"$pc_tmp/model.json" <<EOF
{"schema": "promptc.gates/1", "require_model": {"lm": "sim-1@000000000000"}}
EOF
promote 7 "$B" staging "$pc_tmp/model.json" "$test_split"
contains "$pc_tmp/out" "require_model"

# 5. B passes the normal gates over A; rollback brings A back.
promote 0 "$B" staging "$pc_tmp/gates.json" "$test_split" --reason "better"
run_promptc 0 release show staging --registry "$reg" --json
check "staging holds B" test "$(field "$pc_tmp/out" 'd["version"]')" = 1.1.0
run_promptc 0 release rollback staging --registry "$reg" --actor tester \
  --reason "bad in prod"
run_promptc 0 release show staging --registry "$reg" --json
check "rollback restored A" \
  test "$(field "$pc_tmp/out" 'd["version"]')" = 1.0.0

# 6. Every decision is in the history, refusals with their gate tables.
run_promptc 0 release history staging --registry "$reg" --json
check "history: promote, 4 refusals, promote, rollback in order" \
  test "$(field "$pc_tmp/out" '" ".join(e["action"] for e in d)')" = \
  "promote refuse refuse refuse refuse promote rollback"
check "every promote and refuse keeps its gate table and actor" \
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if all(e["actor"] == "tester" and (e["action"] == "rollback"
         or len(e["gates"]) > 0) for e in d) else 1)' "$pc_tmp/out"

# 7. A new release signed with another key (the old one is no longer
#    trusted) replaces the current artifact: the baseline is checked by
#    its digest in the registry, not against today's keyring.
run_promptc 0 pack "$pc_tmp/triage-1.1.0.json" --run triage-1.1.0 \
  --runs "$runs" --name triage --version 1.2.0 --key "$pc_tmp/o.sec" \
  --test "$test_split" --cache "$cache" --no-progress -o "$pc_tmp/art"
printf '{"schema": "promptc.gates/1", "min_score": 0.5}\n' \
  >"$pc_tmp/plain.json"
run_promptc 0 promote "$pc_tmp/art/triage-1.2.0.ppa" --registry "$reg" \
  --to staging --gates "$pc_tmp/plain.json" --test "$test_split" \
  --config "$cfg" -p "$pc_tmp/o.pub" --cache "$cache" --no-progress --json
check "the decision notes the old key as a warning" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["promoted"] and "current_warning" in d["detail"] else 1)' \
  "$pc_tmp/out"
run_promptc 2 promote "$B" --registry "$reg" --to staging \
  --gates "$pc_tmp/plain.json" --test "$test_split" --config "$cfg" \
  -p "$pc_tmp/k.pub" --allow-model-drift
contains "$pc_tmp/err" "--allow-model-drift is not accepted"

# 8. Refusals before any evaluation: a tampered artifact, a bad channel.
cp "$A" "$pc_tmp/triage-1.0.0.ppa"
cp "$A.minisig" "$pc_tmp/triage-1.0.0.ppa.minisig"
printf 'X' | dd of="$pc_tmp/triage-1.0.0.ppa" bs=1 seek=700 conv=notrunc \
  2>/dev/null
promote 14 "$pc_tmp/triage-1.0.0.ppa" production "$pc_tmp/gates.json" \
  "$test_split"
promote 2 "$A" "Bad Channel" "$pc_tmp/gates.json" "$test_split"
run_promptc 0 release history production --registry "$reg" --json
check "production saw no decision" test "$(field "$pc_tmp/out" 'len(d)')" = 0

finish
