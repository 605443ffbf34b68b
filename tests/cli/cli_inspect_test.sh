#!/bin/sh
# cli_inspect_test.sh - `promptc inspect` end to end on the examples: the
# exact messages (worked out by hand from DSPy 3.3.1's ChatAdapter rules,
# dspy-core.md 2.2-2.6), --text, the JSON adapter, --parse, and errors.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

ex="$PC_TEST_SRCDIR/../examples"

# same_messages FILE EXPECTED_PY: the JSON array in FILE equals the Python
# list of (role, content) pairs in EXPECTED_PY, printing the first
# difference.
same_messages() {
  python3 - "$1" "$2" <<'PY'
import json, sys
got = [(m["role"], m["content"]) for m in json.load(open(sys.argv[1]))]
want = eval(open(sys.argv[2]).read())
if got == want:
    sys.exit(0)
for i, (g, w) in enumerate(zip(got, want)):
    if g != w:
        print("    message %d differs:\n    want %r\n    got  %r" % (i, w, g))
        break
else:
    print("    %d messages, expected %d" % (len(got), len(want)))
sys.exit(1)
PY
}

cat >"$pc_tmp/math.py" <<'PY'
[("system",
  "Your input fields are:\n"
  "1. `question` (str):\n"
  "Your output fields are:\n"
  "1. `reasoning` (str): \n"
  "2. `answer` (float):\n"
  "All interactions will be structured in the following way, with the appropriate values filled in.\n"
  "\n"
  "[[ ## question ## ]]\n"
  "{question}\n"
  "\n"
  "[[ ## reasoning ## ]]\n"
  "{reasoning}\n"
  "\n"
  "[[ ## answer ## ]]\n"
  "{answer}        # note: the value you produce must be a single float value\n"
  "\n"
  "[[ ## completed ## ]]\n"
  "In adhering to this structure, your objective is: \n"
  "        Given the fields `question`, produce the fields `answer`."),
 ("user",
  "This is an example of the task, though some input or output fields are not supplied.\n"
  "\n"
  "[[ ## question ## ]]\n"
  "A train travels 150 km in 2.5 hours. What is its average speed in km/h?"),
 ("assistant",
  "[[ ## reasoning ## ]]\n"
  "Not supplied for this particular example. \n"
  "\n"
  "[[ ## answer ## ]]\n"
  "60.0\n"
  "\n"
  "[[ ## completed ## ]]\n"),
 ("user",
  "[[ ## question ## ]]\n"
  "Ana has 3 boxes of 12 pencils and gives away 5 pencils. How many are left?"),
 ("assistant",
  "[[ ## reasoning ## ]]\n"
  "3 boxes of 12 is 36 pencils. 36 - 5 = 31.\n"
  "\n"
  "[[ ## answer ## ]]\n"
  "31.0\n"
  "\n"
  "[[ ## completed ## ]]\n"),
 ("user",
  "[[ ## question ## ]]\n"
  "Tom buys 4 notebooks at 2.50 each and a pen for 1.20. How much does he spend?\n"
  "\n"
  "Respond with the corresponding output fields, starting with the field `[[ ## reasoning ## ]]`, "
  "then `[[ ## answer ## ]]` (must be formatted as a valid Python float), "
  "and then ending with the marker for `[[ ## completed ## ]]`.")]
PY

cat >"$pc_tmp/triage.py" <<'PY'
[("system",
  "Your input fields are:\n"
  "1. `ticket` (str): the customer's message\n"
  "2. `policy` (str): the support policy excerpt that applies\n"
  "Your output fields are:\n"
  "1. `queue` (Literal['billing', 'technical', 'account', 'other']): \n"
  "2. `urgency` (int): 1 (can wait) to 5 (service down)\n"
  "All interactions will be structured in the following way, with the appropriate values filled in.\n"
  "\n"
  "[[ ## ticket ## ]]\n"
  "{ticket}\n"
  "\n"
  "[[ ## policy ## ]]\n"
  "{policy}\n"
  "\n"
  "[[ ## queue ## ]]\n"
  "{queue}        # note: the value you produce must exactly match (no extra characters) one of: billing; technical; account; other\n"
  "\n"
  "[[ ## urgency ## ]]\n"
  "{urgency}        # note: the value you produce must be a single int value\n"
  "\n"
  "[[ ## completed ## ]]\n"
  "In adhering to this structure, your objective is: \n"
  "        Classify the support ticket into one queue and rate how urgent it is.\n"
  "        Follow the policy text exactly when it names a queue for the situation."),
 ("user",
  "[[ ## ticket ## ]]\n"
  "I was charged twice for my March invoice and need a refund before Friday.\n"
  "\n"
  "[[ ## policy ## ]]\n"
  "Refunds and duplicate charges go to billing. Outages go to technical.\n"
  "\n"
  "Respond with the corresponding output fields, starting with the field `[[ ## queue ## ]]` "
  "(must be formatted as a valid Python Literal['billing', 'technical', 'account', 'other']), "
  "then `[[ ## urgency ## ]]` (must be formatted as a valid Python int), "
  "and then ending with the marker for `[[ ## completed ## ]]`.")]
