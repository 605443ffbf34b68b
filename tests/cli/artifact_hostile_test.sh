#!/bin/sh
# artifact_hostile_test.sh - `promptc verify` against hostile artifacts.
# The tar is read only after the signature verifies, so each hostile tar
# is built here with Python's tarfile (or raw bytes), signed with our key
# by the real minisign tool under a trusted comment that matches it, and
# must then be refused by the tar reader (17), the member check (18) or
# the schema check (19) with a message naming the member or the reason.
# Each case runs again unsigned under --allow-unsigned: the same refusal
# without the signature path. Nothing may be written outside the temp dir.
# Last, good signatures whose trusted comment binds another file, version
# or manifest (16).
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

for tool in minisign python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "skip: $tool is needed to sign hostile artifacts"
    exit 77
  fi
done

E="${PC_TEST_SRCDIR:-tests}/../examples/triage"
T="$pc_tmp"
export XDG_CONFIG_HOME="$T/xdg-config" XDG_CACHE_HOME="$T/xdg-cache"
export XDG_STATE_HOME="$T/xdg-state"
unset PROMPTC_KEYRING SOURCE_DATE_EPOCH

# A genuine artifact to take the members from.
run_promptc 0 compile "$E/program.json" --config "$E/sim.json" \
  --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
  --optimizer bootstrap --runs "$T/runs.sqlite" --cache "$T/cache" \
  --no-progress --run-id r1 -o "$T/c.json"
run_promptc 0 keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
run_promptc 0 pack "$T/c.json" --run r1 --runs "$T/runs.sqlite" \
  --name triage --version 1.0.0 --key "$T/k.sec" --cache "$T/cache" \
  --no-progress -o "$T/rel"
A="$T/rel/triage-1.0.0.ppa"
run_promptc 0 verify "$A" -p "$T/k.pub"

# Where a '../' or an absolute member would land if anything extracted it:
# outside the temp dir (verify runs from $T/cases/CASE).
tag="pc-hostile-$$"
up=$(dirname "$T")
escape_dotdot="$up/$tag-dotdot.txt"
escape_abs="$up/$tag-abs.txt"
escape_pax="$T/cases/$tag-pax.txt"
escape_link="$T/cases/symlink/triage-1.0.0/link"
check "the escape targets do not exist beforehand" \
  test ! -e "$escape_dotdot" -a ! -e "$escape_abs"

# Build every case as $T/cases/CASE/triage-1.0.0.ppa with the trusted
# comment that binds it in $T/cases/CASE/comment.
mkdir "$T/cases"
python3 - "$A" "$T/cases" "$tag" "$escape_abs" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile

src, out, tag, absolute = sys.argv[1:5]
top = "triage-1.0.0/"
raw = open(src, "rb").read()
with tarfile.open(src, "r:") as t:
    genuine = [(m.name, t.extractfile(m).read()) for m in t.getmembers()]
    offsets = {m.name: m.offset_data for m in t.getmembers()}
assert genuine[0][0] == top + "MANIFEST.json"
manifest_bytes = genuine[0][1]
members = genuine[1:]


def entry(name, body=b"", kind=tarfile.REGTYPE, **extra):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = kind, 0o644, 0
    ti.size = len(body) if kind == tarfile.REGTYPE else 0
    for k, v in extra.items():
        setattr(ti, k, v)
    return ti, (body if kind == tarfile.REGTYPE else None)


