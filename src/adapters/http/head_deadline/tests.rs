//! The request scanner, across reads.
use super::scan::Scan;

/// Complete heads after scanning `chunks`, and whether a head is then owed.
fn scanned(chunks: &[&[u8]]) -> (u32, bool) {
    let mut scan = Scan::default();
    for chunk in chunks {
        scan.bytes(chunk);
    }
    (scan.pending(), scan.waiting_for_head())
}

#[test]
fn a_head_ends_at_the_first_blank_line_even_across_reads() {
    assert_eq!(scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]), (1, false));
    assert_eq!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"]),
        (1, false)
    );
    assert_eq!(scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]), (0, true));
    assert_eq!(
        scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n"]),
        (0, true)
    );
    assert_eq!(scanned(&[b"GET / HTTP/1.1\nHost: x\n\n"]), (1, false));
    // Blank lines before the request line do not end a head.
    assert_eq!(scanned(&[b"\r\n\r\n\n\n"]), (0, true));
    assert_eq!(
        scanned(&[b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"]),
        (1, false)
    );
}

#[test]
fn the_h2_preface_is_refused_and_its_start_is_no_request() {
    for chunks in [
        &[&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..]][..],
        &[b"PRI * HT", b"TP/2.0\r\n\r\nSM", b"\r\n\r\n"],
    ] {
        let mut scan = Scan::default();
        for chunk in chunks {
            scan.bytes(chunk);
        }
        assert!(scan.http2() && !scan.waiting_for_head());
    }
    // A prefix of the preface, even one that looks like a whole head, is still owed the
    // rest: the deadline keeps running while hyper waits to tell the protocols apart.
    for prefix in [
        &b"PRI * HTTP/2.0"[..],
        b"PRI * HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n",
    ] {
        assert_eq!(scanned(&[prefix]), (0, true), "{prefix:?}");
    }
}