PY

run_promptc 0 inspect "$ex/math/program.json" --input-json "@$ex/math/input.json"
check "math: chain of thought with an incomplete and a complete demo, byte for byte" \
  same_messages "$pc_tmp/out" "$pc_tmp/math.py"
run_promptc 0 inspect "$ex/triage/program.json" --input-json "@$ex/triage/input.json"
check "triage: descriptions, Literal and int notes, multi-line instructions, byte for byte" \
  same_messages "$pc_tmp/out" "$pc_tmp/triage.py"
# The predictor path names the same module.
run_promptc 0 inspect "$ex/math/program.json" --module solve.predict \
  --input-json "@$ex/math/input.json"
check "--module solve.predict gives the same messages" \
  same_messages "$pc_tmp/out" "$pc_tmp/math.py"

run_promptc 0 inspect "$ex/math/program.json" --input-json '{"question": "Is 7 prime?"}' --text
contains "$pc_tmp/out" "System message:"
contains "$pc_tmp/out" "Assistant message:"
contains "$pc_tmp/out" "[[ ## question ## ]]
Is 7 prime?"

run_promptc 0 inspect "$ex/triage/program.json" --adapter json \
  --input-json "@$ex/triage/input.json"
contains "$pc_tmp/out" "Outputs will be a JSON object with the following fields."
contains "$pc_tmp/out" "Respond with a JSON object in the following order of fields"

# --parse: typed fields in signature order.
run_promptc 0 inspect "$ex/math/program.json" --parse "$ex/math/completion.txt"
check "math completion parses to reasoning and a float answer" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["reasoning", "answer"], d
assert d["answer"] == 11.2 and isinstance(d["answer"], float), d
assert d["reasoning"].startswith("4 notebooks"), d' "$pc_tmp/out"
printf '[[ ## queue ## ]]\nbilling\n\n[[ ## urgency ## ]]\nvery\n' >"$pc_tmp/bad.txt"
run_promptc 1 inspect "$ex/triage/program.json" --parse "$pc_tmp/bad.txt"
contains "$pc_tmp/err" "parse error"
contains "$pc_tmp/err" "urgency"
printf '[[ ## queue ## ]]\n"billing"\n\n[[ ## urgency ## ]]\n4\n' | \
  "$PC_PROMPTC" inspect "$ex/triage/program.json" --parse - >"$pc_tmp/out" 2>"$pc_tmp/err"
check "a completion on stdin parses (quoted Literal accepted)" python3 -c '
import json, sys
assert json.load(open(sys.argv[1])) == {"queue": "billing", "urgency": 4}' "$pc_tmp/out"

# Errors.
run_promptc 2 inspect "$ex/math/program.json" --module nope --input-json '{}'
contains "$pc_tmp/err" "no module or predictor named 'nope'"
run_promptc 2 inspect "$ex/math/program.json" --input-json '{"question": '
contains "$pc_tmp/err" "--input-json"
run_promptc 2 inspect "$ex/math/program.json" --input-json '{}'
contains "$pc_tmp/err" "question"
run_promptc 4 inspect "$ex/math/program.json" --adapter xml --input-json '{"question": "x"}'
contains "$pc_tmp/err" "adapter \"xml\": no loaded plugin offers it"
printf '{"schema": "promptc.program/1", "modules": {"m": {"type": "predict", "signature": "a -> 1b"}}}\n' >"$pc_tmp/bad.json"
run_promptc 3 inspect "$pc_tmp/bad.json" --input-json '{"a": "x"}'
contains "$pc_tmp/err" "bad.json: modules.m.signature"
contains "$pc_tmp/err" "column"
run_promptc 3 inspect "$pc_tmp/missing.json"
contains "$pc_tmp/err" "missing.json"
run_promptc 2 inspect
run_promptc 0 inspect --help
finish