def tar(entries, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, body in entries:
            t.addfile(ti, io.BytesIO(body) if body is not None else None)
    return buf.getvalue()


def with_manifest(rest, m=None, fmt=tarfile.USTAR_FORMAT):
    """A tar of MANIFEST.json (genuine, or `m` serialised) and `rest`."""
    mb = manifest_bytes if m is None else json.dumps(m, indent=2).encode()
    return tar([entry(top + "MANIFEST.json", mb)] + rest, fmt), mb


def regular(pairs):
    return [entry(n, b) for n, b in pairs]


def write(case, data, mb=manifest_bytes):
    d = os.path.join(out, case)
    os.mkdir(d)
    with open(os.path.join(d, "triage-1.0.0.ppa"), "wb") as f:
        f.write(data)
    comment = ("promptc-artifact:1 name=triage version=1.0.0 sha256=%s "
               "manifest_sha256=%s" % (hashlib.sha256(data).hexdigest(),
                                       hashlib.sha256(mb).hexdigest()))
    with open(os.path.join(d, "comment"), "w") as f:
        f.write(comment)


# The control: the genuine members rebuilt here pass.
write("control", *with_manifest(regular(members)))

# Refused by the tar reader (17).
evil = {
    "dotdot": entry(top + "../../../../%s-dotdot.txt" % tag, b"escaped\n"),
    "pax-path": entry(top + "innocent.txt", b"escaped\n",
                      pax_headers={"path": "../%s-pax.txt" % tag}),
    "absolute": entry(absolute, b"escaped\n"),
    "non-ascii": entry(top + "caf\u00e9.txt", b"escaped\n"),
    "symlink": entry(top + "link", kind=tarfile.SYMTYPE,
                     linkname="/etc/passwd"),
    "hardlink": entry(top + "hard", kind=tarfile.LNKTYPE,
                      linkname=top + "program.json"),
    "chardev": entry(top + "null", kind=tarfile.CHRTYPE, devmajor=1,
                     devminor=3),
    "fifo": entry(top + "pipe", kind=tarfile.FIFOTYPE),
    "directory": entry(top + "dir", kind=tarfile.DIRTYPE),
    "duplicate": entry(top + "program.json", b"{}\n"),
    "case-duplicate": entry(top + "Program.json", b"{}\n"),
    "big": entry(top + "big.bin", b"\0" * ((16 << 20) + 1)),
}
for case, e in evil.items():
    fmt = tarfile.PAX_FORMAT if e[0].pax_headers else tarfile.USTAR_FORMAT
    write(case, with_manifest(regular(members[:1]) + [e] +
                              regular(members[1:]), fmt=fmt)[0])
write("many", with_manifest(regular(members) + regular(
    [(top + "many/%05d.txt" % i, b"x") for i in range(10000)]))[0])

cut = offsets[top + "program.json"] + 100
write("truncated", raw[:cut])
last_name, last_body = members[-1]
end = offsets[last_name] + (len(last_body) + 511) // 512 * 512
write("no-end-marker", raw[:end])
write("trailing-data", raw + b"not a tar block\n")
write("gzip", gzip.compress(raw, mtime=0))
write("empty", b"\0" * 10240)

# Members that differ from the manifest (18).
def without(name):
    return [(n, b) for n, b in members if n != top + name]

write("missing", with_manifest(regular(without("provenance.json")))[0])
write("extra", with_manifest(regular(members + [(top + "extra.txt",
                                                 b"extra\n")]))[0])
write("listed-not-present", with_manifest(regular(
    without("provenance.json") + [(top + "extra.txt", b"extra\n")]))[0])
changed = [(n, b if n != top + "program.json" else b.replace(b"{", b"[", 1))
           for n, b in members]
write("digest", with_manifest(regular(changed))[0])
write("manifest-not-first", tar(regular(members[:1]) +
                                [entry(top + "MANIFEST.json",
                                       manifest_bytes)] +
                                regular(members[1:])))

# An unsupported manifest (19).
m = json.loads(manifest_bytes)
m["schema"] = "promptc.artifact/9"
write("schema", *with_manifest(regular(members), m))
m = json.loads(manifest_bytes)
m["framework"]["abi_major"] = 2
write("abi", *with_manifest(regular(members), m))
bad = b"{\"schema\": \"promptc.artifact/1\", oops"
write("manifest-not-json", tar([entry(top + "MANIFEST.json", bad)] +
                                regular(members)), bad)
PY
check "python built the hostile artifacts" test -s "$T/cases/control/comment"

run_promptc 0 verify "$T/cases/control/triage-1.0.0.ppa" --allow-unsigned
minisign -S -s "$T/k.sec" -m "$T/cases/control/triage-1.0.0.ppa" \
  -t "$(cat "$T/cases/control/comment")" </dev/null >/dev/null 2>&1
run_promptc 0 verify "$T/cases/control/triage-1.0.0.ppa" -p "$T/k.pub"
contains "$T/out" "verified  OK"

# hostile CASE STATUS TEXT: sign CASE, verify it (signed, then unsigned with
# --allow-unsigned) from inside its directory; both must exit STATUS with
# TEXT in the message, and nothing may be extracted.
hostile() {
  c=$1; want=$2; text=$3
  d="$T/cases/$c"
  F="$d/triage-1.0.0.ppa"
  minisign -S -s "$T/k.sec" -m "$F" -t "$(cat "$d/comment")" \
    </dev/null >/dev/null 2>&1
  check "$c: minisign signed it" test -s "$F.minisig"
  cd "$d" || exit 99
  run_promptc "$want" verify "$F" -p "$T/k.pub" </dev/null
  contains "$T/err" "$text"
  mkdir "$d/unsigned"
  cp "$F" "$d/unsigned/"
  run_promptc "$want" verify "$d/unsigned/triage-1.0.0.ppa" \
    --allow-unsigned </dev/null
  contains "$T/err" "$text"
  cd "$T" || exit 99
  check "$c: nothing was extracted" test ! -e "$d/triage-1.0.0" -a \
    ! -e "$d/unsigned/triage-1.0.0"
}

hostile dotdot 17 "$tag-dotdot.txt\": path has a \"..\" segment"
hostile pax-path 17 "$tag-pax.txt\": path has a \"..\" segment"
hostile absolute 17 "\"$escape_abs\": path is absolute"
hostile non-ascii 17 \
  '"triage-1.0.0/caf\xc3\xa9.txt": path has a byte outside'
hostile symlink 17 '"triage-1.0.0/link": is a symbolic link'
hostile hardlink 17 '"triage-1.0.0/hard": is a hard link'
hostile chardev 17 '"triage-1.0.0/null": is a character device'
hostile fifo 17 '"triage-1.0.0/pipe": is a FIFO'
hostile directory 17 '"triage-1.0.0/dir/": is a directory'
hostile duplicate 17 '"triage-1.0.0/program.json": duplicate name'
hostile case-duplicate 17 \
  'differs only in case from "triage-1.0.0/Program.json"'
hostile big 17 '"triage-1.0.0/big.bin": 16777217 bytes, over the limit'
hostile many 17 "more than 4096 members"
hostile truncated 17 '"triage-1.0.0/program.json": reading data: Truncated'
hostile no-end-marker 17 "truncated: no end-of-archive marker"
hostile trailing-data 17 "data after the end-of-archive marker"
hostile gzip 17 "not an uncompressed tar"
hostile empty 17 "tar: no members"
hostile missing 18 "4 members, but the manifest lists 4 files and itself"
hostile extra 18 "6 members, but the manifest lists 4 files and itself"
hostile listed-not-present 18 \
  "the manifest lists provenance.json, which is not in the archive"
hostile digest 18 "program.json does not match its sha256 in the manifest"
hostile manifest-not-first 18 \
  "the first member is triage-1.0.0/eval/report.json, not"
hostile schema 19 "schema promptc.artifact/9 is not promptc.artifact/1"
hostile abi 19 "made for plugin ABI 2.2; this promptc has 1.2"
hostile manifest-not-json 19 "MANIFEST.json: offset"

# A good signature whose trusted comment does not bind this artifact: 16.
# bound CASE COMMENT TEXT [NAME]: the genuine tar as NAME (default
# triage-1.0.0.ppa), signed by minisign with COMMENT (empty: minisign's
# own), must exit 16 with TEXT.
bound() {
  d="$T/bound/$1"
  F="$d/${4:-triage-1.0.0.ppa}"
  mkdir -p "$d"
  cp "$A" "$F"
  if [ -n "$2" ]; then
    minisign -S -s "$T/k.sec" -m "$F" -t "$2" </dev/null >/dev/null 2>&1
  else
    minisign -S -s "$T/k.sec" -m "$F" </dev/null >/dev/null 2>&1
  fi
  run_promptc 16 verify "$F" -p "$T/k.pub" </dev/null
  contains "$T/err" "$3"
}
sha=$(sha256sum <"$A" | cut -d' ' -f1)
msha=$(tar xOf "$A" triage-1.0.0/MANIFEST.json | sha256sum | cut -d' ' -f1)
other=$(echo other | sha256sum | cut -d' ' -f1)
tc="promptc-artifact:1 name=triage"
bound foreign "" "is not a promptc artifact comment"
bound other-file "$tc version=1.0.0 sha256=$other manifest_sha256=$msha" \
  "signed for another file (sha256 $other"
bound other-manifest "$tc version=1.0.0 sha256=$sha manifest_sha256=$other" \
  "MANIFEST.json is not the one that was signed"
bound other-version "$tc version=1.0.1 sha256=$sha manifest_sha256=$msha" \
  "signed as triage 1.0.1, but the manifest says triage 1.0.0" \
  triage-1.0.1.ppa
# The same signing with the right comment passes.
mkdir "$T/bound/right"
cp "$A" "$T/bound/right/"
minisign -S -s "$T/k.sec" -m "$T/bound/right/triage-1.0.0.ppa" \
  -t "$tc version=1.0.0 sha256=$sha manifest_sha256=$msha" \
  </dev/null >/dev/null 2>&1
run_promptc 0 verify "$T/bound/right/triage-1.0.0.ppa" -p "$T/k.pub"
contains "$T/out" "verified  OK"

check "no '../' member escaped ($escape_dotdot)" test ! -e "$escape_dotdot"
check "no pax path escaped ($escape_pax)" test ! -e "$escape_pax"
check "no absolute member was written ($escape_abs)" test ! -e "$escape_abs"
check "no symlink was made" test ! -e "$escape_link" -a ! -L "$escape_link"

finish
