#!/bin/sh
# react_test.sh - the ReAct example end to end on the sim LM: the search
# index is built from the example's corpus, the uncompiled agent is
# evaluated on dev, BootstrapFewShot compiles it on train, and the
# compiled agent beats the baseline on dev by the margin stated below.
# Tools that fail or hang and a loop cut off at max_iters are handled and
# reported in the results, never a crash; a bad "tools" entry is refused
# before any example runs (exit 3). LM calls per example are printed.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/react"
T="$pc_tmp"

# The fixture tool plugin (tests/plugins/fx_tool.c), in a folder of its
# own on the plugin path. make check always builds it, so a missing one
# is a broken build, not a reason to skip.
FX="${PC_TEST_BUILDDIR:-.}/tests/plugins/tools/.libs"
if [ ! -f "$FX/fx_tool.so" ]; then
  not_ok "the fixture tool plugin $FX/fx_tool.so is built"
  finish
fi
PROMPTC_PLUGIN_PATH="$PROMPTC_PLUGIN_PATH:$FX"
export PROMPTC_PLUGIN_PATH

# make_config FILE TOOLS: the example's sim config with absolute paths
# and the given "tools" object.
make_config() {
  cat >"$1" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"]},
  "adapter": "chat",
  "metric": {"name": "exact_match", "field": "answer"},
  "tools": $2,
  "concurrency": 4
}
EOF
}
make_config "$T/cfg.json" '{"search": {"index": "'"$T"'/corpus.db", "k": 3},
  "calculator": {"type": "calculator", "timeout_ms": 2000}}'

# get FILE EXPR: a value of a JSON file (EXPR indexes `d`).
get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# --- the index -----------------------------------------------------------
run_promptc 0 index build "$E/corpus.jsonl" -o "$T/corpus.db"
run_promptc 0 index query "$T/corpus.db" "Fenndle founding"
contains "$T/out" "Fenndle was founded in 1628"

evaluate() {  # evaluate PROGRAM CONFIG DATA RESULTS
  run_promptc 0 eval "$1" --config "$2" --data "$3" --results "$4" \
    --no-cache --no-record --no-progress --json
}

# --- baseline, compile, compiled -----------------------------------------
# Measured (sim seed 7, cache off): dev 0.325 uncompiled, 0.700 after
# BootstrapFewShot on train (x2.15), at 4.4 and 4.6 LM calls per example.
# Required: compiled >= 1.8 x baseline and +0.25.
evaluate "$E/program.json" "$T/cfg.json" "$E/data/dev.jsonl" "$T/base.jsonl"
cp "$T/out" "$T/base.json"
run_promptc 0 compile "$E/program.json" --config "$T/cfg.json" \
  --train "$E/data/train.jsonl" --optimizer bootstrap --no-progress \
  --no-report --runs "$T/runs.sqlite" --json -o "$T/compiled.json"
check "compiled program has react demos" test \
  "$(get "$T/compiled.json" "len(d['state']['agent.react']['demos']) > 0")" \
  = True
check "compiled program has extract demos" test "$(get "$T/compiled.json" \
  "len(d['state']['agent.extract.predict']['demos']) > 0")" = True
evaluate "$T/compiled.json" "$T/cfg.json" "$E/data/dev.jsonl" "$T/comp.jsonl"
cp "$T/out" "$T/comp.json"
base=$(get "$T/base.json" "d['score']")
comp=$(get "$T/comp.json" "d['score']")
bcalls=$(get "$T/base.json" "round(d['usage']['calls'] / d['examples'], 2)")
ccalls=$(get "$T/comp.json" "round(d['usage']['calls'] / d['examples'], 2)")
echo "# dev: baseline $base, compiled $comp"
echo "# LM calls per example: baseline $bcalls, compiled $ccalls"
check "compiled ($comp) >= 1.8 x baseline ($base) and +0.25" python3 -c '
import sys
b, c = map(float, sys.argv[1:])
sys.exit(0 if c >= 1.8 * b and c >= b + 0.25 else 1)' "$base" "$comp"
check "ReAct runs 2 to 8 LM calls per example" python3 -c '
import sys
sys.exit(0 if all(2 <= float(x) <= 8 for x in sys.argv[1:]) else 1)' \
  "$bcalls" "$ccalls"
