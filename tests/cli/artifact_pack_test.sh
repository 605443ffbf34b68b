#!/bin/sh
# artifact_pack_test.sh - release artifacts end to end on the triage
# example and the sim LM: what `promptc pack` writes, reproducibility,
# signatures both ways with the real minisign tool, every way `promptc
# verify` refuses a tampered artifact, running an artifact with `run`,
# `eval` and `inspect --artifact`, model drift, missing plugins, secrets
# that must never leak, and the inputs pack refuses.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
  echo "skip: python3 is needed to take artifacts apart"
  exit 77
fi

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
T="$pc_tmp"
# Keep the user's keyring, cache and run store out of the test; tar prints
# times in UTC.
export XDG_CONFIG_HOME="$T/xdg-config" XDG_CACHE_HOME="$T/xdg-cache"
export XDG_STATE_HOME="$T/xdg-state" TZ=UTC
unset PROMPTC_KEYRING SOURCE_DATE_EPOCH

# not_contains FILE TEXT: passes when FILE lacks the fixed string TEXT.
not_contains() {
  if grep -qF -- "$2" "$1"; then
    not_ok "$(basename "$1") contains '$2'"
  else
    ok "$(basename "$1") lacks '$2'"
  fi
}

# member_sha ARTIFACT MEMBER: the sha256 of one member of a tar.
member_sha() {
  tar xOf "$1" "$2" | sha256sum | cut -d' ' -f1
}

# flip FILE OFFSET: change one byte of FILE (OFFSET < 0 counts from the
# end).
flip() {
  python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
b[off] ^= 0x01
open(path, "wb").write(bytes(b))
PY
}

# data_offset ARTIFACT MEMBER: the offset of the middle of a member's data.
data_offset() {
  python3 - "$1" "$2" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "r:") as t:
    m = t.getmember(sys.argv[2])
    print(m.offset_data + m.size // 2)
PY
}

