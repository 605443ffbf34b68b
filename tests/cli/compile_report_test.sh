#!/bin/sh
# compile_report_test.sh - the report files of `promptc compile`
# (docs/reports.md) on the sim LM with the triage example and COPRO:
# OUT.report.json and OUT.report.html are written next to OUT.json; the
# JSON has its members in the documented order and the trials the run
# store has; the HTML is one well-formed, self-contained page with its
# sections; the same compile writes the same report apart from the members
# that hold time and calls; --no-report, --report PREFIX, a report that
# cannot be written, a budget cap and a resumed compile.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
T="$pc_tmp"
sed -n 1,30p "$E/data/train.jsonl" >"$T/train.jsonl"
sed -n 31,60p "$E/data/train.jsonl" >"$T/val.jsonl"

# The example's sim config with absolute knowledge paths; $1: extra
# members of "lm", $2: the file to write.
make_config() {
  cat >"$2" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                       "$E/data/test.jsonl"],
         "key_phrases": ["follow the policy", "urgency", "overrides"]$1},
  "metric": {"name": "exact_match", "field": "queue"},
  "concurrency": 4
}
EOF
}
make_config "" "$T/cfg.json"

compile() {  # compile STATUS ARGS...
  want=$1; shift
  run_promptc "$want" compile "$E/program.json" --config "$T/cfg.json" \
    --train "$T/train.jsonl" --val "$T/val.jsonl" --optimizer copro \
    --set breadth=3 --set depth=2 --no-progress "$@"
}

get() {  # get FILE EXPR: EXPR over the JSON `d` of FILE, as Python prints
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# well_formed FILE: the page parses with html.parser, every element that
# is opened is closed in order (void elements aside), no script, and no URL
# but the SVG namespace.
well_formed() {
  python3 - "$1" <<'PY'
import html.parser, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr"}
class Check(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.svgs = [], [], 0
    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.errors.append("a script element")
        if tag == "svg":
            self.svgs += 1
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))
    def handle_startendtag(self, tag, attrs):
        pass
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append("</%s> at %s closes %s" % (
                tag, self.getpos(), self.stack[-1] if self.stack else None))
            return
        self.stack.pop()
p = Check()
p.feed(text)
p.close()
urls = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+[^\s\"'<>]*", text)
urls = [u for u in urls if u != "http://www.w3.org/2000/svg"]
problems = p.errors + ["unclosed <%s> at %s" % s for s in p.stack]
problems += ["a URL: " + u for u in urls]
if text.count("<svg ") != text.count("</svg>"):
    problems.append("<svg> and </svg> do not pair")
for m in problems[:10]:
    print("    " + m)
sys.exit(1 if problems else 0)
PY
}

# --- a compile writes both files next to OUT.json -----------------------
compile 0 --runs "$T/runs.sqlite" --cache "$T/cache.sqlite" --run-id rep1 \
  --json -o "$T/out.json"
cp "$T/out" "$T/sum.json"
check "OUT.report.json is written" test -s "$T/out.report.json"
check "OUT.report.html is written" test -s "$T/out.report.html"
check "--json names both report files" test \
  "$(get "$T/sum.json" "(d['report']['html'], d['report']['json'])")" = \
  "('$T/out.report.html', '$T/out.report.json')"
echo "# report.html of a 6-trial COPRO compile: $(wc -c <"$T/out.report.html") bytes"
check "report.json members in the documented order" test \
  "$(get "$T/out.report.json" "','.join(d)")" = \
  "schema,run_id,program,optimizer,seed,baseline,compiled,stopped_by,stop_reason,usage,elapsed_ms,trials,optimizer_report,state"
check "report.json: schema, run, program, optimizer, scores" test \
  "$(get "$T/out.report.json" "(d['schema'], d['run_id'], d['program']['name'], d['optimizer']['name'], d['baseline']['n'])")" = \
  "('promptc.report/1', 'rep1', 'triage', 'copro', 30)"