check "no program errors" test "$(get "$T/comp.json" \
  "d['errors']['program'] + d['errors']['lm']")" = 0
contains "$T/comp.jsonl" '"observation_0":["'
contains "$T/comp.jsonl" '"tool_name_2":"calculator"'

# --- a failing tool: every search is an execution error ------------------
head -n 12 "$E/data/dev.jsonl" >"$T/dev12.jsonl"
make_config "$T/fail.json" '{"search": {"type": "fx_fail"},
  "calculator": {"type": "calculator"}}'
evaluate "$E/program.json" "$T/fail.json" "$T/dev12.jsonl" "$T/fail.jsonl"
contains "$T/fail.jsonl" "Execution error in search: planted failure"
check "failing tool: 12 evaluated, no program error" test "$(get \
  "$T/out" "(d['evaluated'], d['errors']['program'])")" = "(12, 0)"

# --- a hanging tool: cut off at its timeout ------------------------------
make_config "$T/slow.json" '{"search": {"type": "fx_sleep", "timeout_ms": 50},
  "calculator": {"type": "calculator"}}'
start=$(date +%s)
evaluate "$E/program.json" "$T/slow.json" "$T/dev12.jsonl" "$T/slow.jsonl"
took=$(( $(date +%s) - start ))
contains "$T/slow.jsonl" "Execution error in search: timed out after 50 ms"
check "hanging tool: eval did not wait for it (${took}s)" test "$took" -lt 20
check "hanging tool: 12 evaluated, no program error" test "$(get \
  "$T/out" "(d['evaluated'], d['errors']['program'])")" = "(12, 0)"

# --- a loop cut off at max_iters -----------------------------------------
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["modules"]["agent"]["max_iters"] = 2
json.dump(d, open(sys.argv[2], "w"))' "$E/program.json" "$T/short.json"
evaluate "$T/short.json" "$T/cfg.json" "$T/dev12.jsonl" "$T/short.jsonl"
check "max_iters 2: no step 2 in any trajectory" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if rows and all("tool_name_2" not in (r["outputs"] or {}).get(
    "trajectory", {}) for r in rows) else 1)' "$T/short.jsonl"
check "max_iters 2: every example still answered" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(rows) == 12 and all(r["outputs"] and "answer" in
                                      r["outputs"] for r in rows) else 1)' \
  "$T/short.jsonl"
check "max_iters 2: no program error" test "$(get \
  "$T/out" "(d['evaluated'], d['errors']['program'])")" = "(12, 0)"

# --- a bad tool entry: refused up front with exit 3, naming the member ---
# pc_runtime_check_program makes every tool the program names before any
# example runs; a bad config entry is bad input (exit 3), and no example
# is run or written.
make_config "$T/bad.json" '{"search": {"type": "calculator",
  "timeout_ms": 0}}'
run_promptc 3 eval "$E/program.json" --config "$T/bad.json" \
  --data "$T/dev12.jsonl" --results "$T/bad.jsonl" --no-cache --no-record \
  --no-progress --json
contains "$T/err" "modules.agent.tools[0]: "
contains "$T/err" \
  "tools.search.timeout_ms: expected an integer from 1 to 600000"
check "bad tool entry: no example ran" test ! -s "$T/bad.jsonl"

# --- a tool type no plugin offers: a plugin problem, exit 4, up front ---
make_config "$T/np.json" '{"search": {"type": "nosuch"}}'
run_promptc 4 eval "$E/program.json" --config "$T/np.json" \
  --data "$T/dev12.jsonl" --results "$T/np.jsonl" --no-cache --no-record \
  --no-progress --json
contains "$T/err" "no built-in tool or pc.tool/1 plugin called 'nosuch'"
check "missing tool plugin: no example ran" test ! -s "$T/np.jsonl"

finish
