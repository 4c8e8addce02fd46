#!/usr/bin/env bash
# Load benchmark of the client_credentials grant and introspection, against a bare poem
# handler that parses the same form (examples/bench_reference.rs), in the same run.
#
#   bench/run.sh [seconds-per-run] [rounds]   (defaults 10 and 3; 32 connections, 2 threads)
#
# Load generator: wrk (installed from Debian's packages when missing), or oha with LOADGEN=oha
# (`cargo install oha --locked` when missing, ~15 minutes). Each round runs the reference and
# tmi-auth back to back, so both see the same machine; the ratios printed at the end are the
# medians over the rounds (these machines are shared and noisy). Two more reference routes put
# the grant in context: the bare handler plus a naive `jsonwebtoken::encode` (the issue's ~41 %
# calibration point) and plus exactly one Ed25519 signature with a pre-parsed key (the floor for
# any server that signs a fresh token per grant). Also prints p99 latency and tmi-auth's
# resident memory idle (after the README walk-through, bench/walkthrough.sh) and under load, and
# the CPU time each request costs, in the server process and on the whole machine (counted from
# /proc, so less noisy than requests/s when the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${2:-3}"
CONNECTIONS=32

LOADGEN="${LOADGEN:-wrk}"
if [ "$LOADGEN" = oha ]; then
  command -v oha >/dev/null || cargo install oha --locked
elif ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# The Debian packages the build needs (samael needs libclang and libxmlsec1), as scripts/run does.
scripts/test --packages
# Separately: built together, the example's dev-dependencies would change dependency features,
# and with them the symbol names bench/hot-symbols.txt lays out (see build.rs).
cargo build --release --quiet --bin tmi-auth
cargo build --release --quiet --example bench_reference

# The link order only helps while its symbols still exist (dependency upgrades rename them).
FOUND=$(nm --defined-only -P target/release/tmi-auth | awk -v mode=count -f bench/hot_symbols.awk - bench/hot-symbols.txt)
echo "== hot-symbol order: $FOUND of $(wc -l <bench/hot-symbols.txt) symbols found$([ "$FOUND" -lt "$(($(wc -l <bench/hot-symbols.txt) * 9 / 10))" ] && echo ' (stale: run bench/hot-symbols.sh)')" >&2

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

# The README walk-through: log in, create a credential, get a token to introspect.
eval "$(bench/walkthrough.sh "$B")"
IDLE_RSS=$(rss $SERVER_PID)
# Code the idle server keeps resident, against the span the hot list lays out: much more than
# that span means functions outside the list run (after a compiler upgrade, inlining moves).
HOT_KB=$(($(nm --defined-only -P -S target/release/tmi-auth | awk -v mode=extent -f bench/hot_symbols.awk - bench/hot-symbols.txt) / 1024))
CODE_KB=$(awk -v bin="$PWD/target/release/tmi-auth" '/^[0-9a-f]+-[0-9a-f]+ / { text = ($2 ~ /x/ && $6 == bin) } text && /^Rss:/ { kb += $2 } END { print kb + 0 }' "/proc/$SERVER_PID/smaps")
echo "== resident code after the walk-through: $CODE_KB kB; the hot list spans $HOT_KB kB$([ "$CODE_KB" -gt "$((HOT_KB + 1024))" ] && echo ' (code outside the list runs: run bench/hot-symbols.sh)')" >&2

post_script() { # $1 = form body
  cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
}

# CPU time, counted rather than timed: the clock ticks a process has used (all its threads,
# user + kernel), and the non-idle ticks of the whole machine (wrk and the kernel included).
TICK_US=$((1000000 / $(getconf CLK_TCK)))
proc_ticks() { awk -v f="${2:-0}" '{ print f == 14 ? $14 : f == 15 ? $15 : $14 + $15 }' "/proc/$1/stat"; }
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
per_request() { awk -v t="$1" -v n="$2" -v us="$TICK_US" 'BEGIN { printf "%.1f", (n > 0 ? t * us / n : 0) }'; }

