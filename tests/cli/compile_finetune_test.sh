#!/bin/sh
# compile_finetune_test.sh - `promptc compile --optimizer export-finetune`
# end to end on the sim LM with the triage and math examples: the export
# directory holds chat JSONL and a manifest whose counts and hashes match
# the files; every line is a valid record; the records are exactly what
# `promptc inspect` shows for the same inputs, with the traced outputs as
# the reply; one file per predictor without multitask; parse failures are
# never exported; 1 and 16 threads write the same bytes; a killed compile
# resumes to the same export, paying again at most the call in flight with
# the cache on, and the baseline and the teacher pass with --no-cache; a
# cap writes no export; the dry run is the formula; bad settings are
# refused before anything is spent.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

X="${PC_TEST_SRCDIR:-tests}/../examples"
TE="$X/triage"
ME="$X/math"
T="$pc_tmp"
sed -n 1,40p "$TE/data/train.jsonl" >"$T/ttrain.jsonl"     # |T| = 40
sed -n 1,40p "$ME/data/train.jsonl" >"$T/mtrain.jsonl"     # |T| = 40

# make_config EXAMPLE_DIR PHRASES METRIC LM_EXTRA TOP_EXTRA FILE: the
# example's sim config with absolute knowledge paths.
make_config() {
  cat >"$6" <<EOF
{
  "lm": {"provider": "sim", "seed": 7,
         "knowledge": ["$1/data/train.jsonl", "$1/data/dev.jsonl",
                       "$1/data/test.jsonl"],
         "key_phrases": [$2]$4},
  "metric": $3,
  "concurrency": 4$5
}
EOF
}
make_config "$TE" '"follow the policy", "urgency", "overrides"' \
  '{"name": "exact_match", "field": "queue"}' "" "" "$T/tcfg.json"
make_config "$ME" '"step by step", "units", "check the arithmetic"' \
  '{"name": "numeric", "field": "answer"}' "" "" "$T/mcfg.json"
# Half the replies to a request without demos are prose (triage has no
# demos); the chat and then the JSON adapter fail on about a quarter.
make_config "$TE" '"follow the policy", "urgency", "overrides"' \
  '{"name": "exact_match", "field": "queue"}' ', "malformed_rate": 0.5' \
  ', "eval": {"max_errors": 1000}' "$T/malcfg.json"

# compile STATUS PROGRAM CONFIG TRAIN OUT ARGS...
compile() {
  want=$1; prog=$2; cfg=$3; train=$4; out=$5; shift 5
  run_promptc "$want" compile "$prog" --config "$cfg" --train "$train" \
    --optimizer export-finetune --runs "$T/runs.sqlite" --no-progress \
    -o "$out" "$@"
}

# get FILE EXPR: a value of a JSON file as Python prints it.
get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# The checks of an export directory, in Python.
cat >"$T/ft.py" <<'PY'
import hashlib, json, os, sys

def records(path):
    data = open(path, "rb").read()
    assert data == b"" or data.endswith(b"\n"), path + ": no final newline"
    return [json.loads(l) for l in data.decode("utf-8").split("\n")[:-1]]

def check_record(r):
    assert list(r) == ["messages"], r.keys()
    ms = r["messages"]
    assert len(ms) >= 3 and len(ms) % 2 == 1, len(ms)
    for i, m in enumerate(ms):
        assert sorted(m) == ["content", "role"], m.keys()
        assert isinstance(m["content"], str)
        want = "system" if i == 0 else ("user" if i % 2 else "assistant")
        assert m["role"] == want, (i, m["role"])
        if m["role"] == "assistant":
            assert m["content"].strip(), "empty assistant content"