# trusted_comment ARTIFACT: the comment pack binds to a signature.
trusted_comment() {
  stem=$(basename "$1" .ppa)
  name=${stem%-*}
  version=${stem##*-}
  echo "promptc-artifact:1 name=$name version=$version" \
    "sha256=$(sha256sum <"$1" | cut -d' ' -f1)" \
    "manifest_sha256=$(member_sha "$1" "$stem/MANIFEST.json")"
}

if command -v minisign >/dev/null 2>&1; then
  have_minisign=1
else
  have_minisign=0
fi

# --- compile, make a key, pack -----------------------------------------------
run_promptc 0 compile "$E/program.json" --config "$E/sim.json" \
  --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
  --optimizer bootstrap --runs "$T/runs.sqlite" --cache "$T/cache" \
  --no-progress --run-id r1 -o "$T/c.json"
run_promptc 0 keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
keyid=$(sed -n 's/^key id: //p' "$T/out")
check "keygen printed a key id ($keyid)" test -n "$keyid"
run_promptc 0 keygen -p "$T/k2.pub" -s "$T/k2.sec" --no-password

pack() {  # pack STATUS VERSION DIR [ARGS...]: pack run r1 of c.json
  want=$1; v=$2; dir=$3; shift 3
  run_promptc "$want" pack "$T/c.json" --run r1 --runs "$T/runs.sqlite" \
    --name triage --version "$v" --key "$T/k.sec" \
    --test "$E/data/test.jsonl" --no-progress -o "$dir" "$@"
}

# --- 1. what pack writes -----------------------------------------------------
pack 0 1.0.0 "$T/rel" --cache "$T/cache"
A="$T/rel/triage-1.0.0.ppa"
contains "$T/out" "artifact  $A"
check "pack wrote triage-1.0.0.ppa" test -s "$A"
check "pack wrote triage-1.0.0.ppa.minisig" test -s "$A.minisig"
tar tf "$A" >"$T/list"
check "tar lists MANIFEST.json first, then the members sorted" \
  python3 - "$T/list" <<'PY'
import sys
names = open(sys.argv[1]).read().split()
assert names[0] == "triage-1.0.0/MANIFEST.json", names
rest = names[1:]
assert rest == sorted(rest), rest
assert all(n.startswith("triage-1.0.0/") for n in names), names
for want in ("program.json", "eval/report.json", "provenance.json"):
    assert "triage-1.0.0/" + want in rest, want
assert any(n.startswith("triage-1.0.0/prompts/") for n in rest), rest
PY
tar tvf "$A" >"$T/listv"
check "every member is owned by 0/0 with mtime 0" python3 - "$T/listv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 5, lines
for l in lines:
    f = l.split()
    assert f[0] == "-rw-r--r--" and f[1] == "0/0", l
    assert f[3] == "1970-01-01" and f[4] == "00:00", l
PY
check "the artifact names no path of the packing machine" \
  sh -c '! grep -qF -- "$1" "$2" && ! grep -qF -- "$3" "$2"' sh "$T" "$A" \
  "/examples/triage"

check "the manifest records what made the program" \
  python3 - "$A" "$E/data" <<'PY'
import hashlib, json, re, sys, tarfile
path, data = sys.argv[1], sys.argv[2]
top = "triage-1.0.0/"
with tarfile.open(path, "r:") as t:
    members = {m.name[len(top):]: t.extractfile(m).read()
               for m in t.getmembers()}
m = json.loads(members.pop("MANIFEST.json"))
assert m["schema"] == "promptc.artifact/1", m["schema"]
assert m["name"] == "triage" and m["version"] == "1.0.0"
assert m["framework"]["abi_major"] == 1, m["framework"]
files = {f["path"]: f for f in m["files"]}
assert set(files) == set(members), (sorted(files), sorted(members))
for p, body in members.items():
    assert files[p]["sha256"] == hashlib.sha256(body).hexdigest(), p
    assert files[p]["size"] == len(body), p
roles = {p["role"] for p in m["requires"]["plugins"]}
assert {"lm", "adapter", "metric", "optimizer"} <= roles, roles
for p in m["requires"]["plugins"]:
    assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"]), p
    assert p["id"].startswith("org.promptc.") and p["version"], p
assert m["models"]["lm"]["identity"].startswith("sim-1@"), m["models"]
o = m["optimizer"]
assert o["id"] == "org.promptc.optimizer.bootstrap" and o["version"], o
assert isinstance(o["settings"], dict) and o["settings"], o
assert o["seed"] == 0, o
files_of = {"train": "train.jsonl", "val": "dev.jsonl", "test": "test.jsonl"}
for split, f in files_of.items():
    s = m["splits"][split]
    body = open(data + "/" + f, "rb").read()
    assert s["sha256"] == hashlib.sha256(body).hexdigest(), split
    n = len([l for l in body.splitlines() if l.strip()])
    assert s["n"] == n and len(s["examples"]) == n, (split, s["n"], n)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e) for e in s["examples"])
    assert len(set(s["examples"])) == n, split
for which in ("baseline", "compiled"):
    r = m["evaluation"]["test"][which]
    assert 0.0 <= r["score"] <= 1.0, r
    assert set(r["slices"]) == {"chat", "email", "phone"}, r["slices"]
    for sl in r["slices"].values():
        assert 0.0 <= sl["score"] <= 1.0 and sl["n"] > 0, sl
t = m["evaluation"]["test"]
assert t["compiled"]["score"] > t["baseline"]["score"], t
PY

# --- 2. reproducibility ------------------------------------------------------
pack 0 1.0.0 "$T/out2" --no-cache --threads 3
check "a second pack (no cache, 3 threads) writes the same .ppa" \
  cmp "$A" "$T/out2/triage-1.0.0.ppa"
check "... and the same .minisig" \
  cmp "$A.minisig" "$T/out2/triage-1.0.0.ppa.minisig"
SOURCE_DATE_EPOCH=1700000000
export SOURCE_DATE_EPOCH
pack 0 1.0.0 "$T/out3" --cache "$T/cache"
unset SOURCE_DATE_EPOCH
check "SOURCE_DATE_EPOCH changes the bytes" \
  sh -c '! cmp -s "$1" "$2"' sh "$A" "$T/out3/triage-1.0.0.ppa"