check "report.json: the scores and usage are the summary's" test \
  "$(get "$T/out.report.json" "(d['compiled']['score'], d['usage']['task_calls'])")" = \
  "$(get "$T/sum.json" "(d['compiled']['score'], d['usage']['task_calls'])")"
check "report.json: program sha256 is the written file's" test \
  "$(get "$T/out.report.json" "d['program']['sha256']")" = \
  "$(get "$T/sum.json" "d['program_sha256']")"
"$PC_PROMPTC" history rep1 --runs "$T/runs.sqlite" --json >"$T/hist.json"
check "the run store's result names the report" test \
  "$(get "$T/hist.json" "d['result']['report']['json']")" = \
  "$T/out.report.json"
check "report.json trials equal the run store's (apart from \"at\")" \
  python3 - "$T/out.report.json" "$T/hist.json" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))["trials"]
hist = json.load(open(sys.argv[2]))["trials"]
assert len(rep) == 6, len(rep)
for t in rep:
    at = t.pop("at")
    assert set(at) == {"elapsed_ms", "calls", "tokens", "cost",
                       "metric_calls"}, at
assert rep == hist, (rep, hist)
PY
check "the trials' calls only grow" python3 - "$T/out.report.json" <<'PY'
import json, sys
calls = [t["at"]["calls"] for t in json.load(open(sys.argv[1]))["trials"]]
assert calls == sorted(calls) and calls[-1] > 0, calls
PY
check "report.html is well-formed and self-contained" \
  well_formed "$T/out.report.html"
for s in '<h2>Summary</h2>' '<h2>Score per trial</h2>' \
         '<h2>Calls and cost over time</h2>' '<h2>Trials</h2>' \
         '<h2>Final state</h2>' 'aria-label="Score per trial"' \
         'aria-label="Calls and cost over time"' '<td>rep1</td>'; do
  contains "$T/out.report.html" "$s"
done
check "report.html: two charts, no GEPA or MIPROv2 sections" test \
  "$(grep -o '<svg ' "$T/out.report.html" | wc -l)" -eq 2 -a \
  -z "$(grep -e 'id="combos"' -e 'id="candidates"' "$T/out.report.html")"
check "report.html: a table row per trial" test \
  "$(grep -c '^<tr><td class="n">' "$T/out.report.html")" -eq 6

# --- the same compile writes the same report, time and calls aside -----
cp "$T/out.report.json" "$T/first.report.json"
compile 0 --runs "$T/runs2.sqlite" --cache "$T/cache.sqlite" --run-id rep1 \
  -o "$T/out.json"
contains "$T/out" "report    $T/out.report.html"
contains "$T/out" "report    $T/out.report.json"
check "a second run differs only in usage, elapsed_ms and trials' at" \
  python3 - "$T/first.report.json" "$T/out.report.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["usage"]["provider_calls"] != b["usage"]["provider_calls"], \
    "the second run should have been served by the cache"
for d in (a, b):
    del d["usage"], d["elapsed_ms"]
    for t in d["trials"]:
        del t["at"]
assert a == b
PY

# --- --no-report, --report PREFIX ---------------------------------------
compile 0 --runs "$T/runs.sqlite" --cache "$T/cache.sqlite" --no-report \
  --json -o "$T/none.json"
check "--no-report writes the program" test -s "$T/none.json"
check "--no-report writes no report" \
  test ! -e "$T/none.report.json" -a ! -e "$T/none.report.html"
check "--no-report: no \"report\" in --json" \
  test "$(get "$T/out" "'report' in d")" = False
compile 0 --runs "$T/runs.sqlite" --cache "$T/cache.sqlite" \
  --report "$T/reports/sub/x" -o "$T/moved.json"
check "--report PREFIX writes PREFIX.report.json and .html" \
  test -s "$T/reports/sub/x.report.json" -a -s "$T/reports/sub/x.report.html"
check "--report PREFIX writes nothing next to OUT" \
  test ! -e "$T/moved.report.json" -a ! -e "$T/moved.report.html"