def validate(d, steps):
    """Every file valid, counted and hashed as the manifest says; the
    records are the kept examples times `steps`."""
    man = json.load(open(os.path.join(d, "manifest.json")))
    assert man["schema"] == "promptc.finetune/1" and man["format"] == "chat"
    ex = man["examples"]
    assert ex["runs_ok"] + ex["failed_parse"] + ex["failed_other"] == \
        ex["train"], ex
    assert ex["kept"] + ex["failed_metric"] == ex["runs_ok"], ex
    total = 0
    for f in man["files"]:
        path = os.path.join(d, f["name"])
        data = open(path, "rb").read()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["name"]
        assert len(data) == f["bytes"], f["name"]
        rs = records(path)
        assert len(rs) == f["records"], (f["name"], len(rs))
        for r in rs:
            check_record(r)
        total += len(rs)
    names = sorted(f["name"] for f in man["files"]) + ["manifest.json"]
    assert sorted(os.listdir(d)) == sorted(names), os.listdir(d)
    assert total == ex["records"] == ex["kept"] * steps, (total, ex)
    assert man["data"]["n"] == ex["train"]

cmd = sys.argv[1]
if cmd == "validate":
    validate(sys.argv[2], int(sys.argv[3]))
elif cmd == "split":
    # split FILE K OUTDIR: the first K records as OUTDIR/k.prompt.json
    # (all messages but the reply) and OUTDIR/k.reply.txt.
    for k, r in enumerate(records(sys.argv[2])[:int(sys.argv[3])]):
        json.dump(r["messages"][:-1],
                  open(os.path.join(sys.argv[4], "%d.prompt.json" % k), "w"))
        open(os.path.join(sys.argv[4], "%d.reply.txt" % k), "w").write(
            r["messages"][-1]["content"])
elif cmd == "match":
    # match PROMPT INSPECT_DIR N: the index of the example whose inspect
    # output equals the record's prompt exactly, else exit 1.
    want = json.load(open(sys.argv[2]))
    for i in range(int(sys.argv[4])):
        if json.load(open(os.path.join(sys.argv[3], "%d.json" % i))) == want:
            print(i)
            sys.exit(0)
    sys.exit(1)
elif cmd == "same":
    # same PARSED RUN: the program's outputs (RUN) agree with the parsed
    # reply on every field RUN has.
    parsed, ran = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
    assert ran and all(parsed[k] == v for k, v in ran.items()), (parsed, ran)
PY

# inspect_all PROGRAM CONFIG TRAIN DIR: DIR/i.json is what inspect shows
# for train example i.
inspect_all() {
  mkdir -p "$4"
  i=0
  while IFS= read -r ex; do
    "$PC_PROMPTC" inspect "$1" --config "$2" --input-json "$ex" \
      >"$4/$i.json" 2>>"$T/inspect.err" || echo "inspect failed: $i"
    i=$((i + 1))
  done <"$3"
}

# equal_to_adapter NAME PROGRAM CONFIG TRAIN FILE: the first 3 records of
# FILE are, message for message, what inspect shows for their example,
# and each reply parses back to what `promptc run` gives for it.
equal_to_adapter() {
  name=$1; prog=$2; cfg=$3; train=$4; file=$5
  mkdir -p "$T/$name-rec"
  inspect_all "$prog" "$cfg" "$train" "$T/$name-insp"
  python3 "$T/ft.py" split "$file" 3 "$T/$name-rec"
  for k in 0 1 2; do
    i=$(python3 "$T/ft.py" match "$T/$name-rec/$k.prompt.json" \
          "$T/$name-insp" "$(wc -l <"$train")")
    check "$name: record $k equals inspect's messages for its example" \
      test -n "$i"
    [ -n "$i" ] || continue
    ex=$(sed -n "$((i + 1))p" "$train")
    "$PC_PROMPTC" inspect "$prog" --config "$cfg" \
      --parse "$T/$name-rec/$k.reply.txt" >"$T/$name-rec/$k.parsed" \
      2>"$T/err"
    check "$name: record $k's reply parses" test $? -eq 0
    "$PC_PROMPTC" run "$prog" --config "$cfg" --cache "$T/cache.sqlite" \
      --no-record --input-json "$ex" >"$T/$name-rec/$k.run" 2>"$T/err"
    check "$name: record $k's reply holds the traced outputs" \
      python3 "$T/ft.py" same "$T/$name-rec/$k.parsed" "$T/$name-rec/$k.run"
  done
}

