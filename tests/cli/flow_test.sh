#!/bin/sh
# flow_test.sh - control flow end to end on the sim LM with the triage
# example's data: a program that asks its classifier up to three times
# (repeat ... until) and once more for urgent tickets (if). `promptc run`
# reports how many rounds ran and whether the bound was hit; `promptc
# eval` scores it; `promptc compile` with bootstrap learns demos for the
# predictor inside the loop and writes the same program at 1 and 8
# threads; a bad flow is refused with the step's path; a program plugin
# module runs through `promptc run`, and a missing plugin (exit 4) or
# refused settings (exit 3) stop it before any call.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
P="${PC_TEST_SRCDIR:-tests}/data/programs/triage_loop.json"
T="$pc_tmp"
sed -n 1,30p "$E/data/train.jsonl" >"$T/train.jsonl"
sed -n 31,50p "$E/data/train.jsonl" >"$T/val.jsonl"
sed -n 1,20p "$E/data/dev.jsonl" >"$T/dev.jsonl"

cat >"$T/cfg.json" <<CFG
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"],
         "key_phrases": ["follow the policy", "urgency", "overrides"]},
  "metric": {"name": "exact_match", "field": "queue"},
  "concurrency": 4
}
CFG

# input N: the ticket and policy of dev row N as a JSON object.
input() {
  sed -n "${1}p" "$T/dev.jsonl" | python3 -c 'import json, sys
d = json.loads(sys.stdin.readline())
print(json.dumps({"ticket": d["ticket"], "policy": d["policy"]}))'
}

# get FILE EXPR: a value of a JSON file as Python prints it.
get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# --- run: the sim says billing at once for row 1; row 2 runs to the bound
input 1 >"$T/in1.json"
run_promptc 0 run "$P" --config "$T/cfg.json" --input-json "@$T/in1.json" \
  --no-cache --no-record
cp "$T/out" "$T/run1.json"
check "until stops the loop after one round" \
  test "$(get "$T/run1.json" "d['rounds'], d['exhausted'], d['votes']")" = \
  "(1, False, ['billing'])"
input 2 >"$T/in2.json"
run_promptc 0 run "$P" --config "$T/cfg.json" --input-json "@$T/in2.json" \
  --no-cache --no-record --trace
cp "$T/out" "$T/run2.json"
check "a loop at its bound is reported" \
  test "$(python3 -c 'import json, sys
d = json.load(sys.stdin)["outputs"]
print(d["rounds"], d["exhausted"], len(d["votes"]))' <"$T/run2.json")" = \
  "3 True 3"
check "each round is one traced predictor call" \
  test "$(grep -c '"predictor": "classify"' "$T/run2.json")" -ge 3

# --- eval: every row scored, none lost --------------------------------
run_promptc 0 eval "$P" --config "$T/cfg.json" --data "$T/dev.jsonl" \
  --json --no-progress --no-cache --no-record
cp "$T/out" "$T/eval.json"
contains "$T/eval.json" '"evaluated": 20'

# --- compile: bootstrap collects demos for the predictor in the loop ---
compile() {  # compile THREADS OUT
  run_promptc 0 compile "$P" --config "$T/cfg.json" --train "$T/train.jsonl" \
    --val "$T/val.jsonl" --optimizer bootstrap --no-progress --no-report \
    --no-cache --runs "$T/runs.sqlite" --threads "$1" -o "$2"
}
compile 1 "$T/c1.json"
compile 8 "$T/c8.json"
check "compiled state has demos for classify" \
  test "$(get "$T/c1.json" "len(d['state']['classify']['demos']) > 0")" = \
  True
check "the control flow is saved unchanged" \
  test "$(get "$T/c1.json" "d['flow'] == json.load(open('$P'))['flow']")" \
  = True
# The compile record holds timings and run ids; the rest must match.
strip() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
d.pop("compile", None); print(json.dumps(d, sort_keys=True))' "$1"
}
check "compile is the same at 1 and 8 threads" \
  test "$(strip "$T/c1.json")" = "$(strip "$T/c8.json")"

# --- a bad flow names the step ------------------------------------------
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["flow"][0]["repeat"] = 1000
json.dump(d, open(sys.argv[2], "w"))' "$P" "$T/bad.json"
run_promptc 3 run "$T/bad.json" --config "$T/cfg.json" \
  --input-json "@$T/in1.json" --no-cache --no-record
contains "$T/err" "flow[0].repeat: expected an integer from 1 to 100"

# --- a program plugin module through the CLI ------------------------------
cat >"$T/plug.json" <<'PROG'
{"schema": "promptc.program/1",
 "modules": {
   "classify": {"type": "predict", "signature": "ticket, policy -> queue"},
   "calc": {"type": "plugin", "plugin": "calc",
            "signature": "ticket, policy -> answer", "uses": ["classify"],
            "settings": {"expression": "2*21"}}},
 "flow": [{"call": "calc",
           "inputs": {"ticket": "$input.ticket", "policy": "$input.policy"}}],
 "outputs": {"answer": "$calc.answer"}}
PROG
# A missing program plugin (PC_E_UNSUPPORTED) is found before any call,
# as a missing adapter or provider is: a plugin problem, exit 4.
run_promptc 4 run "$T/plug.json" --config "$T/cfg.json" \
  --input-json "@$T/in1.json" --no-cache --no-record
contains "$T/err" "modules.calc: program plugin 'calc' is not loaded"
PROMPTC_PLUGIN_PATH="$PROMPTC_PLUGIN_PATH:$PC_TEST_BUILDDIR/tests/plugins/prog/.libs"
export PROMPTC_PLUGIN_PATH
run_promptc 0 run "$T/plug.json" --config "$T/cfg.json" \
  --input-json "@$T/in1.json" --no-cache --no-record
contains "$T/out" '"answer": "42"'
# Settings the plugin's create() refuses (PC_E_INVALID_ARG) are bad
# input, refused up front too: exit 3.
sed 's/"expression": "2\*21"/"expression": "refuse"/' "$T/plug.json" \
  >"$T/plug-refused.json"
run_promptc 3 run "$T/plug-refused.json" --config "$T/cfg.json" \
  --input-json "@$T/in1.json" --no-cache --no-record
contains "$T/err" \
  "modules.calc: program plugin 'calc': settings: refused on purpose"

finish
