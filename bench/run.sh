#!/usr/bin/env bash
# Load benchmark of the client_credentials grant and introspection, against a bare poem
# handler that parses the same form (examples/bench_reference.rs), in the same run.
#
#   bench/run.sh [seconds-per-run] [rounds]   (defaults 10 and 3; 32 connections, 2 threads)
#
# Needs wrk (installed from Debian's packages when missing). Each round runs the reference and
# tmi-auth back to back, so both see the same machine; the ratios printed at the end are the
# medians over the rounds (these machines are shared and noisy). Also prints p99 latency and
# tmi-auth's resident memory idle and under load.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${2:-3}"
CONNECTIONS=32

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin tmi-auth --example bench_reference

TMP=$(mktemp -d)
cleanup() { kill "${SERVER_PID:-}" "${REF_PID:-}" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

TMI_AUTH__RATE_LIMITS__ENABLED=false RUST_LOG=warn ./target/release/tmi-auth --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
for _ in $(seq 1 50); do grep -q 'listening on' "$TMP/out" 2>/dev/null && break; sleep 0.1; done
B=$(sed -n 's/^tmi-auth listening on \(http:\/\/[^ ]*\).*/\1/p' "$TMP/out")
./target/release/examples/bench_reference 127.0.0.1:18090 &
REF_PID=$!
R=http://127.0.0.1:18090
sleep 0.5

rss() { awk '/VmRSS/ {print $2/1024 " MB"}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$1/status"; }

# Log in (the README walk-through), create a credential, get a token to introspect.
VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
UP=$(curl -s -o /dev/null -w '%{redirect_url}' "$B/oauth2/authorize?idp=tmi&login_hint=bench&scope=openid&code_challenge=$CHALLENGE&code_challenge_method=S256&client_callback=http://localhost:8079/cb")
CB=$(curl -s -o /dev/null -w '%{redirect_url}' "$UP")
CODE=$(echo "$CB" | sed 's/.*[?&]code=\([^&]*\).*/\1/')
AT=$(curl -s "$B/oauth2/token" -d grant_type=authorization_code -d "code=$CODE" -d code_verifier=$VERIFIER | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
CRED=$(curl -s "$B/me/client_credentials" -H "Authorization: Bearer $AT" -H 'content-type: application/json' -d '{"name":"bench"}')
CID=$(echo "$CRED" | sed 's/.*"client_id":"\([^"]*\)".*/\1/')
CS=$(echo "$CRED" | sed 's/.*"client_secret":"\([^"]*\)".*/\1/')
CT=$(curl -s "$B/oauth2/token" -d grant_type=client_credentials -d "client_id=$CID" -d "client_secret=$CS" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
[ -n "$CT" ] || { echo "could not obtain a client-credential token"; exit 1; }
IDLE_RSS=$(rss $SERVER_PID)

post_script() { # $1 = form body
  cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
}

run() { # $1 label, $2 url, $3 body -> prints "label rps p99"
  post_script "$3"
  local out; out=$(wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency -s "$TMP/post.lua" "$2")
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  printf '%-28s %10s req/s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p99" "${non2xx:-0}" >&2
  echo "$rps"
}

GRANT_BODY="grant_type=client_credentials&client_id=$CID&client_secret=$CS"
INTRO_BODY="token=$CT"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "== $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, $(nproc) cores" >&2
GRANT_RATIOS=""
INTRO_RATIOS=""
for round in $(seq 1 "$ROUNDS"); do
  echo "-- round $round" >&2
  REF_GRANT=$(run "reference (token form)" "$R/oauth2/token" "$GRANT_BODY")
  GRANT=$(run "tmi-auth client_credentials" "$B/oauth2/token" "$GRANT_BODY")
  REF_INTRO=$(run "reference (introspect form)" "$R/oauth2/introspect" "$INTRO_BODY")
  INTRO=$(run "tmi-auth introspection" "$B/oauth2/introspect" "$INTRO_BODY")
  GRANT_RATIOS="$GRANT_RATIOS $(ratio "$GRANT" "$REF_GRANT")"
  INTRO_RATIOS="$INTRO_RATIOS $(ratio "$INTRO" "$REF_INTRO")"
done

echo "grant / reference:          $(echo "$GRANT_RATIOS" | median)%   (rounds:$GRANT_RATIOS; target >= 50%)"
echo "introspection / reference:  $(echo "$INTRO_RATIOS" | median)%   (rounds:$INTRO_RATIOS; target >= 60%)"
echo "tmi-auth RSS idle:          $IDLE_RSS   (target <= 15 MB)"
echo "tmi-auth RSS peak (load):   $(hwm $SERVER_PID)   (target <= 40 MB)"
