#!/usr/bin/env bash
# TLS on the wire (issue 11, docs/security.md): a CA, a server certificate
# for 127.0.0.1/localhost and a client certificate made with openssl here;
# `mef3pool serve` with TLS, then mutual TLS, on a free loopback port; our
# client reads a golden session bit for bit as `mef3pool read` does; Python
# grpcio (stubs generated now from proto/mef3pool.proto) reads over TLS;
# a client without a certificate is refused under mutual TLS; a plain-text
# client against the TLS server fails with one line saying the server may
# require TLS (not a hang: the status is UNAVAILABLE, well before the
# deadline's DEADLINE_EXCEEDED); bad TLS files are refused naming them.
# Usage: cli_tls.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -euo pipefail
cli=$1 golden=$2 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
proto=$here/../proto/mef3pool.proto
command -v openssl >/dev/null || { echo "skipped: no openssl"; exit 77; }

w=$tmp/cli_tls
rm -rf "$w" && mkdir -p "$w/root" "$w/stubs"
cp -a "$golden/sessions/b_multi_8ch.mefd" "$w/root/"

# The certificates (the server's names 127.0.0.1 and localhost).
ossl() { openssl "$@" 2>>"$w/openssl.log"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$w/ca.key" -out "$w/ca.pem" \
  -days 2 -subj "/CN=mef3pool test CA"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$w/server.ext"
for who in server client; do
  ossl req -newkey rsa:2048 -nodes -keyout "$w/$who.key" -out "$w/$who.csr" \
    -subj "/CN=mef3pool test $who"
done
ossl x509 -req -in "$w/server.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" \
  -CAcreateserial -days 2 -extfile "$w/server.ext" -out "$w/server.pem"
ossl x509 -req -in "$w/client.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" \
  -CAcreateserial -days 2 -out "$w/client.pem"
# A CA nobody signed with, for a client certificate the server must refuse.
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$w/other.key" \
  -out "$w/other.pem" -days 2 -subj "/CN=someone else"

ok=0 bad=0
t() { if "$@"; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "FAILED: $*"; fi; }
# "fails CMD...": the command exits non-zero (its stderr in $w/err).
fails() { ! "$@" 2>"$w/err"; }
q() { "$@" >/dev/null; }
has() { grep -q -- "$1" "$w/err" || { echo "stderr was:"; cat "$w/err"; false; }; }

pid=""
start() { # start ARGS...: serve with ARGS, port in $port
  rm -f "$w/port"
  "$cli" serve --port 0 --port-file "$w/port" --root "$w/root" \
    --use-process-pool 0 --log-file "$w/server.log" "$@" 2>"$w/serve.err" &
  pid=$!
  for _ in $(seq 600); do
    [ -s "$w/port" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "the server did not start"; cat "$w/serve.err"; exit 1; }
    sleep 0.1
  done
  port=$(cat "$w/port")
}
stop() { [ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; }; pid=""; }
trap stop EXIT

# The direct read everything is compared with.
sess=b_multi_8ch.mefd
win=(--channels ch04,ch05,ch06 --start 5s --end 35s)
"$cli" read "$w/root/$sess" "${win[@]}" --format npy -o "$w/direct.npy"
"$cli" read "$w/root/$sess" "${win[@]}" --format f32 -o "$w/direct.f32"

# ---- TLS ----
start --tls-cert "$w/server.pem" --tls-key "$w/server.key"
addr=127.0.0.1:$port
t grep -q "(TLS," "$w/server.log"
t q "$cli" client "$addr" open "$sess" --tls-ca "$w/ca.pem"
t "$cli" client "$addr" read "$sess" "${win[@]}" --format f32 \
  -o "$w/tls.f32" --tls-ca "$w/ca.pem"
t cmp "$w/direct.f32" "$w/tls.f32"
# (gRPC's c-ares resolver leaks 10 bytes resolving a name, which fails an
# ASan build; the native resolver does not.)
t q env GRPC_DNS_RESOLVER=native "$cli" client "localhost:$port" list \
  --tls-ca "$w/ca.pem"
# Plain text against TLS: one line, UNAVAILABLE (not the deadline's
# DEADLINE_EXCEEDED), saying the server may require TLS.
t fails "$cli" client "$addr" list --timeout-ms 60000
t has "may require TLS"
t has "MEF3_EIO"
t test "$(wc -l < "$w/err")" -eq 1
# A CA that did not sign the server's certificate: refused.
t fails "$cli" client "$addr" list --tls-ca "$w/other.pem"
t has "server unavailable"

# Python grpcio over TLS, when the stubs can be made.
py=/usr/bin/python3
if [ -x "$py" ] && "$py" -c "import grpc, numpy, google.protobuf" 2>/dev/null &&
   command -v grpc_python_plugin >/dev/null && command -v protoc >/dev/null; then
  protoc --python_out="$w/stubs" --grpc_python_out="$w/stubs" \
    --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
    -I"$(dirname "$proto")" "$proto"
  t "$py" - "$w" "$addr" "$sess" <<'PY'
import sys
import numpy as np
w, addr, sess = sys.argv[1:4]
sys.path.insert(0, w + "/stubs")
import grpc
import mef3pool_pb2 as pb2
import mef3pool_pb2_grpc as pb2_grpc
creds = grpc.ssl_channel_credentials(open(w + "/ca.pem", "rb").read())
stub = pb2_grpc.gRPCMef3ServerStub(grpc.secure_channel(addr, creds))
info = stub.OpenFile(pb2.OpenFileRequest(file_path=sess), timeout=60)
assert info.file_opened, info.error_message
t0 = info.start_uutc + 5_000_000
req = pb2.SignalRangeRequest(file_path=sess, start_uutc=t0,
                             channel_names=["ch04", "ch05", "ch06"],
                             end_uutc=t0 + 30_000_000)
parts = [np.frombuffer(c.array_bytes, dtype=c.dtype).reshape(c.shape)
         for c in stub.GetSignalRange(req, timeout=60)]
got = np.concatenate(parts, axis=1)
ref = np.load(w + "/direct.npy")
assert got.shape == ref.shape and np.array_equal(got, ref, equal_nan=True), \
    (got.shape, ref.shape)
# Plain text from Python: UNAVAILABLE, not a hang.
plain = pb2_grpc.gRPCMef3ServerStub(grpc.insecure_channel(addr))
try:
    plain.ListOpenFiles(pb2.ListOpenFilesRequest(), timeout=60)
    sys.exit("a plain-text call reached the TLS server")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
PY
else
  echo "note: Python grpcio or its stub generator missing; its TLS check skipped"
fi
stop

# ---- the web viewer over HTTPS, with the gRPC service's certificate ----
start --tls-cert "$w/server.pem" --tls-key "$w/server.key" \
  --http-port 0 --http-port-file "$w/http_port"
for _ in $(seq 100); do [ -s "$w/http_port" ] && break; sleep 0.1; done
hport=$(cat "$w/http_port")
t /usr/bin/python3 - "$w/ca.pem" "$hport" <<'PY'
import json, ssl, sys, urllib.request
ca, port = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
page = urllib.request.urlopen("https://127.0.0.1:%s/" % port, context=ctx).read()
assert b"<html" in page.lower(), page[:100]
s = json.load(urllib.request.urlopen(
    "https://localhost:%s/api/sessions" % port, context=ctx))
assert "b_multi_8ch.mefd" in s["available"], s
try:  # plain HTTP to the HTTPS port gets no page
    urllib.request.urlopen("http://127.0.0.1:%s/api/sessions" % port, timeout=10)
    sys.exit("plain HTTP was answered")
except (urllib.error.URLError, ConnectionError, OSError):
    pass
PY
t grep -q "web viewer on https://" "$w/server.log"
# mef3pool.Client over TLS (its module next to the command; an ASan-built
# module needs the runtime preloaded, which python_test_client does).
pydir=$(dirname "$cli")/python
core=$(compgen -G "$pydir/mef3pool/_core*.so" || true)
core=${core%%$'\n'*}
# (ldd read whole first: see cli_scripts_pipes.sh)
deps=$([ -z "$core" ] || ldd "$core")
if [ -n "$core" ] && [[ $deps != *libasan* ]]; then
  t env PYTHONPATH="$pydir" /usr/bin/python3 - "$w" "$port" <<'PY'
import sys
import numpy as np
import mef3pool
w, port = sys.argv[1], sys.argv[2]
c = mef3pool.Client("127.0.0.1:" + port, tls_ca=w + "/ca.pem", raise_errors=True)
info = c.open_file("b_multi_8ch.mefd")
assert info["file_opened"], info
plain = mef3pool.Client("127.0.0.1:" + port, timeout_s=20, raise_errors=True)
try:
    plain.list_open_files()
    sys.exit("plain text was answered by a TLS server")
except mef3pool.Error as e:
    assert "TLS" in str(e), e
PY
else
  echo "note: the Python module is missing or built with ASan; its TLS check skipped"
fi
stop
rc=0
"$cli" serve --port 0 --root "$w/root" --tls-cert "$w/server.pem" \
  --tls-key "$w/server.key" --tls-client-ca "$w/ca.pem" --http-port 0 \
  2>"$w/err" || rc=$?
t [ "$rc" = 2 ]
t has "does not do mutual TLS"

# ---- mutual TLS ----
start --tls-cert "$w/server.pem" --tls-key "$w/server.key" \
  --tls-client-ca "$w/ca.pem"
addr=127.0.0.1:$port
t grep -q "(mutual TLS," "$w/server.log"
mine=(--tls-ca "$w/ca.pem" --tls-cert "$w/client.pem" --tls-key "$w/client.key")
t q "$cli" client "$addr" open "$sess" "${mine[@]}"
t "$cli" client "$addr" read "$sess" "${win[@]}" --format f32 \
  -o "$w/mtls.f32" "${mine[@]}"
t cmp "$w/direct.f32" "$w/mtls.f32"
# No client certificate, or one from another CA: refused.
t fails "$cli" client "$addr" list --tls-ca "$w/ca.pem"
t has "server unavailable"
t test "$(wc -l < "$w/err")" -eq 1
t fails "$cli" client "$addr" list --tls-ca "$w/ca.pem" \
  --tls-cert "$w/other.pem" --tls-key "$w/other.key"
t fails "$cli" client "$addr" list
t has "may require TLS"
if [ -s "$w/stubs/mef3pool_pb2.py" ]; then
  t "$py" - "$w" "$addr" <<'PY'
import sys
w, addr = sys.argv[1:3]
sys.path.insert(0, w + "/stubs")
import grpc
import mef3pool_pb2 as pb2
import mef3pool_pb2_grpc as pb2_grpc
rd = lambda f: open(w + "/" + f, "rb").read()
def call(creds):
    stub = pb2_grpc.gRPCMef3ServerStub(grpc.secure_channel(addr, creds))
    return stub.ListOpenFiles(pb2.ListOpenFilesRequest(), timeout=60)
call(grpc.ssl_channel_credentials(rd("ca.pem"), rd("client.key"),
                                  rd("client.pem")))
try:
    call(grpc.ssl_channel_credentials(rd("ca.pem")))
    sys.exit("a client without a certificate got through mutual TLS")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
PY
fi
stop

# ---- plain text: warned about beyond loopback ----
start --bind 0.0.0.0
t grep -q "WARN.*plain text on 0.0.0.0" "$w/server.log"
# A TLS client against a plain-text server.
t fails "$cli" client "127.0.0.1:$port" list --tls-ca "$w/ca.pem"
t has "may not speak TLS"
stop
start
t test "$(grep -c "WARN.*plain text" "$w/server.log")" -eq 1
stop

# ---- bad TLS files: one line naming the file ----
t fails "$cli" serve --port 0 --tls-cert "$w/server.pem"
t has "certificate and its key"
t fails "$cli" serve --port 0 --tls-cert "$w/nope.pem" --tls-key "$w/server.key"
t has "nope.pem: TLS certificate: cannot open"
t fails "$cli" serve --port 0 --tls-cert "$w/server.key" --tls-key "$w/server.key"
t has "server.key: TLS certificate: no"
t fails "$cli" serve --port 0 --tls-cert "$w/server.pem" --tls-key "$w/server.pem"
t has "server.pem: TLS key: no"
# The key of another certificate: gRPC refuses it when listening.
t fails "$cli" serve --port 0 --tls-cert "$w/server.pem" --tls-key "$w/client.key"
t has "with TLS: the certificate or key was refused"
# As environment variables too.
t fails env TLS_CERT="$w/nope.pem" TLS_KEY="$w/server.key" "$cli" serve --port 0
t has "nope.pem: TLS certificate"
t fails "$cli" client 127.0.0.1:1 list --tls-ca "$w/nope.pem"
t has "nope.pem: TLS CA: cannot open"
t fails "$cli" client 127.0.0.1:1 list --tls-ca "$w/ca.pem" --tls-cert "$w/client.pem"
t has "needs its key"

trap - EXIT
echo "cli_tls: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
