//! Client callback URLs and the allow-list they must match (exact URL or `prefix*`).
//!
//! Matching happens on the URL as normalised by the `url` crate, after refusing user-info,
//! fragments and non-http(s) schemes, so `http://localhost:@evil.example/` cannot pass a
//! `http://localhost:*` entry.

use url::Url;

/// Longest callback URL accepted (the contract's limit).
pub const MAX_CALLBACK_LEN: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Exact(String),
    Prefix(String),
}

/// The configured allow-list of client callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallbackAllowList {
    entries: Vec<Entry>,
}

impl CallbackAllowList {
    /// Parses entries: an absolute http(s) URL, or a prefix ending in `/*` or `:*`.
    /// Returns the offending entry's index and a reason on error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, (usize, String)> {
        let mut parsed = Vec::with_capacity(entries.len());
        for (index, raw) in entries.iter().enumerate() {
            let raw = raw.as_ref().trim();
            if let Some(prefix) = raw.strip_suffix('*') {
                if !(prefix.ends_with('/') || prefix.ends_with(':')) {
                    return Err((
                        index,
                        format!("prefix entry {raw:?} must end with \"/*\" or \":*\""),
                    ));
                }
                if !(prefix.starts_with("http://") || prefix.starts_with("https://")) {
                    return Err((
                        index,
                        format!("entry {raw:?} must start with http:// or https://"),
                    ));
                }
                if prefix.matches("://").count() != 1 || prefix.contains('@') {
                    return Err((index, format!("entry {raw:?} is not a plain URL prefix")));
                }
                parsed.push(Entry::Prefix(prefix.to_owned()));
            } else {
                let url =
                    normalise(raw).map_err(|reason| (index, format!("entry {raw:?}: {reason}")))?;
                parsed.push(Entry::Exact(url.to_string()));
            }
        }
        Ok(Self { entries: parsed })
    }

    /// The demo-mode list: any port on loopback over plain http (IPv4 and `localhost`: the
    /// contract's pattern has no IPv6 literals).
    pub fn loopback() -> Self {
        Self {
            entries: vec![
                Entry::Prefix("http://localhost:".into()),
                Entry::Prefix("http://127.0.0.1:".into()),
            ],
        }
    }

    /// Parses `raw` and checks it against the list; the normalised URL on success.
    pub fn admit(&self, raw: &str) -> Result<Url, String> {
        if raw.len() > MAX_CALLBACK_LEN {
            return Err("client_callback is too long".into());
        }
        if !matches_contract_pattern(raw) {
            return Err(
                "client_callback must be http(s)://host[:port][/path] without spaces or \
                 control characters"
                    .into(),
            );
        }
        let url = normalise(raw.trim())?;
        // We add `code` and `state` (or `error`) to the callback: a callback that already has
        // them would reach the client with two of each. Parameters are split on `;` as well as
        // `&` (some clients' parsers do, and `&amp;code=` then names `code`).
        let reserved = url.query().is_some_and(|query| {
            query.split(['&', ';']).any(|pair| {
                let key = pair.split('=').next().unwrap_or_default().replace('+', " ");
                let key = percent_encoding::percent_decode_str(&key).decode_utf8_lossy();
                // Some frameworks read query keys ignoring case or surrounding spaces.
                let key = key.trim();
                ["code", "state", "error"]
                    .iter()
                    .any(|reserved| key.eq_ignore_ascii_case(reserved))
            })
        });
        if reserved {
            return Err("client_callback must not carry code, state or error parameters".into());
        }
        let text = url.as_str();
        let allowed = self.entries.iter().any(|entry| match entry {
            Entry::Exact(exact) => exact == text,
            Entry::Prefix(prefix) => text.starts_with(prefix.as_str()),
        });
        if allowed {
            Ok(url)
        } else {
            Err("client_callback is not on the allow-list".into())
        }
    }
}

