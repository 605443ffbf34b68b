#!/bin/sh
# examples_test.sh - the example programs' data and sim configs are sound:
# every data file is valid and exactly what scripts/gen-examples.py writes,
# the configs name files that exist, and a data row drives each program.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

top="$PC_TEST_SRCDIR/.."
command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

# The generator's own check: valid JSON with the required keys, unique ids,
# no text in two splits, gold values of the right types, 100 rows a split,
# and the same bytes as a fresh run.
check "the data files are valid and match scripts/gen-examples.py" \
  python3 "$top/scripts/gen-examples.py" --check

# sim_config EXAMPLE METRIC FIELD: sim.json has the members the run needs,
# and its knowledge files exist beside it.
sim_config() {
  python3 - "$top/examples/$1" "$2" "$3" <<'PY'
import json, os, sys
folder, metric, field = sys.argv[1:]
c = json.load(open(os.path.join(folder, "sim.json")))
lm = c["lm"]
assert lm["provider"] == "sim", lm
assert isinstance(lm["seed"], int), lm
assert 2 <= len(lm["key_phrases"]) <= 3, lm
assert lm["knowledge"] == ["data/train.jsonl", "data/dev.jsonl",
                           "data/test.jsonl"], lm
for k in lm["knowledge"]:
    assert os.path.isfile(os.path.join(folder, k)), k
assert c["metric"] == {"name": metric, "field": field}, c["metric"]
assert c["adapter"] == "chat" and c["concurrency"] == 4, c
PY
}
check "triage/sim.json: sim LM on its three splits, exact_match on queue" \
  sim_config triage exact_match queue
check "math/sim.json: sim LM on its three splits, numeric on answer" \
  sim_config math numeric answer

# first_inputs EXAMPLE KEYS: the input keys of the first dev row, as JSON
# in $pc_tmp/in.json.
first_inputs() {
  python3 - "$top/examples/$1/data/dev.jsonl" "$2" >"$pc_tmp/in.json" <<'PY'
import json, sys
row = json.loads(open(sys.argv[1], encoding="utf-8").readline())
print(json.dumps({k: row[k] for k in sys.argv[2].split(",")}))
PY
}

first_inputs triage ticket,policy
run_promptc 0 inspect "$top/examples/triage/program.json" \
  --input-json "@$pc_tmp/in.json"
check "a triage dev row fills the ticket and policy fields" python3 -c '
import json, sys
msgs = json.load(open(sys.argv[1]))
row = json.load(open(sys.argv[2]))
last = msgs[-1]["content"]
assert row["ticket"] in last and row["policy"] in last, last' \
  "$pc_tmp/out" "$pc_tmp/in.json"

first_inputs math question
run_promptc 0 inspect "$top/examples/math/program.json" \
  --input-json "@$pc_tmp/in.json"
check "a math dev row fills the question field" python3 -c '
import json, sys
msgs = json.load(open(sys.argv[1]))
row = json.load(open(sys.argv[2]))
assert row["question"] in msgs[-1]["content"], msgs[-1]' \
  "$pc_tmp/out" "$pc_tmp/in.json"

finish
