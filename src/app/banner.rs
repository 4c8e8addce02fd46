//! The one screen printed at start: where we listen, the mode, and a copy-paste walk-through.

use super::config::Mode;

/// RFC 7636 appendix B verifier and challenge, used by the walk-through.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Renders the banner. The first line is stable: `tmi-auth listening on http://ADDR (mode: M)`.
/// `key_from_file`: the signing key comes from `tokens.signing_key_file` (demo mode otherwise
/// makes one for the process).
pub fn render(
    local_addr: std::net::SocketAddr,
    public_url: &str,
    mode: Mode,
    key_from_file: bool,
) -> String {
    let mode_name = match mode {
        Mode::Demo => "demo",
        Mode::Production => "production",
    };
    let mut out = format!("tmi-auth listening on http://{local_addr} (mode: {mode_name})\n");
    out.push_str(&format!(
        "public URL: {public_url}   docs: {public_url}/docs   spec: {public_url}/openapi.json\n"
    ));
    if mode == Mode::Demo {
        let key = if key_from_file {
            "signing key from file"
        } else {
            "ephemeral signing key"
        };
        out.push_str(&format!(
            r#"
Demo mode: in-memory storage, built-in `tmi` provider, {key}.
Log in as alice with PKCE (copy and paste into a shell):

  B={public_url}
  UP=$(curl -s -o /dev/null -w '%{{redirect_url}}' "$B/oauth2/authorize?idp=tmi&login_hint=alice&scope=openid%20profile%20email&code_challenge={CHALLENGE}&code_challenge_method=S256&client_callback=http://localhost:8079/cb&state=demo")
  CB=$(curl -s -o /dev/null -w '%{{redirect_url}}' "$UP")
  CODE=$(echo "$CB" | sed 's/.*[?&]code=\([^&]*\).*/\1/')
  TOKENS=$(curl -s "$B/oauth2/token" -d grant_type=authorization_code -d "code=$CODE" -d code_verifier={VERIFIER} -d redirect_uri=http://localhost:8079/cb)
  AT=$(echo "$TOKENS" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -s "$B/me" -H "Authorization: Bearer $AT"
"#
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_line(key_from_file: bool) -> String {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
        let banner = render(addr, "http://127.0.0.1:8080", Mode::Demo, key_from_file);
        banner
            .lines()
            .find(|l| l.starts_with("Demo mode:"))
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn the_demo_line_says_where_the_signing_key_comes_from() {
        assert!(demo_line(false).contains("ephemeral signing key"));
        let line = demo_line(true);
        assert!(
            line.contains("signing key from file") && !line.contains("ephemeral"),
            "{line}"
        );
    }
}