run() { # $1 label, $2 url, $3 body, $4 server pid -> prints "label rps p99 cpu"; stdout: rps
  local p0 k0 m0 requests
  p0=$(proc_ticks "$4")
  k0=$(proc_ticks "$4" 15)
  m0=$(machine_ticks)
  if [ "$LOADGEN" = oha ]; then
    local summary
    summary=$(oha -z "${DURATION}s" -c "$CONNECTIONS" --no-tui --output-format json -m POST \
      -T application/x-www-form-urlencoded -d "$3" "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
codes = d.get("statusCodeDistribution") or {}
non2xx = sum(n for code, n in codes.items() if not code.startswith("2"))
print("%.2f %.2fms %d %d" % (d["summary"]["requestsPerSec"], 1000 * d["latencyPercentiles"]["p99"], non2xx, sum(codes.values())))')
    local rps p99 non2xx
    read -r rps p99 non2xx requests <<<"$summary"
  else
    post_script "$3"
    local out; out=$(wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency -s "$TMP/post.lua" "$2")
    local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
  fi
  local server kernel machine
  server=$(per_request $(($(proc_ticks "$4") - p0)) "$requests")
  kernel=$(per_request $(($(proc_ticks "$4" 15) - k0)) "$requests")
  machine=$(per_request $(($(machine_ticks) - m0)) "$requests")
  printf '%-28s %10s req/s   p99 %8s   non-2xx %-4s CPU/request: server %5s us (kernel %5s), machine %5s us\n' \
    "$1" "$rps" "$p99" "${non2xx:-0}" "$server" "$kernel" "$machine" >&2
  printf '%s\t%s\t%s\t%s\n' "$1" "$server" "$kernel" "$machine" >>"$TMP/cpu"
  echo "$rps"
}

GRANT_BODY="grant_type=client_credentials&client_id=$CID&client_secret=$CS"
INTRO_BODY="token=$CT"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "== $LOADGEN, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, $(nproc) cores" >&2
GRANT_RATIOS=""
NAIVE_RATIOS=""
FLOOR_RATIOS=""
VS_FLOOR=""
INTRO_RATIOS=""
for round in $(seq 1 "$ROUNDS"); do
  echo "-- round $round" >&2
  REF_GRANT=$(run "reference (token form)" "$R/oauth2/token" "$GRANT_BODY" $REF_PID)
  NAIVE=$(run "reference + naive encode" "$R/naive/token" "$GRANT_BODY" $REF_PID)
  FLOOR=$(run "reference + one signature" "$R/signed/token" "$GRANT_BODY" $REF_PID)
  GRANT=$(run "tmi-auth client_credentials" "$B/oauth2/token" "$GRANT_BODY" $SERVER_PID)
  REF_INTRO=$(run "reference (introspect form)" "$R/oauth2/introspect" "$INTRO_BODY" $REF_PID)
  INTRO=$(run "tmi-auth introspection" "$B/oauth2/introspect" "$INTRO_BODY" $SERVER_PID)
  GRANT_RATIOS="$GRANT_RATIOS $(ratio "$GRANT" "$REF_GRANT")"
  NAIVE_RATIOS="$NAIVE_RATIOS $(ratio "$NAIVE" "$REF_GRANT")"
  FLOOR_RATIOS="$FLOOR_RATIOS $(ratio "$FLOOR" "$REF_GRANT")"
  VS_FLOOR="$VS_FLOOR $(ratio "$GRANT" "$FLOOR")"
  INTRO_RATIOS="$INTRO_RATIOS $(ratio "$INTRO" "$REF_INTRO")"
done

echo "grant / reference:          $(echo "$GRANT_RATIOS" | median)%   (rounds:$GRANT_RATIOS; target >= 50%)"
echo "naive encode / reference:   $(echo "$NAIVE_RATIOS" | median)%   (rounds:$NAIVE_RATIOS; the calibration point, ~41% in the issue)"
echo "one signature / reference:  $(echo "$FLOOR_RATIOS" | median)%   (rounds:$FLOOR_RATIOS; the floor for a fresh EdDSA token per grant)"
echo "grant / one signature:      $(echo "$VS_FLOOR" | median)%   (rounds:$VS_FLOOR)"
echo "introspection / reference:  $(echo "$INTRO_RATIOS" | median)%   (rounds:$INTRO_RATIOS; target >= 60%)"
echo "CPU per request, medians over the rounds (server process, its kernel part, whole machine; microseconds):"
awk -F'\t' '{ s[$1] = s[$1] " " $2; k[$1] = k[$1] " " $3; m[$1] = m[$1] " " $4; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  function med(list,   v, k, i, j, t) { k = split(list, v, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((k + 1) / 2)] }
  END { for (i = 1; i <= n; i++) printf "  %-28s %6s  %6s  %6s\n", order[i], med(s[order[i]]), med(k[order[i]]), med(m[order[i]]) }' "$TMP/cpu"
echo "tmi-auth RSS idle:          $IDLE_RSS   (target <= 15 MB)"
echo "tmi-auth RSS peak (load):   $(hwm $SERVER_PID)   (target <= 40 MB)"
