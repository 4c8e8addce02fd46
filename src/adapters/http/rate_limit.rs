//! Rate limiting per route class, keyed on the right things: the client IP (the socket peer,
//! or the first untrusted address of `X-Forwarded-For` when the peer is a configured trusted
//! proxy), the `client_id` at the token endpoint (from HTTP Basic or the body), and the caller at
//! introspection and revocation. Answers 429 with `Retry-After`; every limited response carries
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use poem::http::StatusCode;
use poem::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use poem::{Request, Response};

use crate::domain::encoding::digest_key;
use crate::ports::{Limit, RateDecision, RateLimiter};

/// A network in CIDR form (or a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a plain address.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Limits per route class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Off entirely when false.
    pub enabled: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// `/oauth2/authorize`, `/oauth2/callback`: per client IP.
    pub login: Limit,
    /// `/oauth2/token`, `/oauth2/refresh`: per client IP and per `client_id`.
    pub token: Limit,
    /// `/oauth2/introspect`, `/oauth2/revoke`: per client IP.
    pub caller: Limit,
    /// `/.well-known/*`: per client IP.
    pub discovery: Limit,
    /// Everything else under the API: per client IP.
    pub api: Limit,
}

/// The client's IP: the socket peer, unless the peer is a trusted proxy; then the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(req: &Request, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map(|a| canonical(a.ip()))?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let lines: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    Some(forwarded_client(peer, &lines, is_trusted))
}

/// Walks `X-Forwarded-For` (all lines, in order) from the right past trusted proxies. The
/// first other entry is the client, as written by the last trusted proxy; when that entry is
/// no address (`unknown`, garbage, empty), the client is unknown and the peer stands in:
/// everything left of it was written by the client, so walking on would let the client pick
/// its own address. Entries may carry a port (`1.2.3.4:5555`, `[2001:db8::1]:443`).
fn forwarded_client(peer: IpAddr, lines: &[&str], is_trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    for hop in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        match parse_hop(hop.trim()) {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return ip,
            None => return peer,
        }
    }
    peer
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })?;
    Some(canonical(ip))
}

/// `client_id` presented at the token endpoint: HTTP Basic first, then the body.
fn client_id(req: &Request, body: &[u8]) -> Option<String> {
    if let Some((scheme, value)) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        && scheme.eq_ignore_ascii_case("basic")
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text.split_once(':').map(|(id, _)| id.to_owned());
    }
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if json {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        return value.get("client_id")?.as_str().map(str::to_owned);
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
}

/// The per-IP bucket of `ip`: an IPv6 client usually holds a whole /64, so the /64 is one
/// bucket (per address, each of its 2^64 addresses would open a fresh budget).
fn bucket_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The buckets a request counts against.
fn buckets(req: &Request, body: &[u8], settings: &RateLimitSettings) -> Vec<(String, Limit)> {
    let path = req.uri().path();
    let ip = client_ip(req, &settings.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), bucket_address);
    let per_ip = |class: &str, limit: Limit| (format!("{class}:ip:{ip}"), limit);
    match path {
        "/healthz" | "/openapi.json" => vec![],
        p if p.starts_with("/docs") => vec![],
        "/oauth2/authorize" => vec![per_ip("login", settings.login)],
        "/oauth2/callback" => {
            // Per client IP, and per flow: one state cannot be hammered from many addresses.
            let mut keys = vec![per_ip("login", settings.login)];
            let state = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned());
            if let Some(state) = state.filter(|s| !s.is_empty()) {
                keys.push((
                    format!("login:state:{}", digest_key(&state)),
                    settings.login,
                ));
            }
            keys
        }
        p if p.starts_with("/saml/") => vec![per_ip("login", settings.login)],
        "/oauth2/token" | "/oauth2/refresh" => {
            let mut keys = vec![per_ip("token", settings.token)];
            if let Some(id) = client_id(req, body).filter(|id| !id.is_empty()) {
                keys.push((format!("token:client:{}", digest_key(&id)), settings.token));
            }
            keys
        }
        // Per client IP: the caller is not authenticated yet, so a bucket per presented
        // credential would let a made-up one per request open a fresh budget, and would let
        // anyone who knows a resource server's client id drain that server's budget.
        "/oauth2/introspect" | "/oauth2/revoke" => vec![per_ip("caller", settings.caller)],
        p if p.starts_with("/.well-known/") => vec![per_ip("discovery", settings.discovery)],
        _ => vec![per_ip("api", settings.api)],
    }
}

