#!/usr/bin/env bash
# Smoke test of the container set-up: builds the image from the Dockerfile, starts
# docker-compose.yml (PostgreSQL, Redis, tmi-auth) with compose.smoke.yml, which puts the
# integration tests' OIDC issuer where Keycloak would be, and then checks through the published
# ports what an operator relies on:
#
#   - tmi-auth runs as a non-root user and answers /readyz once PostgreSQL and Redis are up;
#   - a login through the upstream provider (authorize, provider, callback, code, token) and /me;
#   - a client credential, the client_credentials grant, introspection and revocation;
#   - a restarted tmi-auth keeps users, credentials and signing keys (PostgreSQL): old tokens
#     still verify, the credential still works;
#   - a restarted Redis keeps the revocation list (its volume and AOF): the revoked token stays
#     revoked.
#
# Needs a Docker engine and compose (`docker compose` or `docker-compose`), curl, and ports 8080
# and 8081 free on 127.0.0.1. Not part of `.ci/run`: it builds the release image (minutes).
# Without access to Docker Hub, build stand-in base images first: deploy/smoke/offline-bases.sh.
#
#   deploy/smoke/run.sh          # build, test, tear down (containers and volumes)
#   KEEP=1 deploy/smoke/run.sh   # leave the stack running afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."

if docker compose version >/dev/null 2>&1; then
  compose() { docker compose -p tmi-auth-smoke -f docker-compose.yml -f deploy/smoke/compose.smoke.yml "$@"; }
else
  compose() { docker-compose -p tmi-auth-smoke -f docker-compose.yml -f deploy/smoke/compose.smoke.yml "$@"; }
fi
B=http://127.0.0.1:8080
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { # check <description> <expected> <actual>
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# Production mode: introspection callers authenticate (here with the credential made below).
active() {
  curl -s "$B/oauth2/introspect" -u "$CID:$CS" -d "token=$1" | sed -n 's/.*"active":\([a-z]*\).*/\1/p'
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_ready() {
  for _ in $(seq 1 90); do
    [ "$(status "$B/readyz")" = 200 ] && return 0
    sleep 1
  done
  echo "tmi-auth did not become ready; its log:" >&2
  compose logs --tail 50 tmi-auth >&2
  return 1
}
teardown() {
  if [ -z "${KEEP:-}" ]; then compose down -v --remove-orphans >/dev/null 2>&1 || true; fi
}
trap teardown EXIT

compose build
compose up -d
wait_ready
pass "tmi-auth ready behind PostgreSQL and Redis"
check "tmi-auth runs as its own non-root user" 10001 "$(compose exec -T tmi-auth id -u | tr -d '\r')"

# Login through the upstream provider, following each redirect by hand until the client callback.
VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
JAR=$(mktemp)
url="$B/oauth2/authorize?idp=keycloak&login_hint=alice&scope=openid%20profile%20email&code_challenge=$CHALLENGE&code_challenge_method=S256&client_callback=http://localhost:8079/cb&state=smoke"
for _ in $(seq 1 12); do
  case "$url" in http://localhost:8079/*) break ;; esac
  url=$(curl -s -o /dev/null -b "$JAR" -c "$JAR" -w '%{redirect_url}' "$url")
  [ -n "$url" ] || break
done
rm -f "$JAR"
CODE=$(echo "$url" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
if [ -z "$CODE" ]; then
  fail "login through the upstream provider ended at '$url'"
  compose logs --tail 30 tmi-auth keycloak
  exit 1
fi
pass "login through the upstream provider reached the client callback"
TOKENS=$(curl -s "$B/oauth2/token" -d grant_type=authorization_code -d "code=$CODE" \
  -d code_verifier=$VERIFIER -d redirect_uri=http://localhost:8079/cb)
AT=$(echo "$TOKENS" | field access_token)
check "the code is exchanged for tokens" true "$([ -n "$AT" ] && echo true || echo "$TOKENS")"
check "/me shows the upstream user" alice@example.test \
  "$(curl -s "$B/me" -H "Authorization: Bearer $AT" | field email)"

CRED=$(curl -s "$B/me/client_credentials" -H "Authorization: Bearer $AT" \
  -H 'content-type: application/json' -d '{"name":"smoke"}')
CID=$(echo "$CRED" | field client_id)
CS=$(echo "$CRED" | field client_secret)
CT=$(curl -s "$B/oauth2/token" -u "$CID:$CS" -d grant_type=client_credentials | field access_token)
REVOKED=$(curl -s "$B/oauth2/token" -u "$CID:$CS" -d grant_type=client_credentials | field access_token)
check "the client_credentials grant issues a token that introspects active" true "$(active "$CT")"
check "revocation answers 200" 200 \
  "$(status "$B/oauth2/revoke" -H "Authorization: Bearer $AT" -d "token=$REVOKED")"
check "the revoked token introspects inactive" false "$(active "$REVOKED")"

compose restart tmi-auth >/dev/null
wait_ready
check "after a tmi-auth restart, the login's access token still verifies" 200 \
  "$(status "$B/me" -H "Authorization: Bearer $AT")"
check "after a tmi-auth restart, the credential still works" 200 \
  "$(status "$B/oauth2/token" -u "$CID:$CS" -d grant_type=client_credentials)"

compose restart redis >/dev/null
wait_ready
check "after a Redis restart, the revoked token stays revoked" false "$(active "$REVOKED")"
check "after a Redis restart, the live token stays active" true "$(active "$CT")"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all container checks passed"
