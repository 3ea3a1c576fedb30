#!/usr/bin/env bash
# End to end: the real reactor-nbd with real NBD clients nobody here wrote.
#
#   nbd_e2e.sh <reactor-nbd> <reactorctl>
#
#  1. nbdinfo reads the export's size and flags; nbdinfo --list names it.
#  2. nbdcopy writes a random 24 MiB file to the export and copies it back:
#     both must be byte-identical to the source.
#  3. fio's nbd engine writes with --verify=crc32c at QD 16 while reactorctl
#     switches the running server static -> dynamic -> global -> static:
#     zero verify errors, zero failed requests, every switch answered ok.
#  4. Bad clients (bad request magic, a read past the end, an oversized
#     WRITE, a disconnect mid-request, a slowloris that never finishes its
#     header, a bad option magic) each get the protocol's answer or are
#     disconnected, and nbdinfo still works after each.
#  5. Pipelining and pooled buffers: 300 READs sent in one go (more than
#     max_inflight) and 40 WRITEs with their payloads in one go all come back
#     with the right cookie and bytes; WRITE_ZEROES (punched and NO_HOLE)
#     reads back as zeros around kept data, TRIM answers 0; a READ that
#     the file can only partly fill (it was truncated behind the server's
#     back) after a READ that dirtied the same pooled buffer gets EIO and
#     no payload, never the earlier request's bytes.
#  6. SIGTERM: exit 0, the socket file is gone.
# Needs libnbd-bin (nbdinfo, nbdcopy), fio with the nbd engine, python3.
set -u

NBD=${1:?usage: nbd_e2e.sh <reactor-nbd> <reactorctl>}
CTL=${2:?usage: nbd_e2e.sh <reactor-nbd> <reactorctl>}
for t in nbdinfo nbdcopy fio python3; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/install-deps.sh installs it)"; exit 77; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "SKIP: this fio has no nbd engine"; exit 77; }

DIR=$(mktemp -d /tmp/nbd-e2e.XXXXXX)
SOCK=$DIR/nbd.sock
RPC=$DIR/rpc.sock
URI="nbd+unix:///exp?socket=$SOCK"
PID=
FAILURES=0
cleanup() {
  [[ -n $PID ]] && kill -KILL "$PID" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
ok() { echo "ok: $*"; }

truncate -s 48M "$DIR/export.img"
"$NBD" -m 0-1 --governor sim --socket "$SOCK" -r "$RPC" --name exp --request-timeout 2 --handshake-timeout 2 \
  "$DIR/export.img" >"$DIR/out" 2>"$DIR/err" &
PID=$!
for _ in $(seq 100); do grep -q "serving" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
grep -q "reactor-nbd: serving $DIR/export.img (50331648 bytes) on $SOCK" "$DIR/out" || {
  cat "$DIR/out" "$DIR/err"; echo "FAIL: no ready line"; exit 1; }

# 1. nbdinfo
info=$(nbdinfo "$URI" 2>&1)
grep -q "export-size: 50331648" <<<"$info" && grep -q "can_flush: true" <<<"$info" && grep -q "can_multi_conn: true" <<<"$info" \
  && ok "nbdinfo" || fail "nbdinfo: $info"
nbdinfo --list "nbd+unix://?socket=$SOCK" 2>&1 | grep -q 'export="exp"' && ok "nbdinfo --list" || fail "nbdinfo --list"
nbdinfo "nbd+unix:///nope?socket=$SOCK" >/dev/null 2>&1 && fail "an unknown export was served" || ok "unknown export refused"

# 2. nbdcopy round trip
head -c 24M /dev/urandom >"$DIR/src"
if nbdcopy "$DIR/src" "$URI" && nbdcopy "$URI" "$DIR/back" && cmp -n 25165824 "$DIR/src" "$DIR/back" >/dev/null; then
  ok "nbdcopy round trip identical"
else
  fail "nbdcopy round trip differs"
fi

# 3. fio verify while the policy switches
( sleep 0.5
  for p in dynamic global static dynamic static; do
    if "$CTL" -s "$RPC" switch "$p" >"$DIR/sw.$p" 2>&1; then echo ok >>"$DIR/switches"; else cat "$DIR/sw.$p" >>"$DIR/switches"; fi
    sleep 0.4
  done ) &
SW=$!
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k --iodepth=16 --size=32M \
  --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=json --output="$DIR/fio.json" 2>"$DIR/fio.err"
frc=$?
wait $SW
fsum=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(j["error"], j["write"]["total_ios"], j["read"]["total_ios"])' "$DIR/fio.json" 2>&1)
read -r ferr fw fr <<<"$fsum"
if [[ $frc -eq 0 && $ferr == 0 && ${fw:-0} -eq 8192 && ${fr:-0} -eq 8192 ]] && ! grep -qi "verify" "$DIR/fio.err"; then
  ok "fio crc32c verify under switches ($fw writes, $fr verified reads)"; else
  fail "fio rc=$frc summary '$fsum': $(head -5 "$DIR/fio.err")"; fi
[[ $(grep -c '^ok$' "$DIR/switches" 2>/dev/null) -eq 5 ]] && ok "5 switches under load" || fail "switches: $(cat "$DIR/switches")"

# 4. bad clients
python3 - "$SOCK" "$DIR/export.img" <<'PY' || FAILURES=$((FAILURES + 1))
import os, socket, struct, sys, time
path, img = sys.argv[1], sys.argv[2]
def hs(no_zero=True):
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10)
    hello = recvn(s, 18)
    assert hello[:16] == b"NBDMAGICIHAVEOPT", hello
    s.sendall(struct.pack(">I", 3))
    name = b"exp"
    s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 4 + len(name) + 2) + struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    while True:
        magic, opt, typ, ln = struct.unpack(">QIII", recvn(s, 20)); recvn(s, ln)
        if typ == 1: return s
        assert typ == 3, typ
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError("closed after %d of %d" % (len(b), n))
        b += c
    return b
