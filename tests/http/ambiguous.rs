//! Requests that try to be ambiguous or slow: stalled and trickled request heads, plain-text
//! HTTP/2, repeated parameters and `Authorization` headers. Ambiguous bodies are in `bodies`.

use reqwest::StatusCode;
use tmi_auth::app::Config;

use crate::support::*;

#[tokio::test]
async fn a_connection_that_stalls_in_its_request_head_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::demo_ephemeral();
    config.server.header_timeout_secs = 1;
    config.server.request_timeout_secs = 3;
    let app = spawn_with(config).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(format!("GET /me HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("the server closes the connection instead of waiting for the rest");
    // Closed (end of stream or reset), without a response to a request never completed.
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // An idle keep-alive connection is closed once the deadline after its last response
    // passes, although the client never sends another byte.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // Keep-alive: each head gets its own deadline, counted from the previous response, and a
    // head trickled in byte by byte does not escape it.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    for _ in 0..3 {
        stream.write_all(request.as_bytes()).await.unwrap();
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    // (If the server waited for the whole trickle, the read below would get its response.)
    for byte in request.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // Plain-text HTTP/2 (prior knowledge) is refused rather than left untimed.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The start of the preface looks like a whole HTTP/1 head, but hyper still waits for the
    // rest of it to choose a protocol: the deadline keeps running.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\n").await.unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("closed at the deadline");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // A request pipelined behind another is not held to the next head's deadline while its
    // body arrives (the request time limit covers that).
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /nope HTTP/1.1\r\nHost: {addr}\r\n\r\n\
                 POST /oauth2/introspect HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    stream.write_all(b"token=x").await.unwrap();
    let mut answered = Vec::new();
    while !String::from_utf8_lossy(&answered).contains("\"active\"") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
            .await
            .expect("both answered")
            .unwrap();
        assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&answered));
        answered.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answered);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(text.contains("HTTP/1.1 200 OK"), "{text}");

    // Once answered, neither a 100 Continue flushed with the final response nor pipelining
    // behind a chunked body (which the scanner cannot follow) keeps a connection open.
    for (first, later) in [
        (
            "POST /nope HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx",
            "",
        ),
        (
            "POST /nope HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
             POST /nope HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n",
            "x\r\n\r\nx\r\n\r\n",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(first.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stream.write_all(later.as_bytes()).await.unwrap();
        let mut all = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut all),
        )
        .await;
        let text = String::from_utf8_lossy(&all);
        assert!(read.is_ok(), "still open: {text}");
        assert!(text.contains("HTTP/1.1 404"), "{text}");
    }
}

#[tokio::test]
async fn a_connection_ends_when_neither_side_makes_progress() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::demo_ephemeral();
    config.server.header_timeout_secs = 1;
    config.server.request_timeout_secs = 8;
    let app = spawn_with(config).await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();

    // After a request that took a while (its body came late), the next head is owed within
    // the head deadline again, not within the longer bound for pending requests.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /oauth2/introspect HTTP/1.1\r\nHost: a\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n",
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    stream.write_all(b"token=x").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Past the head deadline (1 s) but well inside the pending-request bound (9 s after the
    // head), a new request finds the connection closed rather than answered.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let _ = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .await;
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
        .await
        .expect("closed");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "answered after the head deadline: {:?}",
        read.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );

    // A client that pipelines requests and never reads stalls the server's writes (and hyper
    // stops reading): the connection ends rather than pinning its buffers for ever.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = "GET /openapi.json HTTP/1.1\r\nHost: a\r\n\r\n".repeat(60);
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut all),
    )
    .await
    .expect("closed");
    let answered = memchr::memmem::find_iter(&all, b"HTTP/1.1 200").count();
    assert!(answered < 60, "all {answered} answered: never cut off");
}