/// The verdict for a request: `Err(response)` when limited, else the headers to add.
pub async fn check(
    req: &Request,
    body: &[u8],
    limiter: &Arc<dyn RateLimiter>,
    settings: &RateLimitSettings,
) -> Result<Option<RateDecision>, Response> {
    if !settings.enabled {
        return Ok(None);
    }
    let mut tightest: Option<RateDecision> = None;
    for (key, limit) in buckets(req, body, settings) {
        let decision = match limiter.hit(&key, limit).await {
            Ok(d) => d,
            Err(err) => {
                // Fail open: availability over throttling (authentication still fails closed).
                tracing::warn!(error = %err, "rate limiter unavailable");
                continue;
            }
        };
        if !decision.allowed {
            return Err(too_many(&decision));
        }
        if tightest.is_none_or(|t| decision.remaining < t.remaining) {
            tightest = Some(decision);
        }
    }
    Ok(tightest)
}

fn epoch_after(after: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + after).as_secs() + u64::from((now + after).subsec_nanos() > 0)
}

/// Adds the `X-RateLimit-*` headers.
pub fn add_headers(resp: &mut Response, d: &RateDecision) {
    let headers = resp.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    headers.insert(
        "x-ratelimit-reset",
        HeaderValue::from(epoch_after(d.reset_after)),
    );
}

fn too_many(d: &RateDecision) -> Response {
    let retry = d.retry_after.as_secs() + u64::from(d.retry_after.subsec_nanos() > 0);
    let retry = retry.max(1);
    let body = serde_json::json!({
        "error": "rate_limit_exceeded",
        "error_description": format!("too many requests; retry in {retry} seconds"),
    });
    let mut resp = Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .content_type("application/json; charset=utf-8")
        .header("retry-after", retry)
        .body(body.to_string());
    add_headers(&mut resp, d);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right_and_never_beyond_it() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let proxies = Cidr::parse("10.0.0.0/8").unwrap();
        let trusted = |ip: IpAddr| proxies.contains(ip);
        let client = |lines: &[&str]| forwarded_client(peer, lines, trusted).to_string();
        assert_eq!(client(&["1.2.3.4"]), "1.2.3.4");
        assert_eq!(client(&["6.6.6.6, 1.2.3.4, 10.0.0.7"]), "1.2.3.4");
        assert_eq!(client(&["6.6.6.6", "1.2.3.4, 10.0.0.7"]), "1.2.3.4");
        // Ports, as some proxies append them.
        assert_eq!(client(&["6.6.6.6, 1.2.3.4:5555"]), "1.2.3.4");
        assert_eq!(client(&["[2001:db8::1]:443"]), "2001:db8::1");
        assert_eq!(client(&["[2001:db8::1]"]), "2001:db8::1");
        // What the last trusted proxy wrote is not an address: the client is unknown, and
        // nothing to its left (written by the client) is believed.
        assert_eq!(client(&["6.6.6.6, unknown"]), "10.0.0.1");
        assert_eq!(client(&["6.6.6.6, garbage, 10.0.0.7"]), "10.0.0.1");
        assert_eq!(client(&["6.6.6.6, "]), "10.0.0.1");
        assert_eq!(client(&[]), "10.0.0.1");
        assert_eq!(client(&["10.0.0.9, 10.0.0.7"]), "10.0.0.1");
        assert_eq!(client(&["::ffff:1.2.3.4"]), "1.2.3.4");
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let at = |s: &str| bucket_address(s.parse().unwrap());
        assert_eq!(
            at("2001:db8:1:2::1"),
            at("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(at("2001:db8:1:2::1"), at("2001:db8:1:3::1"));
        assert_eq!(at("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(at("192.0.2.1"), "192.0.2.1");
        assert_ne!(at("192.0.2.1"), at("192.0.2.2"));
    }

    #[test]
    fn cidrs_match_their_networks() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.0.0.1".parse().unwrap()),
            "IPv4-mapped IPv6"
        );
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            Cidr::parse("::1/128")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
    }
}