tar tvf "$T/out3/triage-1.0.0.ppa" >"$T/listv3"
check "SOURCE_DATE_EPOCH=1700000000 dates every member 2023-11-14 22:13" \
  python3 - "$T/listv3" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 5, lines
assert all(l.split()[3:5] == ["2023-11-14", "22:13"] for l in lines), lines
PY
run_promptc 0 verify "$T/out3/triage-1.0.0.ppa" -p "$T/k.pub"

# --- 3. interoperability with minisign ---------------------------------------
if [ "$have_minisign" -eq 1 ]; then
  minisign -V -p "$T/k.pub" -m "$A" >"$T/mv.out" 2>&1
  check "minisign -V accepts our signature" test $? -eq 0
  contains "$T/mv.out" "Trusted comment: $(trusted_comment "$A")"
  # Ed25519 is deterministic: minisign 0.10 and later (which sign the
  # prehashed way by default, as pack does) signing the same bytes with the
  # same key and comment must write our very file.
  mver=$(minisign -v 2>&1 |
    sed -n 's/^minisign \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  if [ -n "$mver" ] && [ "${mver% *}" -eq 0 ] && [ "${mver#* }" -lt 10 ]
  then
    echo "# minisign $mver signs the legacy way: no byte comparison"
  else
    mkdir "$T/same"
    cp "$A" "$T/same/"
    minisign -S -s "$T/k.sec" -m "$T/same/triage-1.0.0.ppa" \
      -t "$(trusted_comment "$A")" </dev/null >/dev/null 2>&1
    check "minisign -S with our key writes the .minisig pack wrote" \
      cmp "$A.minisig" "$T/same/triage-1.0.0.ppa.minisig"
  fi

  (cd "$T" && minisign -G -W -p m.pub -s m.key </dev/null >/dev/null 2>&1)
  check "minisign -G made a key pair" test -s "$T/m.key"
  mkdir "$T/mini"
  cp "$A" "$T/mini/"
  X="$T/mini/triage-1.0.0.ppa"
  minisign -S -s "$T/m.key" -m "$X" -t "$(trusted_comment "$X")" \
    </dev/null >/dev/null 2>&1
  check "minisign -S signed the artifact" test -s "$X.minisig"
  run_promptc 0 verify "$X" -p "$T/m.pub"
  contains "$T/out" "verified  OK"
  # The key id as promptc prints it (minisign's own comment drops leading
  # zeros): bytes 2-9 of the key, a little-endian number in 16 hex digits.
  mkid=$(python3 -c '
import base64, sys
k = base64.b64decode(open(sys.argv[1]).read().splitlines()[1])
print("%016X" % int.from_bytes(k[2:10], "little"))' "$T/m.pub")
  contains "$T/out" "signed    key $mkid"
  run_promptc 11 verify "$X" -p "$T/k.pub"
  contains "$T/err" "signed by key $mkid, which is not trusted"
else
  echo "# minisign is not installed: skipping the interoperability checks"
fi

# --- 4. verify refuses tampering ---------------------------------------------
run_promptc 0 verify "$A" -p "$T/k.pub"
contains "$T/out" "signed    key $keyid"
contains "$T/out" "verified  OK"

# fresh DIR: a copy of the genuine artifact and signature in DIR.
fresh() {
  rm -rf "$T/$1"
  mkdir "$T/$1"
  cp "$A" "$A.minisig" "$T/$1/"
  F="$T/$1/triage-1.0.0.ppa"
}

fresh nosig
rm "$F.minisig"
run_promptc 10 verify "$F" -p "$T/k.pub"
contains "$T/err" "not signed"
fresh garbled
printf 'untrusted comment: hello\nnot base64 at all\n' >"$F.minisig"
run_promptc 10 verify "$F" -p "$T/k.pub"
contains "$T/err" "bad signature file"
run_promptc 11 verify "$A" -p "$T/k2.pub"
contains "$T/err" "signed by key $keyid, which is not trusted"
run_promptc 11 verify "$A"
contains "$T/err" "(no keyring: give --keyring FILE"

pub=$(sed -n 2p "$T/k.pub")
cat >"$T/revoked.json" <<EOF
{"schema": "promptc.keyring/1",
 "keys": [{"name": "release", "public_key": "$pub"}],
 "revoked": ["$keyid"]}
EOF
cat >"$T/expired.json" <<EOF
{"schema": "promptc.keyring/1",
 "keys": [{"name": "release", "public_key": "$pub", "expires": "2001-01-01"}]}
EOF
cat >"$T/good.json" <<EOF
{"schema": "promptc.keyring/1",
 "keys": [{"name": "release", "public_key": "$pub", "expires": "2999-12-31"}]}
EOF
cat >"$T/k2ring.json" <<EOF
{"schema": "promptc.keyring/1",
 "keys": [{"public_key": "$(sed -n 2p "$T/k2.pub")"}]}
EOF
run_promptc 0 verify "$A" --keyring "$T/good.json"
contains "$T/out" "signed    key $keyid (release)"
run_promptc 12 verify "$A" --keyring "$T/revoked.json"
contains "$T/err" "signed by key $keyid, which is revoked"
run_promptc 13 verify "$A" --keyring "$T/expired.json"
contains "$T/err" "signed by key $keyid, which has expired"
PROMPTC_KEYRING="$T/revoked.json" "$PC_PROMPTC" verify "$A" \
  >"$T/out" 2>"$T/err"
check "PROMPTC_KEYRING names the keyring (revoked: 12)" test $? -eq 12

fresh first
flip "$F" 0
run_promptc 14 verify "$F" -p "$T/k.pub"
contains "$T/err" "the signature does not match the file"
fresh middle
flip "$F" "$(data_offset "$F" triage-1.0.0/program.json)"
run_promptc 14 verify "$F" -p "$T/k.pub"
contains "$T/err" "the signature does not match the file"
fresh padding
check "the artifact ends in zero padding" python3 -c '
import sys; assert open(sys.argv[1], "rb").read()[-512:] == bytes(512)' "$F"
flip "$F" -1
run_promptc 14 verify "$F" -p "$T/k.pub"
contains "$T/err" "the signature does not match the file"

fresh comment
sed 's/^\(trusted comment: .*\) name=triage /\1 name=triage2 /' \
  "$A.minisig" >"$F.minisig"
check "the trusted comment was edited" \
  sh -c '! cmp -s "$1" "$2"' sh "$A.minisig" "$F.minisig"
run_promptc 15 verify "$F" -p "$T/k.pub"
contains "$T/err" "the trusted comment does not match its signature"

fresh renamed
mv "$F" "$T/renamed/triage-2.0.0.ppa"
mv "$F.minisig" "$T/renamed/triage-2.0.0.ppa.minisig"
run_promptc 16 verify "$T/renamed/triage-2.0.0.ppa" -p "$T/k.pub"
contains "$T/err" "the signature is for triage-1.0.0.ppa (renamed artifact)"

pack 0 1.0.1 "$T/out101" --cache "$T/cache"
fresh swapped
cp "$T/out101/triage-1.0.1.ppa.minisig" "$F.minisig"
run_promptc 14 verify "$F" -p "$T/k.pub"
contains "$T/err" "the signature does not match the file"
run_promptc 0 verify "$T/out101/triage-1.0.1.ppa" -p "$T/k.pub"

# --allow-unsigned lets an unsigned or unknown artifact pass, warned; never
# a revoked key or a changed byte.
run_promptc 0 verify "$T/nosig/triage-1.0.0.ppa" -p "$T/k.pub" \
  --allow-unsigned
contains "$T/err" "warning:"
contains "$T/err" "not signed"
contains "$T/out" "signed    no: not signed"
contains "$T/out" "verified  OK"
run_promptc 0 verify "$A" -p "$T/k2.pub" --allow-unsigned
contains "$T/err" "signed by key $keyid, which is not in the keyring"
contains "$T/err" "allowed by --allow-unsigned"
run_promptc 0 verify "$A" --keyring "$T/expired.json" --allow-unsigned
contains "$T/err" "which has expired"
run_promptc 12 verify "$A" --keyring "$T/revoked.json" --allow-unsigned
contains "$T/err" "which is revoked"
run_promptc 14 verify "$T/middle/triage-1.0.0.ppa" -p "$T/k.pub" \
  --allow-unsigned
contains "$T/err" "the signature does not match the file"
run_promptc 10 verify "$T/garbled/triage-1.0.0.ppa" -p "$T/k.pub" \
  --allow-unsigned
# Without a signature the manifest's digests still catch a changed member.
rm "$T/middle/triage-1.0.0.ppa.minisig"
run_promptc 18 verify "$T/middle/triage-1.0.0.ppa" --allow-unsigned
contains "$T/err" "program.json does not match its sha256 in the manifest"

run_promptc 0 verify "$A" -p "$T/k.pub" --json
check "verify --json prints ok, name, version, sha256 and the members" \
  python3 - "$T/out" "$A" "$keyid" <<'PY'
import hashlib, json, sys
o = json.load(open(sys.argv[1]))
assert o["ok"] is True and o["signed"] is True, o
assert o["name"] == "triage" and o["version"] == "1.0.0", o
sha = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert o["sha256"] == sha, (o["sha256"], sha)
assert o["key_id"] == sys.argv[3], o["key_id"]
paths = [m["path"] for m in o["members"]]
assert paths[0] == "triage-1.0.0/MANIFEST.json" and len(paths) == 5, paths
assert o["manifest"]["name"] == "triage"
PY

# --- 5. running an artifact --------------------------------------------------
IN="@$E/input.json"
run_promptc 0 run "$T/c.json" --config "$E/sim.json" --input-json "$IN"
cp "$T/out" "$T/run-c.out"
run_promptc 0 run --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" \
  --input-json "$IN"
check "run --artifact prints what running c.json prints" \
  cmp "$T/out" "$T/run-c.out"
contains "$T/out" '"queue"'

run_promptc 0 eval "$T/c.json" --config "$E/sim.json" \
  --data "$E/data/test.jsonl" --json --no-progress --cache "$T/cache"
cp "$T/out" "$T/eval-c.json"
run_promptc 0 eval --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" \
  --data "$E/data/test.jsonl" --json --no-progress --cache "$T/cache"
check "eval --artifact scores what c.json scores, as the manifest says" \
  python3 - "$T/out" "$T/eval-c.json" "$A" <<'PY'
import json, sys, tarfile
a = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
with tarfile.open(sys.argv[3], "r:") as t:
    m = json.load(t.extractfile("triage-1.0.0/MANIFEST.json"))
assert a["examples"] == 100, a["examples"]
assert a["score"] == c["score"], (a["score"], c["score"])
assert a["slices"] == c["slices"]
assert a["score"] == m["evaluation"]["test"]["compiled"]["score"]
PY

run_promptc 0 inspect "$T/c.json" --input-json "$IN"
cp "$T/out" "$T/inspect-c.out"
run_promptc 0 inspect "$E/program.json" --input-json "$IN"
cp "$T/out" "$T/inspect-plain.out"
run_promptc 0 inspect --artifact "$A" --public-key "$T/k.pub" \
  --input-json "$IN"
contains "$T/out" '"role": "system"'
check "inspect --artifact prints the compiled program's messages" \
  cmp "$T/out" "$T/inspect-c.out"
check "... which are not the uncompiled program's" \
  sh -c '! cmp -s "$1" "$2"' sh "$T/out" "$T/inspect-plain.out"

run_promptc 11 run --artifact "$A" -p "$T/k2.pub" --config "$E/sim.json" \
  --input-json "$IN"
contains "$T/err" "which is not trusted"
run_promptc 11 inspect --artifact "$A" --input-json "$IN"
contains "$T/err" "which is not trusted"
run_promptc 11 eval --artifact "$A" --keyring "$T/k2ring.json" \
  --config "$E/sim.json" --data "$E/data/test.jsonl" \
  --no-progress --cache "$T/cache"
contains "$T/err" "which is not trusted"
run_promptc 10 run --artifact "$T/nosig/triage-1.0.0.ppa" -p "$T/k.pub" \
  --config "$E/sim.json" --input-json "$IN"
contains "$T/err" "not signed"
run_promptc 0 run --artifact "$A" -p "$T/k2.pub" --allow-unsigned \
  --config "$E/sim.json" --input-json "$IN"
contains "$T/err" "allowed by --allow-unsigned"
check "run --artifact --allow-unsigned runs the program" \
  cmp "$T/out" "$T/run-c.out"
run_promptc 0 run --artifact "$T/nosig/triage-1.0.0.ppa" --allow-unsigned \
  --config "$E/sim.json" --input-json "$IN"
contains "$T/err" "not signed"
run_promptc 14 run --artifact "$T/first/triage-1.0.0.ppa" -p "$T/k.pub" \
  --allow-unsigned --config "$E/sim.json" --input-json "$IN"
run_promptc 2 run "$T/c.json" --artifact "$A" -p "$T/k.pub" \
  --config "$E/sim.json" --input-json "$IN"
contains "$T/err" "not both"

# --- 6. model drift ----------------------------------------------------------
cat >"$T/drift.json" <<EOF
{"lm": {"provider": "sim", "seed": 7,
        "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl"],
        "key_phrases": ["follow the policy", "urgency", "overrides"]},
 "adapter": "chat",
 "metric": {"name": "exact_match", "field": "queue"}}
EOF
recorded=$(python3 -c '
import json, sys, tarfile
t = tarfile.open(sys.argv[1], "r:")
m = json.load(t.extractfile("triage-1.0.0/MANIFEST.json"))
print(m["models"]["lm"]["identity"])' "$A")
run_promptc 0 eval "$T/c.json" --config "$T/drift.json" \
  --data "$E/data/dev.jsonl" --json --no-progress --no-cache
drifted=$(python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["model"])' "$T/out")
check "the other knowledge is another identity ($recorded, $drifted)" \
  sh -c 'case "$2" in sim-1@*) [ "$1" != "$2" ];; *) false;; esac' sh \
  "$recorded" "$drifted"
run_promptc 21 run --artifact "$A" -p "$T/k.pub" --config "$T/drift.json" \
  --input-json "$IN"
contains "$T/err" \
  "model drift: lm: compiled for $recorded, configured $drifted"
check "a refused run prints no outputs" test ! -s "$T/out"
run_promptc 21 eval --artifact "$A" -p "$T/k.pub" --config "$T/drift.json" \
  --data "$E/data/test.jsonl" --no-progress --no-cache
contains "$T/err" "compiled for $recorded, configured $drifted"
run_promptc 0 run --artifact "$A" -p "$T/k.pub" --config "$T/drift.json" \
  --input-json "$IN" --allow-model-drift
contains "$T/err" "warning:"
contains "$T/err" "allowed by --allow-model-drift"
contains "$T/out" '"queue"'
run_promptc 0 eval --artifact "$A" -p "$T/k.pub" --config "$T/drift.json" \
  --data "$E/data/test.jsonl" --no-progress --no-cache --allow-model-drift
contains "$T/err" "allowed by --allow-model-drift"
pack 21 1.0.0 "$T/out-drift" --config "$T/drift.json" --no-cache
contains "$T/err" "compiled with $recorded, but the config gives $drifted"
check "the refused pack wrote no artifact" test ! -e "$T/out-drift"

# --- 7. missing plugins ------------------------------------------------------
# The loader finds the config's plugins before the artifact's list is
# checked: a missing one is the loader's clear error (4).
without() {
  echo "$PROMPTC_PLUGIN_PATH" | tr ':' '\n' | grep -v "/$1/" | paste -sd: -
}
PROMPTC_PLUGIN_PATH=$(without metric-basic) "$PC_PROMPTC" eval \
  --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" \
  --data "$E/data/test.jsonl" --no-progress --no-cache \
  >"$T/out" 2>"$T/err"
check "eval --artifact without metric-basic exits 4" test $? -eq 4
contains "$T/err" 'metric "exact_match": no loaded plugin offers it'
PROMPTC_PLUGIN_PATH=$(without lm-sim) "$PC_PROMPTC" run \
  --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" --input-json "$IN" \
  >"$T/out" 2>"$T/err"
check "run --artifact without lm-sim exits 4" test $? -eq 4
contains "$T/err" 'provider "sim": no loaded plugin offers it'
PROMPTC_PLUGIN_PATH=$(without adapter-chat) "$PC_PROMPTC" run \
  --artifact "$A" -p "$T/k.pub" --config "$E/sim.json" --input-json "$IN" \
  >"$T/out" 2>"$T/err"
check "run --artifact without adapter-chat exits 4" test $? -eq 4
contains "$T/err" 'adapter "chat": no loaded plugin offers it'
# A plugin older than the one recorded: 20. The artifact is rebuilt with a
# manifest that needs lm-sim 1.5.0 and signed again by minisign.
if [ "$have_minisign" -eq 1 ]; then
  mkdir "$T/newer"
  python3 - "$A" "$T/newer/triage-1.0.0.ppa" <<'PY'
import hashlib, io, json, sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src, "r:") as t:
    members = [(m.name, t.extractfile(m).read()) for m in t.getmembers()]
top = "triage-1.0.0/"
m = json.loads(members[0][1])
for p in m["requires"]["plugins"]:
    if p["role"] == "lm":
        p["version"] = "1.5.0"
members[0] = (members[0][0], json.dumps(m, indent=2).encode())
with tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, body in members:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(body), 0o644, 0
        t.addfile(ti, io.BytesIO(body))
PY
  N="$T/newer/triage-1.0.0.ppa"
  minisign -S -s "$T/k.sec" -m "$N" -t "$(trusted_comment "$N")" \
    </dev/null >/dev/null 2>&1
  run_promptc 0 verify "$N" -p "$T/k.pub"
  run_promptc 20 run --artifact "$N" -p "$T/k.pub" --config "$E/sim.json" \
    --input-json "$IN"
  contains "$T/err" \
    "needs plugin org.promptc.lm.sim 1.5.0 (lm); the installed one is 1.0.0"
  check "a refused run prints no outputs" test ! -s "$T/out"
else
  echo "# minisign is not installed: skipping the plugin version check"
fi

# --- 8. secrets never leak ---------------------------------------------------
# The sim refuses members it does not know, so the reference goes in its
# informational "model" member; pack resolves every env: reference of the
# config to make sure none of the values reaches the artifact.
S="$T/sec"
mkdir "$S"
cat >"$S/cfg.json" <<EOF
{"lm": {"provider": "sim", "seed": 7, "model": "env:PC_PLANTED_KEY",
        "knowledge": ["$E/data/train.jsonl", "$E/data/dev.jsonl",
                      "$E/data/test.jsonl"],
        "key_phrases": ["follow the policy", "urgency", "overrides"]},
 "adapter": "chat",
 "metric": {"name": "exact_match", "field": "queue"}}
EOF
PC_PLANTED_KEY=sk-planted-0123456789abcdef
export PC_PLANTED_KEY
secret_run() {  # secret_run STATUS NAME ARGS...: outputs kept in $S/NAME.*
  want=$1; tag=$2; shift 2
  run_promptc "$want" "$@"
  cp "$T/out" "$S/$tag.stdout"
  cp "$T/err" "$S/$tag.stderr"
}
secret_run 0 compile compile "$E/program.json" --config "$S/cfg.json" \
  --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
  --optimizer bootstrap --runs "$S/runs.sqlite" --cache "$S/cache" \
  --no-progress --run-id s1 -o "$S/c.json"
secret_run 0 pack pack "$S/c.json" --run s1 --runs "$S/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" \
  --test "$E/data/test.jsonl" --cache "$S/cache" --no-progress -o "$S/out"
secret_run 0 verify verify "$S/out/triage-1.0.0.ppa" -p "$T/k.pub" --json
secret_run 0 run run --artifact "$S/out/triage-1.0.0.ppa" -p "$T/k.pub" \
  --config "$S/cfg.json" --input-json "$IN" --cache "$S/cache" --trace
secret_run 0 eval eval --artifact "$S/out/triage-1.0.0.ppa" \
  -p "$T/k.pub" --config "$S/cfg.json" --data "$E/data/test.jsonl" \
  --cache "$S/cache" --no-progress --json
secret_run 0 history history s1 --runs "$S/runs.sqlite" --json
check "the artifact, signature, run store and cache exist" \
  test -s "$S/out/triage-1.0.0.ppa" -a -s "$S/runs.sqlite" -a -e "$S/cache"
check "the artifact keeps the reference (so the search below means it)" \
  grep -qF "env:PC_PLANTED_KEY" "$S/out/triage-1.0.0.ppa"
check "the planted secret is nowhere: artifact, run store, cache, output" \
  sh -c '! grep -rsqF -- "$1" "$2" "$3" "$4"' sh "$PC_PLANTED_KEY" "$S" \
  "$T/xdg-cache" "$T/xdg-state"
# A secret whose value the artifact would contain: pack refuses, without
# printing it.
PC_PLANTED_KEY="the support policy excerpt" \
  "$PC_PROMPTC" pack "$S/c.json" --run s1 --runs "$S/runs.sqlite" \
  --name triage --version 1.0.1 --key "$T/k.sec" --cache "$S/cache" \
  --no-progress -o "$S/leak" >"$T/out" 2>"$T/err"
check "pack refuses an artifact that would hold a secret (3)" test $? -eq 3
contains "$T/err" "refusing to pack: a secret from the config"
not_contains "$T/err" "the support policy excerpt"
check "the refused pack wrote no artifact" \
  test ! -e "$S/leak/triage-1.0.1.ppa"
unset PC_PLANTED_KEY

# --- 9. what pack refuses ----------------------------------------------------
cp "$T/c.json" "$T/edited.json"
flip "$T/edited.json" 100
run_promptc 3 pack "$T/edited.json" --run r1 --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" -o "$T/bad"
contains "$T/err" "is not the program run r1 wrote"

mkdir "$T/data"
cp "$E/data/train.jsonl" "$E/data/dev.jsonl" "$T/data/"
run_promptc 0 compile "$E/program.json" --config "$E/sim.json" \
  --train "$T/data/train.jsonl" --val "$T/data/dev.jsonl" \
  --optimizer bootstrap --runs "$T/runs.sqlite" --cache "$T/cache" \
  --no-progress --run-id r2 -o "$T/c2.json"
run_promptc 0 pack "$T/c2.json" --run r2 --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" --cache "$T/cache" \
  --no-progress -o "$T/good2"
sed '$d' "$T/data/train.jsonl" >"$T/data/t"
mv "$T/data/t" "$T/data/train.jsonl"
run_promptc 3 pack "$T/c2.json" --run r2 --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" --cache "$T/cache" \
  --no-progress -o "$T/bad"
contains "$T/err" "train.jsonl: the run's train file changed since run r2"

run_promptc 2 pack "$T/c.json" --run r1 --runs "$T/runs.sqlite" \
  --name triage --version 1.0 --key "$T/k.sec" -o "$T/bad"
contains "$T/err" "artifact version '1.0'"
run_promptc 2 pack "$T/c.json" --run nosuch --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" -o "$T/bad"
contains "$T/err" "run nosuch: no such run"
run_promptc 2 pack "$T/c.json" --run r1 --runs "$T/runs.sqlite" \
  --name Triage --version 1.0.0 --key "$T/k.sec" -o "$T/bad"
contains "$T/err" "artifact name 'Triage'"
check "no refused pack wrote anything" test ! -e "$T/bad"

finish