#[tokio::test]
async fn heads_the_parser_refuses_get_the_contracts_json_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let many_headers: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    for (request, status) in [
        (
            format!("GET /me HTTP/1.1\r\nHost: {addr}\r\nX-A: a\0b\r\n\r\n"),
            400,
        ),
        (format!("GET /me HTTP/3.1\r\nHost: {addr}\r\n\r\n"), 400),
        (
            format!("GET /me HTTP/1.1\r\nHost: {addr}\r\n{many_headers}\r\n"),
            431,
        ),
        (
            format!(
                "GET /{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                "a".repeat(100_000)
            ),
            414,
        ),
        // Over hyper's buffer (about 400 kB) without ever ending.
        (
            format!(
                "GET /me HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}",
                "b".repeat(500_000)
            ),
            431,
        ),
        // A bad head after an HTTP/1.0 keep-alive exchange (hyper then omits
        // `connection: close`); the last response on the wire is the one checked.
        (
            format!(
                "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
                 GET /me HTTP/1.1\r\nHost: {addr}\r\nX-A: a\0b\r\n\r\n"
            ),
            400,
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request.as_bytes()).await;
        let mut response = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut response),
        )
        .await
        .expect("answered and closed");
        let text = String::from_utf8_lossy(&response);
        let last = text.rfind("HTTP/1.").unwrap_or(0);
        let (head, body) = text[last..]
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{text:?}"));
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with(&format!("http/1.1 {status} ")), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("x-request-id: "), "{head}");
        let parsed: serde_json::Value = serde_json::from_str(body).expect(body);
        assert_eq!(parsed["error"], "invalid_request", "{body}");
        assert!(parsed["error_description"].as_str().is_some(), "{body}");
    }
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1; HTTP/1.0 may go without.
    for (request, status) in [
        ("GET /healthz HTTP/1.1\r\n\r\n".to_owned(), 400),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nHost: other\r\n\r\n"),
            400,
        ),
        ("GET /healthz HTTP/1.0\r\n\r\n".to_owned(), 200),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(
            &head[9..],
            status.to_string().as_bytes(),
            "{request:?}: {head:?}"
        );
    }
    // A large head within hyper's buffer is served.
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-padding", "p".repeat(200_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn repeated_parameters_and_authorization_headers_are_refused() {
    let app = spawn().await;
    let alice = app.login("alice").await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let base = [
        ("idp", "tmi"),
        ("scope", "openid"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("client_callback", "http://localhost:8079/cb"),
    ];
    for (name, second) in [
        ("client_callback", "http://localhost:9999/other"),
        ("idp", "other"),
        ("code_challenge_method", "plain"),
    ] {
        let mut query = base.to_vec();
        query.push((name, second));
        let body = expect_error(
            app.authorize(&query).await,
            "get",
            "/oauth2/authorize",
            400,
            "invalid_request",
        )
        .await;
        assert!(
            body["error_description"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
    // Encoded names count too; one of each is fine.
    let resp = app
        .client
        .get(format!(
            "{}?{}&%73tate=a&state=b",
            app.url("/oauth2/authorize"),
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(base)
                .finish()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.authorize(&base).await.status(), StatusCode::FOUND);
    let listed = app
        .client
        .get(app.url("/me/client_credentials?limit=5&limit=50"))
        .bearer_auth(&alice.access_token)
        .send()
        .await
        .unwrap();
    expect_error(
        listed,
        "get",
        "/me/client_credentials",
        400,
        "invalid_request",
    )
    .await;

    // Two Authorization headers: which one would count? Neither.
    let resp = app
        .client
        .get(app.url("/me"))
        .header("authorization", format!("Bearer {}", alice.access_token))
        .header("authorization", "Bearer garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(
        app.get_bearer("/me", &alice.access_token).await.status(),
        StatusCode::OK
    );
    // Where no bearer token is needed, a 400 (every such operation documents one).
    let resp = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", "Basic YTpi")
        .header("authorization", "Basic Yzpk")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    expect_error(resp, "post", "/oauth2/introspect", 400, "invalid_request").await;
    // Parameters no operation reads may repeat (they are ignored anyway).
    assert_eq!(
        app.get_bearer("/me?x=1&x=2", &alice.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}
