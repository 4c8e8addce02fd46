//! JSON bodies for the errors the HTTP parser answers by itself. When hyper cannot parse a
//! request head (a NUL in a header, a 100 kB request target, more than 100 headers, a head
//! over its buffer of about 400 kB, an unknown HTTP version) it writes a bare
//! `400`/`414`/`431` with no body and closes the connection; the request never reaches the
//! application, its middleware or the contract's error shape. The connection wrapper
//! ([`super::head_deadline`]) recognises such a response by its exact shape and sends
//! [`json_reply`] in its place.

/// The status of a response written by hyper itself for a request it could not parse:
/// `HTTP/1.x 4xx|5xx …` whose only headers are `connection: close` (absent on a connection
/// that spoke HTTP/1.0, where closing is the default), `content-length: 0` and `date`.
/// Responses from the application always carry more (a content type, the request id), so
/// they never match.
pub fn parser_error_status(response: &[u8]) -> Option<u16> {
    // Cheap exits first: this runs on every write of every response.
    if response.len() > 256
        || !matches!(response.get(9), Some(b'4' | b'5'))
        || !response.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let head = std::str::from_utf8(&response[..response.len() - 4]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let http10 = status_line.starts_with("HTTP/1.0 ");
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let (mut close, mut empty) = (http10, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "content-length" => empty = value == "0",
            "date" => {}
            _ => return None,
        }
    }
    (close && empty).then_some(status)
}

/// The response sent instead: same status, the contract's error body, and the connection
/// closed.
pub fn json_reply(status: u16) -> Vec<u8> {
    let (reason, description) = match status {
        400 => ("Bad Request", "the request head is not valid HTTP"),
        414 => ("URI Too Long", "the request target is too long"),
        431 => (
            "Request Header Fields Too Large",
            "the request head is too large or has too many header fields",
        ),
        _ => ("Error", "the request could not be read"),
    };
    // All of these are the client's doing.
    let body = format!(r#"{{"error":"invalid_request","error_description":"{description}"}}"#);
    format!(
        "HTTP/1.1 {status} {reason}\r\n\
         content-type: application/json; charset=utf-8\r\n\
         cache-control: no-store\r\n\
         pragma: no-cache\r\n\
         referrer-policy: no-referrer\r\n\
         x-content-type-options: nosniff\r\n\
         x-request-id: {}\r\n\
         connection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        String::from_utf8_lossy(super::middleware::new_request_id().as_bytes()),
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_parsers_bare_responses_are_recognised() {
        let date = "date: Sat, 28 Nov 2026 08:23:56 GMT\r\n";
        for (status, reason) in [(400, "Bad Request"), (414, "URI Too Long"), (431, "X")] {
            let bare = format!(
                "HTTP/1.1 {status} {reason}\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n"
            );
            assert_eq!(parser_error_status(bare.as_bytes()), Some(status), "{bare}");
        }
        // After an HTTP/1.0 keep-alive request hyper closes without saying so.
        let bare = format!("HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\n{date}\r\n");
        assert_eq!(parser_error_status(bare.as_bytes()), Some(400), "{bare}");
        for other in [
            // The application's own responses.
            format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n{date}\r\n{{}}"
            ),
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n"
            ),
            "HTTP/1.1 400 Bad Request\r\nx-request-id: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".to_owned(),
            // Not an error, or not closing, or not empty.
            format!("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n"),
            "HTTP/1.1 100 Continue\r\n\r\n".to_owned(),
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{date}\r\n"),
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 5\r\n\r\n".to_owned(),
            // Only part of a head.
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n".to_owned(),
        ] {
            assert_eq!(parser_error_status(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn the_reply_is_one_well_formed_json_response() {
        for status in [400, 414, 431, 499, 500] {
            let reply = String::from_utf8(json_reply(status)).unwrap();
            let (head, body) = reply.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
            assert!(head.contains(&format!("content-length: {}", body.len())));
            let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(parsed["error"], "invalid_request");
            assert!(
                parsed["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty())
            );
        }
    }
}