def req(typ, off, ln, flags=0, magic=0x25609513, cookie=7):
    return struct.pack(">IHHQQI", magic, flags, typ, cookie, off, ln)
def reply(s):
    m, err, cookie = struct.unpack(">IIQ", recvn(s, 16)); assert m == 0x67446698; return err, cookie
def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True
bad = 0
def check(cond, what):
    global bad
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond: bad += 1
s = hs(); s.sendall(req(0, 0, 4096, magic=0xdeadbeef)); check(closed(s), "bad request magic: disconnected")
s = hs(); s.sendall(req(0, 48 << 20, 4096)); err, c = reply(s); check(err == 22 and c == 7, "read past the end: EINVAL")
s.sendall(req(1, (48 << 20) - 512, 4096) + b"x" * 4096); err, _ = reply(s); check(err == 28, "write past the end: ENOSPC")
s.sendall(req(9, 0, 0)); err, _ = reply(s); check(err == 22, "unknown command: EINVAL")
s.sendall(req(0, 0, 4096, cookie=99)); err, c = reply(s); data = recvn(s, 4096); check(err == 0 and c == 99, "a good read after errors")
s.sendall(req(1, 0, 64 << 20)); err, _ = reply(s); check(err == 75 and closed(s), "oversized write: EOVERFLOW, disconnected")
s = hs(); s.sendall(req(1, 0, 65536) + b"y" * 1000); s.close(); check(True, "disconnect mid-request")
s = hs(); s.sendall(req(0, 0, 4096)[:10]); t = time.time(); gone = closed(s)
check(gone and time.time() - t < 8, "slowloris header: disconnected after the request timeout")
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10); recvn(s, 18); t = time.time()
check(closed(s) and time.time() - t < 8, "silent handshake: disconnected after the handshake timeout")
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10); recvn(s, 18); s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", 0x1122334455667788, 7, 0)); check(closed(s), "bad option magic: disconnected")

