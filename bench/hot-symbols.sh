#!/usr/bin/env bash
# Regenerates bench/hot-symbols.txt, the link order of the release binary's hot functions
# (see build.rs): runs the release server under callgrind through start-up, the README
# walk-through and a round of the other common endpoints, then lists the functions that ran.
# Needs valgrind. Re-run after dependency upgrades or large changes to the request paths;
# stale entries are harmless (missing symbols are skipped), they just stop helping.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind"; exit 1; }
cargo build --release --quiet --bin tmi-auth
BIN="$PWD/target/release/tmi-auth"
TMP=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; rm -rf "$TMP"' EXIT

TMI_AUTH__RATE_LIMITS__ENABLED=false RUST_LOG=warn valgrind --tool=callgrind --demangle=no \
  --callgrind-out-file="$TMP/callgrind.out" "$BIN" --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
for _ in $(seq 1 240); do grep -q 'listening on' "$TMP/out" 2>/dev/null && break; sleep 0.5; done
B=$(sed -n 's/^tmi-auth listening on \(http:\/\/[^ ]*\).*/\1/p' "$TMP/out")
[ -n "$B" ] || { cat "$TMP/err"; exit 1; }

eval "$(bench/walkthrough.sh "$B")"
for path in /healthz /readyz /oauth2/providers /.well-known/openid-configuration \
  /.well-known/oauth-authorization-server /.well-known/jwks.json; do
  curl -s -o /dev/null "$B$path"
done
curl -s -o /dev/null "$B/me/client_credentials" -H "Authorization: Bearer $AT"
curl -s -o /dev/null "$B/me/groups" -H "Authorization: Bearer $AT"
for _ in 1 2 3; do
  curl -s -o /dev/null "$B/oauth2/token" -d grant_type=client_credentials -d "client_id=$CID" -d "client_secret=$CS"
  curl -s -o /dev/null "$B/oauth2/introspect" -d "token=$CT"
done
curl -s -o /dev/null "$B/oauth2/token" -d grant_type=client_credentials -d "client_id=$CID" -d client_secret=wrong
curl -s -o /dev/null "$B/oauth2/introspect" -d token=not-a-token

kill -INT "$SERVER_PID"
wait "$SERVER_PID" || true
python3 bench/hot_symbols.py "$TMP/callgrind.out" "$BIN" >bench/hot-symbols.txt
echo "bench/hot-symbols.txt: $(wc -l <bench/hot-symbols.txt) symbols"
