//! The head scanner, across reads.
use super::*;

fn scanned(chunks: &[&[u8]]) -> Phase {
    let mut io = HeadDeadline::new((), Duration::from_secs(1));
    for chunk in chunks {
        io.scan.bytes(chunk);
    }
    io.scan.phase
}

#[tokio::test]
async fn a_head_ends_at_the_first_blank_line_even_across_reads() {
    assert_eq!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]),
        Phase::Request
    );
    assert_eq!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"]),
        Phase::Request
    );
    assert!(matches!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]),
        Phase::Head { .. }
    ));
    assert!(matches!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n"]),
        Phase::Head { .. }
    ));
    assert_eq!(scanned(&[b"GET / HTTP/1.1\nHost: x\n\n"]), Phase::Request);
    // Blank lines before the request line do not end a head.
    assert!(matches!(scanned(&[b"\r\n\r\n\n\n"]), Phase::Head { .. }));
    assert_eq!(
        scanned(&[b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"]),
        Phase::Request
    );
    // The whole h2 preface, not a prefix of it.
    assert_eq!(
        scanned(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]),
        Phase::Http2
    );
    assert_eq!(
        scanned(&[b"PRI * HT", b"TP/2.0\r\n\r\nSM", b"\r\n\r\n"]),
        Phase::Http2
    );
    assert!(matches!(scanned(&[b"PRI * HTTP/2.0"]), Phase::Head { .. }));
}

/// The byte-at-a-time definition the line-based scanner must agree with: `\r` is
/// ignored, line breaks before the first other byte are skipped, and a line break right
/// after another ends the head.
fn reference(bytes: &[u8]) -> Option<usize> {
    let (mut started, mut line_start) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' => {}
            b'\n' if !started => {}
            b'\n' if line_start => return Some(i),
            b'\n' => line_start = true,
            _ => {
                started = true;
                line_start = false;
            }
        }
    }
    None
}

#[tokio::test]
async fn the_line_scanner_agrees_with_the_byte_definition_however_reads_split() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..5000 {
        let len = (next() % 24) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| [b'\r', b'\n', b'a'][(next() % 3) as usize])
            .collect();
        let mut io = HeadDeadline::new((), Duration::from_secs(1));
        let mut rest = &bytes[..];
        let mut ended_by = None;
        let mut offset = 0;
        while !rest.is_empty() {
            let take = 1 + (next() as usize) % rest.len();
            io.scan.bytes(&rest[..take]);
            offset += take;
            rest = &rest[take..];
            if io.scan.phase == Phase::Request {
                ended_by = Some(offset);
                break;
            }
        }
        match reference(&bytes) {
            // Ended within the read that held the terminating line break.
            Some(at) => assert!(ended_by.is_some_and(|end| at < end), "{bytes:?}"),
            None => assert_eq!(ended_by, None, "{bytes:?}"),
        }
    }
}

#[tokio::test]
async fn interim_responses_do_not_end_a_request() {
    let mut io = HeadDeadline::new((), Duration::from_secs(1));
    io.scan
        .bytes(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    assert!(!io.scan.wrote(b"HTTP/1.1 100 Continue\r\n\r\n"));
    assert_eq!(io.scan.phase, Phase::Request);
    // Body bytes are not read as a head.
    io.scan.bytes(b"a\r\n\r\nb");
    assert_eq!(io.scan.phase, Phase::Request);
    assert!(io.scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert_eq!(io.scan.phase, Phase::Head { armed: true });
}

#[tokio::test]
async fn only_the_start_of_a_response_starts_the_next_heads_deadline() {
    let mut io = HeadDeadline::new((), Duration::from_secs(1));
    // A second head read while the first response is still being written.
    io.scan.bytes(b"GET /a HTTP/1.1\r\n\r\n");
    assert!(
        io.scan
            .wrote(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n")
    );
    io.scan.bytes(b"GET /b HTTP/1.1\r\n\r\n");
    assert_eq!(io.scan.phase, Phase::Request);
    // The rest of the first response's body is not a response: the second request keeps
    // waiting for its own, without a head deadline.
    assert!(!io.scan.wrote(b"body-rest"));
    assert!(!io.scan.wrote(b"K\r\ncontent-length: 0\r\n\r\n"));
    assert_eq!(io.scan.phase, Phase::Request);
    // Every response start counts, whatever the phase (pipelined requests answered from
    // hyper's buffer).
    assert!(io.scan.wrote(b"HTTP/1.0 404 Not Found\r\n\r\n"));
    assert_eq!(io.scan.phase, Phase::Head { armed: true });
    assert!(io.scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert_eq!(io.scan.phase, Phase::Head { armed: true });
}