# --- dry run: |T| x R task calls, |T| metric calls ------------------------
compile 0 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/never.json" --dry-run --json
check "dry run: lm_calls = |T| x R = 40, metric_calls = 40, proposals 0" \
  test "$(get "$T/out" "list(d['estimate'].values())")" = "[40, 40, 0]"
compile 0 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/never.json" --dry-run --json --set use_metric=false
check "dry run without the metric: no metric calls" \
  test "$(get "$T/out" "list(d['estimate'].values())")" = "[40, 0, 0]"
check "a dry run writes neither program nor export" \
  test ! -e "$T/never.json" -a ! -e "$T/never.export"

# --- triage: the export, checked against the adapter ---------------------
compile 0 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/triage.json" --json --cache "$T/cache.sqlite"
cp "$T/out" "$T/triage-sum.json"
check "triage: the export holds finetune.jsonl and manifest.json" \
  test -s "$T/triage.export/finetune.jsonl" -a \
  -s "$T/triage.export/manifest.json"
check "triage: every line valid; counts and sha256 match; records = kept" \
  python3 "$T/ft.py" validate "$T/triage.export" 1
# The teacher is the program as given on the same LM, so the examples it
# keeps are those its baseline (val = train) scored.
kept=$(get "$T/triage.export/manifest.json" "d['examples']['kept']")
base=$(get "$T/triage-sum.json" "d['baseline']['score']")
echo "# triage: kept $kept of 40, baseline $base"
check "triage: kept ($kept of 40) is the baseline's $base per cent" \
  python3 -c "import sys; sys.exit(abs($kept / 40 * 100 - $base) > 1e-9)"
check "triage: the program is not changed (no state)" \
  test "$(get "$T/triage.json" "d.get('state', {})")" = "{}"
check "triage: one trial, 'teacher traces'" \
  test "$(get "$T/triage-sum.json" "d['trials']")" = 1
equal_to_adapter triage "$TE/program.json" "$T/tcfg.json" \
  "$T/ttrain.jsonl" "$T/triage.export/finetune.jsonl"

# --- math: chain of thought, the program's demos, multitask false --------
compile 0 "$ME/program.json" "$T/mcfg.json" "$T/mtrain.jsonl" \
  "$T/math.json" --json --cache "$T/cache.sqlite" --set multitask=false
check "math: one file per predictor (finetune-solve.predict.jsonl)" \
  test "$(ls "$T/math.export" | tr '\n' ' ')" = \
  "finetune-solve.predict.jsonl manifest.json "
check "math: the manifest names the predictor of the file" test \
  "$(get "$T/math.export/manifest.json" "d['files'][0]['predictors']")" = \
  "['solve.predict']"
check "math: every line valid; counts and sha256 match; records = kept" \
  python3 "$T/ft.py" validate "$T/math.export" 1
check "math: records carry the program's 2 demos (7 messages)" \
  python3 -c 'import json, sys
for l in open(sys.argv[1]):
    assert len(json.loads(l)["messages"]) == 7' \
  "$T/math.export/finetune-solve.predict.jsonl"
equal_to_adapter math "$ME/program.json" "$T/mcfg.json" \
  "$T/mtrain.jsonl" "$T/math.export/finetune-solve.predict.jsonl"
compile 0 "$ME/program.json" "$T/mcfg.json" "$T/mtrain.jsonl" \
  "$T/mathx.json" --cache "$T/cache.sqlite" --set exclude_demos=true
check "math, exclude_demos: records without demos (3 messages)" \
  python3 -c 'import json, sys
