#!/bin/sh
# artifact_keys_test.sh - `promptc keygen` end to end: unencrypted and
# encrypted key pairs, refusing to overwrite, --force, and the real
# minisign signing with our keys and verifying with our public keys.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

if ! command -v minisign >/dev/null 2>&1; then
  echo "minisign not installed: skipping the keygen interop test"
  exit 77
fi

k="$pc_tmp/keys"
mkdir "$k" || exit 99
printf 'hello prompt program\n' >"$k/prog.tar"

# Unencrypted (CI) keys.
run_promptc 0 keygen -p "$k/ci.pub" -s "$k/ci.sec" --no-password
contains "$pc_tmp/out" "key id: "
contains "$pc_tmp/out" "public key: RW"
id=$(sed -n 's/^key id: //p' "$pc_tmp/out")
b64=$(sed -n 's/^public key: //p' "$pc_tmp/out")
check "the public key file names the printed key id" \
  grep -qx "untrusted comment: minisign public key $id" "$k/ci.pub"
check "stdout shows the public key line of the file" \
  test "$(sed -n 2p "$k/ci.pub")" = "$b64"
check "the secret key is readable by its owner only (0600)" \
  test "$(stat -c %a "$k/ci.sec")" = 600
check "the secret key is 2 lines of minisign format, kdf none" \
  python3 - "$k/ci.sec" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
assert len(lines) == 3 and lines[2] == "", lines
assert lines[0].startswith("untrusted comment: "), lines[0]
b = base64.b64decode(lines[1], validate=True)
assert len(b) == 158 and b[:6] == b"Ed\0\0B2", b[:6]
PY

# Refuses to overwrite, before asking for a password.
cp "$k/ci.sec" "$k/ci.sec.orig"
run_promptc 3 keygen -p "$k/ci.pub" -s "$k/ci.sec" </dev/null
contains "$pc_tmp/err" "already exists"
check "the refused keygen left the secret key alone" \
  cmp -s "$k/ci.sec" "$k/ci.sec.orig"
run_promptc 3 keygen -p "$k/ci.pub" -s "$k/other.sec" --no-password
check "no secret key is left behind when the public key exists" \
  test ! -e "$k/other.sec"
run_promptc 0 keygen -p "$k/ci.pub" -s "$k/ci.sec" --no-password --force
check "--force replaced the pair with a new key" \
  test "$(sed -n 's/^key id: //p' "$pc_tmp/out")" != "$id"

# Usage errors.
run_promptc 2 keygen -p "$k/x.pub"
run_promptc 2 keygen -p "$k/x.pub" -s "$k/x.pub" --no-password
run_promptc 2 keygen --bogus
run_promptc 0 keygen --help
contains "$pc_tmp/out" "usage: promptc keygen"

# Passwords from standard input: an empty one and a mismatch are refused.
printf '\n' | "$PC_PROMPTC" keygen -p "$k/e.pub" -s "$k/e.sec" \
  >"$pc_tmp/out" 2>"$pc_tmp/err"
check "an empty password is refused (exit 1)" test $? -eq 1
contains "$pc_tmp/err" "empty"
printf 'pw\npx\n' | "$PC_PROMPTC" keygen -p "$k/e.pub" -s "$k/e.sec" \
  >"$pc_tmp/out" 2>"$pc_tmp/err"
check "two different passwords are refused (exit 1)" test $? -eq 1
check "nothing was written after a refused password" test ! -e "$k/e.sec"

# An encrypted key (scrypt at minisign's limits: a few seconds).
printf 'pw\npw\n' | "$PC_PROMPTC" keygen -p "$k/e.pub" -s "$k/e.sec" \
  -c "release key" >"$pc_tmp/out" 2>"$pc_tmp/err"
check "encrypted keygen with the password on stdin exits 0" test $? -eq 0
check "the encrypted key records scrypt (Sc) and the comment" \
  python3 - "$k/e.sec" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0] == "untrusted comment: release key", lines[0]
b = base64.b64decode(lines[1], validate=True)
assert len(b) == 158 and b[:6] == b"EdScB2", b[:6]
assert int.from_bytes(b[38:46], "little") == 33554432
assert int.from_bytes(b[46:54], "little") == 1073741824
PY

# The real minisign signs with our keys and verifies with our public keys.
minisign -S -s "$k/ci.sec" -m "$k/prog.tar" -t "name:demo" \
  >/dev/null 2>"$pc_tmp/err"
check "minisign -S signs with our unencrypted key" test $? -eq 0
minisign -V -p "$k/ci.pub" -m "$k/prog.tar" >"$pc_tmp/out" 2>&1
check "minisign -V verifies it with our public key" test $? -eq 0
contains "$pc_tmp/out" "Trusted comment: name:demo"
printf 'pw\n' | minisign -S -s "$k/e.sec" -m "$k/prog.tar" \
  -x "$k/enc.minisig" -t "encrypted" >/dev/null 2>"$pc_tmp/err"
check "minisign -S signs with our encrypted key and its password" \
  test $? -eq 0
minisign -V -p "$k/e.pub" -m "$k/prog.tar" -x "$k/enc.minisig" \
  >"$pc_tmp/out" 2>&1
check "minisign -V verifies that signature with our public key" \
  test $? -eq 0
printf 'wrong\n' | minisign -S -s "$k/e.sec" -m "$k/prog.tar" \
  -x "$k/bad.minisig" >/dev/null 2>&1
check "minisign refuses our encrypted key with a wrong password" \
  test $? -ne 0
minisign -V -p "$k/ci.pub" -m "$k/prog.tar" -x "$k/enc.minisig" \
  >/dev/null 2>&1
check "a signature from one key does not verify with the other" \
  test $? -ne 0

finish