contains "$T/out" "report    $T/reports/sub/x.report.html"
compile 2 --runs "$T/runs.sqlite" --report "$T/x" --no-report \
  -o "$T/never.json"
contains "$T/err" "--report and --no-report"

# --- a report that cannot be written is a warning ------------------------
: >"$T/afile"
compile 0 --runs "$T/runs.sqlite" --cache "$T/cache.sqlite" \
  --report "$T/afile/r" --json -o "$T/warned.json"
contains "$T/err" "warning: compile: no report written"
check "the program is written all the same" test -s "$T/warned.json"
check "no report in --json when none was written" \
  test "$(get "$T/out" "'report' in d")" = False

# --- a compile stopped by a cap writes its report ------------------------
compile 0 --runs "$T/runs.sqlite" --no-cache --max-calls 40 --json \
  -o "$T/capped.json"
check "the capped compile stopped by max_calls" \
  test "$(get "$T/out" "d['stopped_by']")" = max_calls
check "the capped report says so" test \
  "$(get "$T/capped.report.json" "d['stopped_by']")" = max_calls
contains "$T/capped.report.html" "max_calls: "
check "the capped report.html is well-formed" \
  well_formed "$T/capped.report.html"

# --- a resumed compile writes its report --------------------------------
# One thread, the LM cache on: an uninterrupted run with a cache of its
# own makes FULL calls; the killed one, resumed, makes at most one more
# (the call in flight at the kill; docs/cli.md, --resume).
for run in whole part; do
  make_config ', "latency_ms": 3, "call_log": "'"$T/$run.log"'"' \
    "$T/cfg-$run.json"
done
"$PC_PROMPTC" compile "$E/program.json" --config "$T/cfg-whole.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --optimizer copro \
  --set breadth=3 --set depth=2 --no-progress --threads 1 \
  --runs "$T/runs.sqlite" --cache "$T/cache-whole.sqlite" \
  -o "$T/whole.json" >/dev/null 2>&1
full_calls=$(wc -l <"$T/whole.log")
check "the uninterrupted compile wrote its program" test -s "$T/whole.json"
"$PC_PROMPTC" compile "$E/program.json" --config "$T/cfg-part.json" \
  --train "$T/train.jsonl" --val "$T/val.jsonl" --optimizer copro \
  --set breadth=3 --set depth=2 --no-progress --threads 1 \
  --runs "$T/runs.sqlite" --cache "$T/cache-part.sqlite" --run-id killed \
  -o "$T/resumed.json" >/dev/null 2>&1 &
pid=$!
n=0
while [ "$n" -lt 200 ]; do  # until about half the calls are made
  sleep 0.05
  lines=$(wc -l 2>/dev/null <"$T/part.log" || echo 0)
  [ "$lines" -ge $((full_calls / 2)) ] && break
  n=$((n + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
first=$(wc -l <"$T/part.log")
check "the first attempt was killed part-way ($first of $full_calls calls)" \
  test "$first" -gt 0 -a "$first" -lt "$full_calls"
check "the killed compile wrote neither program nor report" \
  test ! -e "$T/resumed.json" -a ! -e "$T/resumed.report.json"
run_promptc 0 compile --resume killed --runs "$T/runs.sqlite" \
  --no-progress
contains "$T/out" "answered from the run's log"
contains "$T/out" "report    $T/resumed.report.html"
total=$(wc -l <"$T/part.log")
resume_paid "$first" "$total" "$full_calls"
check "the resumed report has every trial" test \
  "$(get "$T/resumed.report.json" "len(d['trials'])")" = 6
check "the resumed report's trials are the uninterrupted run's" \
  python3 - "$T/first.report.json" "$T/resumed.report.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["trials"] for p in sys.argv[1:])
for d in (a, b):
    for t in d:
        del t["at"]
assert a == b
PY
check "the resumed report.html is well-formed" \
  well_formed "$T/resumed.report.html"

finish