# 5. pipelining, pooled buffers, zeroes
def blk(i, n=4096): return bytes([(i * 7 + j) % 251 for j in range(64)]) * (n // 64)
s = hs()
s.sendall(b"".join(req(1, (2 << 20) + i * 4096, 4096, cookie=1000 + i) + blk(i) for i in range(40)))
got = sorted(reply(s) for _ in range(40))
check(got == [(0, 1000 + i) for i in range(40)], "40 pipelined WRITEs answered")
s.sendall(b"".join(req(0, (2 << 20) + (i % 40) * 4096, 4096, cookie=i) for i in range(300)))
ok_reads = 0
for _ in range(300):
    err, c = reply(s); data = recvn(s, 4096) if err == 0 else b""
    ok_reads += err == 0 and data == blk(c % 40)
check(ok_reads == 300, "300 pipelined READs (above max_inflight): %d right" % ok_reads)
s.sendall(req(1, 1 << 20, 65536, cookie=1) + blk(3, 65536)); reply(s)
s.sendall(req(6, (1 << 20) + 16384, 16384, cookie=2) + req(6, (1 << 20) + 49152, 4096, flags=2, cookie=3))
z = sorted(reply(s) for _ in range(2))
s.sendall(req(0, 1 << 20, 65536, cookie=4)); err, _ = reply(s); data = recvn(s, 65536)
want = bytearray(blk(3, 65536)); want[16384:32768] = bytes(16384); want[49152:53248] = bytes(4096)
check(z == [(0, 2), (0, 3)] and err == 0 and data == bytes(want), "WRITE_ZEROES (punch, NO_HOLE) reads back as zeros")
s.sendall(req(4, 1 << 20, 4096, cookie=5) + req(4, 48 << 20, 4096, cookie=6) + req(6, 48 << 20, 4096, cookie=7))
check(sorted(reply(s) for _ in range(3)) == [(0, 5), (22, 6), (28, 7)], "TRIM 0; TRIM/WRITE_ZEROES past the end EINVAL/ENOSPC")
full = os.path.getsize(img)
s.sendall(req(1, 0, 8192, cookie=8) + blk(5, 8192)); reply(s)
s.sendall(req(0, 0, 8192, cookie=9)); err, _ = reply(s); recvn(s, 8192)   # the 8 KiB pool buffer now holds blk(5)
os.truncate(img, full - 6144)
s.sendall(req(0, full - 8192, 8192, cookie=10) + req(0, 0, 4096, cookie=11))
seen = {}
for _ in range(2):  # replies come in completion order
    err, c = reply(s); seen[c] = (err, recvn(s, 4096) if c == 11 and err == 0 else b"")
check(seen.get(10) == (5, b"") and seen.get(11) == (0, blk(5, 8192)[:4096]),
      "READ short at the file's end: EIO without payload, the next reply intact")
os.truncate(img, full)
sys.exit(1 if bad else 0)
PY
nbdinfo "$URI" 2>/dev/null | grep -q "export-size: 50331648" && ok "still serving after the bad clients" || fail "not serving after the bad clients"

# 6. graceful stop
kill -TERM "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then fail "still running 10 s after SIGTERM"; else
  wait "$PID"; rc=$?; PID=
  [[ $rc -eq 0 ]] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc: $(tail -3 "$DIR/err")"
fi
[[ ! -e $SOCK ]] && ok "socket removed" || fail "socket left behind"

# 7. both write paths verify: buffered writes inline (the default) and every
# write through io_uring (--inline-write-us 0); the debug line at a
# connection's end counts the inline ones.
for lim in default 0; do
  extra=(); [[ $lim == 0 ]] && extra=(--inline-write-us 0)
  "$NBD" -m 0-1 --socket "$SOCK" --name exp --log-level debug "${extra[@]}" "$DIR/export.img" >"$DIR/out" 2>"$DIR/err.$lim" &
  PID=$!
  for _ in $(seq 100); do grep -q "serving" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
  fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k --iodepth=16 --size=8M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=json --output="$DIR/fio.$lim.json" 2>"$DIR/fio.err"
  frc=$?
  kill -TERM "$PID"; wait "$PID"; PID=
  fsum=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(j["error"], j["write"]["total_ios"], j["read"]["total_ios"])' "$DIR/fio.$lim.json" 2>&1)
  read -r ferr fw fr <<<"$fsum"
  inl=$(grep -o '[0-9]* writes inline' "$DIR/err.$lim" | awk '{s+=$1} END{print s+0}')
  if [[ $frc -eq 0 && $ferr == 0 && ${fw:-0} -eq 2048 && ${fr:-0} -eq 2048 ]] \
     && { [[ $lim == 0 && $inl -eq 0 ]] || [[ $lim != 0 && $inl -gt 0 ]]; }; then
    ok "fio crc32c verify, inline writes $lim: $inl of $fw written inline"
  else
    fail "inline writes $lim: fio rc=$frc summary '$fsum', $inl inline: $(head -3 "$DIR/fio.err")"
  fi
done
out=$("$NBD" --inline-write-us 100001 "$DIR/export.img" 2>&1); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *"--inline-write-us 100001 is outside 0..100000"* ]] \
  && ok "bad --inline-write-us refused" || fail "bad --inline-write-us: rc $rc: $out"

echo "$FAILURES failure(s)"
[[ $FAILURES -eq 0 ]]