n = 0
for l in open(sys.argv[1]):
    assert len(json.loads(l)["messages"]) == 3
    n += 1
assert n > 0' "$T/mathx.export/finetune.jsonl"

# --- parse failures are never exported ------------------------------------
compile 0 "$TE/program.json" "$T/malcfg.json" "$T/ttrain.jsonl" \
  "$T/mal.json" --cache "$T/cache-mal.sqlite" --set use_metric=false
fp=$(get "$T/mal.export/manifest.json" "d['examples']['failed_parse']")
echo "# malformed 0.5: $fp parse failures of 40"
check "malformed replies: the manifest counts parse failures ($fp)" \
  test "$fp" -gt 0
check "malformed replies: every run that parsed is kept, none other" \
  python3 "$T/ft.py" validate "$T/mal.export" 1
check "malformed replies: kept = 40 - parse failures" test \
  "$(get "$T/mal.export/manifest.json" "d['examples']['kept']")" -eq \
  $((40 - fp))
python3 -c 'import json, sys
for k, l in enumerate(open(sys.argv[1])):
    open("%s/mal-%d.txt" % (sys.argv[2], k), "w").write(
        json.loads(l)["messages"][-1]["content"])' \
  "$T/mal.export/finetune.jsonl" "$T"
bad=0
for f in "$T"/mal-*.txt; do
  "$PC_PROMPTC" inspect "$TE/program.json" --parse "$f" >/dev/null 2>&1 ||
    bad=$((bad + 1))
done
check "malformed replies: every exported reply parses ($bad do not)" \
  test "$bad" -eq 0

# --- determinism: 1 and 16 threads ----------------------------------------
for n in 1 16; do
  compile 0 "$ME/program.json" "$T/mcfg.json" "$T/mtrain.jsonl" \
    "$T/t$n.json" --no-cache --threads "$n"
done
check "1 and 16 threads write byte-identical programs" \
  cmp "$T/t1.json" "$T/t16.json"
check "1 and 16 threads write byte-identical exports" \
  diff -r "$T/t1.export" "$T/t16.export"

# --- resume after SIGKILL: the same export -------------------------------
# One thread, and a val split of its own (20 examples), so that the
# teacher pass on train does not find its answers in the cache the
# baseline on val filled: the baseline makes about a third of the calls,
# the teacher pass two thirds, and the final evaluation on val is all
# cache hits. The kill lands in the teacher pass, before anything is
# exported. The resume replays no request (the teacher pass is the only
# one); the baseline and the teacher pass run again and find the calls
# they had finished in the cache, so only the call in flight is repaid.
sed -n 41,60p "$TE/data/train.jsonl" >"$T/tval.jsonl"      # |V| = 20
for run in full part nfull npart; do
  make_config "$TE" '"follow the policy", "urgency", "overrides"' \
    '{"name": "exact_match", "field": "queue"}' \
    ', "latency_ms": 10, "call_log": "'"$T/$run.log"'"' "" "$T/$run-cfg.json"
done
# killed RUN CALLS ARGS...: a compile with $T/RUN-cfg.json as run RUN,
# killed with SIGKILL once it has made CALLS calls; $first is how many it
# had made.
killed() {
  kr=$1; kn=$2; shift 2
  "$PC_PROMPTC" compile "$TE/program.json" --config "$T/$kr-cfg.json" \
    --train "$T/ttrain.jsonl" --val "$T/tval.jsonl" \
    --optimizer export-finetune --runs "$T/runs.sqlite" --no-progress \
    --threads 1 --run-id "$kr" -o "$T/$kr.json" "$@" >/dev/null 2>&1 &
  pid=$!
  n=0
  while [ "$n" -lt 400 ]; do
    sleep 0.02
    lines=$(wc -l 2>/dev/null <"$T/$kr.log" || echo 0)
    [ "$lines" -ge "$kn" ] && break
    n=$((n + 1))
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  first=$(wc -l <"$T/$kr.log")
}
compile 0 "$TE/program.json" "$T/full-cfg.json" "$T/ttrain.jsonl" \
  "$T/full.json" --val "$T/tval.jsonl" --cache "$T/cache-full" --threads 1