/// The contract's pattern for `client_callback`, without a regex:
/// `^\s*https?://LABEL(.LABEL)*(:[0-9]{1,5})?(/[^\s]*)?\s*$`, where a label is 1–63 of
/// `[a-zA-Z0-9-]` not starting or ending with `-`. So no user information, backslashes or
/// whitespace before the path, and no whitespace or control characters anywhere inside.
fn matches_contract_pattern(raw: &str) -> bool {
    let text = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    host.split('.').all(label_ok)
        && port_ok
        && !path.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn normalise(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "client_callback is not an absolute URL".to_owned())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("client_callback must be an http or https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("client_callback must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("client_callback must not contain user information".into());
    }
    if url.fragment().is_some() {
        return Err("client_callback must not contain a fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_list_admits_any_loopback_port() {
        let list = CallbackAllowList::loopback();
        assert!(list.admit("http://localhost:8079/cb").is_ok());
        assert!(list.admit("http://127.0.0.1:4200/").is_ok());
        assert!(list.admit(" http://localhost:1/x?y=1 ").is_ok());
        assert!(
            list.admit("http://localhost:1/x?a=1;b=code&codes=2")
                .is_ok()
        );
    }

    #[test]
    fn loopback_list_refuses_lookalikes() {
        let list = CallbackAllowList::loopback();
        for bad in [
            "http://localhost:@evil.example/",
            "http://localhost:80@evil.example/",
            "http://localhost.evil.example:80/",
            "https://evil.example/",
            "http://localhost/", // no port: prefix "http://localhost:" does not match
            "javascript:alert(1)",
            "http://localhost:8079/#frag",
            "ftp://localhost:21/",
        ] {
            assert!(list.admit(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn callbacks_outside_the_contract_pattern_are_refused() {
        let list = CallbackAllowList::loopback();
        for bad in [
            "http://localhost:8079\\@evil.com",
            "http://localhost:8079/cb\r\nX-Injected: 1",
            "http://localhost:8079/c b",
            "http://localhost:8079/cb\u{0}",
            "http://localhost:8079/cb\u{85}",
            "http://localhost:123456/",
            "http://-localhost:8079/",
            "http://localhost:8079?x=1",
            "HTTP://localhost:8079/",
            "http://localhost:8079/cb?code=attacker",
            "http://localhost:8079/cb?x=1&state=s",
            "http://localhost:8079/cb?error=x",
            "http://localhost:8079/cb?x=1;code=evil",
            "http://localhost:8079/cb?;state=1",
            "http://localhost:8079/cb?x=1&amp;code=evil",
            "http://localhost:8079/cb?%63ode=evil",
            "http://localhost:8079/cb?Code=evil",
            "http://localhost:8079/cb?STATE+=x",
        ] {
            assert!(list.admit(bad).is_err(), "{bad:?} must be refused");
        }
        for good in [
            " http://localhost:8079/cb?x=1&y=%20 ",
            "http://localhost:8079",
            "http://127.0.0.1:4200/a/b/",
        ] {
            assert!(list.admit(good).is_ok(), "{good:?} must be admitted");
        }
    }

    #[test]
    fn exact_entries_match_exactly() {
        let list = CallbackAllowList::parse(&["https://app.example.com/callback"]).expect("valid");
        assert!(list.admit("https://app.example.com/callback").is_ok());
        assert!(list.admit("https://app.example.com/callback2").is_err());
        assert!(list.admit("https://app.example.com/callback?x=1").is_err());
    }

    #[test]
    fn prefix_entries_must_end_at_a_boundary() {
        assert!(CallbackAllowList::parse(&["https://app.example.com*"]).is_err());
        assert!(CallbackAllowList::parse(&["https://app.example.com/*"]).is_ok());
        assert!(CallbackAllowList::parse(&["not a url"]).is_err());
        let list = CallbackAllowList::parse(&["https://app.example.com/*"]).expect("valid");
        assert!(list.admit("https://app.example.com/a/b").is_ok());
        assert!(list.admit("https://app.example.com.evil.net/").is_err());
    }
}
