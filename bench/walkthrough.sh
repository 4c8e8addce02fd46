#!/usr/bin/env bash
# The README walk-through against a running demo server, as the benchmarks see it:
#
#   eval "$(bench/walkthrough.sh http://127.0.0.1:8080)"
#
# logs in through the built-in provider with PKCE, calls /me, rotates the refresh token,
# creates a client credential, runs the client_credentials grant (HTTP Basic and body),
# introspects and revokes a token, and prints shell assignments for what the benchmark needs:
# CID and CS (the credential) and CT (a live client-credential token).
set -euo pipefail
B=$1
VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
UP=$(curl -s -o /dev/null -w '%{redirect_url}' "$B/oauth2/authorize?idp=tmi&login_hint=alice&scope=openid%20profile%20email&code_challenge=$CHALLENGE&code_challenge_method=S256&client_callback=http://localhost:8079/cb&state=demo")
CB=$(curl -s -o /dev/null -w '%{redirect_url}' "$UP")
CODE=$(echo "$CB" | sed 's/.*[?&]code=\([^&]*\).*/\1/')
TOKENS=$(curl -s "$B/oauth2/token" -d grant_type=authorization_code -d "code=$CODE" \
  -d code_verifier=$VERIFIER -d redirect_uri=http://localhost:8079/cb)
AT=$(echo "$TOKENS" | field access_token)
RT=$(echo "$TOKENS" | field refresh_token)
curl -s -o /dev/null "$B/me" -H "Authorization: Bearer $AT"
curl -s -o /dev/null "$B/oauth2/refresh" -H 'content-type: application/json' -d "{\"refresh_token\":\"$RT\"}"
CRED=$(curl -s "$B/me/client_credentials" -H "Authorization: Bearer $AT" -H 'content-type: application/json' \
  -d '{"name":"CI pipeline","expires_at":"2030-01-01T00:00:00Z"}')
CID=$(echo "$CRED" | field client_id)
CS=$(echo "$CRED" | field client_secret)
REVOKED=$(curl -s "$B/oauth2/token" -u "$CID:$CS" -d grant_type=client_credentials | field access_token)
CT=$(curl -s "$B/oauth2/token" -d grant_type=client_credentials -d "client_id=$CID" -d "client_secret=$CS" | field access_token)
curl -s -o /dev/null "$B/oauth2/introspect" -d "token=$REVOKED"
curl -s -o /dev/null "$B/oauth2/revoke" -H "Authorization: Bearer $AT" -d "token=$REVOKED"
if [ -z "$CT" ]; then
  echo "the walk-through did not yield a client-credential token" >&2
  exit 1
fi
printf 'CID=%q\nCS=%q\nCT=%q\nAT=%q\n' "$CID" "$CS" "$CT" "$AT"