#[test]
fn pipelined_requests_are_counted_past_their_bodies() {
    // Two heads in one read; a body announced by Content-Length is skipped, even when it
    // and the header naming it arrive in pieces.
    assert_eq!(
        scanned(&[b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"]),
        (2, false)
    );
    // The same Content-Length twice is one length (hyper accepts it).
    assert_eq!(
        scanned(&[b"POST /a HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n"]),
        (2, false)
    );
    assert_eq!(
        scanned(&[
            b"POST /a HTTP/1.1\r\nContent-Le",
            b"ngth: 12\r\n\r\nx=\r\n\r\n",
            b"\r\n\r\nzz",
            b"GET /b HTTP/1.1\r\n\r\n"
        ]),
        (2, false)
    );
    // A pipelined head whose body has not all arrived: a request is being read.
    let mut scan = Scan::default();
    scan.bytes(b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\ncontent-length: 870\r\n\r\n");
    assert!(scan.wrote(b"HTTP/1.1 404 Not Found\r\n\r\n"));
    assert_eq!((scan.pending(), scan.waiting_for_head()), (1, false));
    scan.bytes(&[b'a'; 870]);
    assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert!(scan.waiting_for_head());
    // A body that cannot be followed (a chunked body hyper would refuse: here a size line
    // after the data's CRLF is empty; or a Content-Length that conflicts or cannot be read
    // whole) stops the scan until its response starts.
    let padded = format!(
        "POST / HTTP/1.1\r\nContent-Length:{}5\r\n\r\n",
        " ".repeat(90)
    );
    for head in [
        &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        padded.as_bytes(),
    ] {
        let mut scan = Scan::default();
        scan.bytes(head);
        scan.bytes(b"5\r\nGET /\r\n\r\n0\r\n\r\n");
        assert_eq!((scan.pending(), scan.waiting_for_head()), (1, false));
        assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(scan.waiting_for_head());
    }
}

#[test]
fn chunked_bodies_are_followed_to_the_next_request() {
    let two = [
        // Plain, with extensions and whitespace, with trailers, with data that looks like
        // heads, and a chunk size with leading zeros.
        &b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n"[..],
        b"POST /a HTTP/1.1\r\ntransfer-encoding:  Chunked \r\n\r\n5 ;a=b;c\r\nhello\r\n000\r\nX-T: 1\r\nY: 2\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        // Leading zeros past sixteen digits are still a small size.
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000005\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nGET / HTTP/1.1\r\n\r\n00a\r\n\r\n\r\n\r\n\r\n\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    ];
    for bytes in two {
        assert_eq!(
            scanned(&[bytes]),
            (2, false),
            "{}",
            String::from_utf8_lossy(bytes)
        );
        // However the reads split it.
        for cut in 1..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(scanned(&[a, b]), (2, false), "cut at {cut}");
        }
        // Answered in turn, the connection then owes a head.
        let mut scan = Scan::default();
        scan.bytes(bytes);
        assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!scan.waiting_for_head());
        assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(scan.waiting_for_head());
    }
    // A chunked body still arriving: a request is being read, not a head owed, even after
    // the previous response.
    let mut scan = Scan::default();
    scan.bytes(
        b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    );
    assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert_eq!((scan.pending(), scan.waiting_for_head()), (1, false));
    scan.bytes(b"lo\r\n0\r\n\r\n");
    assert!(scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n"));
    assert!(scan.waiting_for_head());
    // What hyper refuses, or framing that cannot be followed, is opaque: a "head" after it is
    // not counted, and nothing is owed until the response.
    for bytes in [
        &b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n"[..],
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", // over 64 bits
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\nGET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(scanned(&[bytes]), (1, false), "{}", String::from_utf8_lossy(bytes));
        let mut scan = Scan::default();
        scan.bytes(bytes);
        assert!(scan.wrote(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        assert!(scan.waiting_for_head());
    }
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

#[test]
fn the_line_scanner_agrees_with_the_byte_definition_however_reads_split() {
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
        let mut scan = Scan::default();
        let mut rest = &bytes[..];
        let mut ended_by = None;
        let mut offset = 0;
        while !rest.is_empty() {
            let take = 1 + (next() as usize) % rest.len();
            scan.bytes(&rest[..take]);
            offset += take;
            rest = &rest[take..];
            if scan.pending() > 0 {
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

#[test]
fn interim_responses_and_body_writes_do_not_answer_a_request() {
    let mut scan = Scan::default();
    scan.bytes(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert!(!scan.wrote(b"HTTP/1.1 100 Continue\r\n\r\n"));
    assert!(!scan.waiting_for_head());
    // The body is not read as a head.
    scan.bytes(b"a\r\n\r\n");
    assert_eq!(scan.pending(), 1);
    assert!(scan.wrote(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"));
    assert!(scan.waiting_for_head());
    // A second head read while the first response's body is still being written: the rest
    // of that body is no response, and the request keeps waiting for its own.
    scan.bytes(b"GET /b HTTP/1.1\r\n\r\n");
    assert!(!scan.wrote(b"body-rest"));
    assert!(!scan.wrote(b"K\r\ncontent-length: 0\r\n\r\n"));
    assert!(!scan.waiting_for_head());
    assert!(scan.wrote(b"HTTP/1.0 404 Not Found\r\n\r\n"));
    assert!(scan.waiting_for_head());
    // An interim response flushed together with the final one (the body came with the
    // head), in one buffer or two.
    scan.bytes(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    assert!(scan.wrote(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n"));
    assert!(scan.waiting_for_head());
    scan.bytes(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    assert!(scan.wrote_all([
        &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
        b"",
        b"HTTP/1.1 200 OK\r\n\r\n"
    ]));
    assert!(scan.waiting_for_head());
    // A response with nothing pending (hyper's own error reply) leaves a head owed.
    assert!(scan.wrote(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    assert!(scan.waiting_for_head());
}