full_calls=$(wc -l <"$T/full.log")
killed part $((full_calls / 2)) --cache "$T/cache-part"
check "the first attempt was killed part-way ($first of $full_calls calls)" \
  test "$first" -gt 0 -a "$first" -lt "$full_calls"
check "the killed attempt wrote no export" test ! -e "$T/part.export"
run_promptc 0 compile --resume part --runs "$T/runs.sqlite" --no-progress
total=$(wc -l <"$T/part.log")
resume_paid "$first" "$total" "$full_calls"
check "the resumed compile writes the program of an uninterrupted one" \
  cmp "$T/part.json" "$T/full.json"
check "the resumed compile writes the export of an uninterrupted one" \
  diff -r "$T/part.export" "$T/full.export"
# With --no-cache the baseline, the teacher pass and the final evaluation
# make about a quarter, a half and a quarter of the calls; the kill lands
# in the teacher pass, and the resume pays the baseline and the whole
# teacher pass again: every call an uninterrupted run makes (docs/cli.md,
# --resume).
compile 0 "$TE/program.json" "$T/nfull-cfg.json" "$T/ttrain.jsonl" \
  "$T/nfull.json" --val "$T/tval.jsonl" --no-cache --threads 1
full_calls=$(wc -l <"$T/nfull.log")
killed npart $((full_calls / 2)) --no-cache
check "--no-cache: killed part-way ($first of $full_calls calls)" \
  test "$first" -gt 0 -a "$first" -lt "$full_calls"
run_promptc 0 compile --resume npart --runs "$T/runs.sqlite" --no-progress
total=$(wc -l <"$T/npart.log")
check "--no-cache: the resume repaid the baseline and the teacher pass \
($first before the kill + $((total - first)); uninterrupted $full_calls)" \
  test "$total" -eq $((first + full_calls))
check "--no-cache: the resumed export is the uninterrupted one's" \
  diff -r "$T/npart.export" "$T/nfull.export"

# --- budget: a cap cuts the teacher pass; nothing is exported -------------
# At one thread a run in flight at the cap may still make its JSON
# fallback request: at most max_calls + 1 (docs).
compile 0 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/capped.json" --no-cache --max-calls 20 --threads 1 --json
cp "$T/out" "$T/capped-sum.json"
check "max_calls stops the compile" \
  test "$(get "$T/capped-sum.json" "d['stopped_by']")" = max_calls
spent=$(get "$T/capped-sum.json" "d['usage']['task_calls']")
check "the cap of 20 spent at most 21 calls ($spent)" test "$spent" -le 21
check "a cut teacher pass writes no export" test ! -e "$T/capped.export"

# --- bad settings: clear errors, nothing written -------------------------
compile 2 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/bad1.json" --set metric_threshold=2
contains "$T/err" \
  "export-finetune: metric_threshold: expected null or a number in [0, 1]"
check "a bad threshold writes nothing" \
  test ! -e "$T/bad1.json" -a ! -e "$T/bad1.export"
compile 2 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/bad2.json" --set use_metric=false --set metric_threshold=0.5
contains "$T/err" \
  "export-finetune: metric_threshold: set, but use_metric is false"
compile 2 "$TE/program.json" "$T/tcfg.json" "$T/ttrain.jsonl" \
  "$T/bad3.json" --set num_threads=4
contains "$T/err" "export-finetune: num_threads: unknown setting"
check "bad settings write nothing" \
  test ! -e "$T/bad2.json" -a ! -e "$T/bad3.json" -a ! -e "$T/bad3.export"

finish
