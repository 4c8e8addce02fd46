//! The binary: `--listen 127.0.0.1:0` prints the chosen port; bad configuration exits with 2
//! and names the key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tmi-auth");

fn clean_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("TMI_AUTH__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

#[tokio::test]
async fn the_binary_serves_on_an_ephemeral_port_and_prints_it() {
    let mut child = clean_command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("banner printed");
    let result = async {
        let addr = first
            .strip_prefix("tmi-auth listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");
        assert!(first.contains("mode: demo"));
        let walkthrough_printed =
            std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(10)).ok())
                .any(|line| line.contains("login_hint=alice"));
        assert!(walkthrough_printed, "walk-through printed");
        let health = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    .await;
    child.kill().ok();
    child.wait().ok();
    result
}

fn run_expecting_config_error(cmd: &mut Command, key: &str) {
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code 2; stderr: {stderr}"
    );
    assert!(stderr.contains(key), "stderr names `{key}`: {stderr}");
}

#[test]
fn bad_configuration_exits_with_2_and_names_the_key() {
    run_expecting_config_error(
        clean_command().env("TMI_AUTH__SERVER__LISTEN", "not-an-address"),
        "server.listen",
    );
    run_expecting_config_error(
        clean_command().env("TMI_AUTH__TOKENS__ACCESS_TOKEN_TTL_SECS", "1"),
        "tokens.access_token_ttl_secs",
    );
    run_expecting_config_error(
        clean_command().env("TMI_AUTH__SERVER__NO_SUCH_KEY", "1"),
        "no_such_key",
    );
    run_expecting_config_error(clean_command().args(["--listen", "nowhere"]), "--listen");
    // Management commands do not listen: the flag is refused rather than ignored.
    run_expecting_config_error(
        clean_command().args(["keys", "list", "--listen", "x"]),
        "--listen",
    );
    run_expecting_config_error(
        clean_command().args(["--listen", "x", "keys", "list"]),
        "--listen",
    );
    run_expecting_config_error(
        clean_command().args(["--config", "/nonexistent/tmi-auth.toml"]),
        "--config",
    );

    let dir = std::env::temp_dir().join(format!("tmi-auth-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[tokens]\naccess_token_ttl_secs = \"soon\"\n").unwrap();
    run_expecting_config_error(
        clean_command().arg("--config").arg(&file),
        "tokens.access_token_ttl_secs",
    );
    std::fs::write(&file, "mode = \"production\"\n").unwrap();
    run_expecting_config_error(
        clean_command().arg("--config").arg(&file),
        "server.public_url",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut child = clean_command()
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let addr = first
        .strip_prefix("tmi-auth listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();

    // A slow client: headers now, the body later.
    let body = "grant_type=refresh_token&refresh_token=v4.local.nothing";
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 400"),
        "the in-flight request was answered: {response}"
    );
    assert!(response.contains("invalid_grant"));

    let exited = (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        child.try_wait().unwrap()
    });
    match exited {
        Some(status) => assert!(status.success(), "clean exit: {status}"),
        None => {
            child.kill().ok();
            panic!("did not exit after SIGTERM");
        }
    }
}

#[tokio::test]
async fn audit_events_are_logged_without_secrets() {
    let mut child = clean_command()
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let base = first
        .strip_prefix("tmi-auth listening on ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{base}/oauth2/authorize"))
        .query(&[
            ("login_hint", "auditee"),
            ("scope", "openid"),
            ("code_challenge", crate::support::CHALLENGE),
            ("code_challenge_method", "S256"),
            ("client_callback", crate::support::CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    let upstream = crate::support::location(&resp);
    let resp = client.get(upstream).send().await.unwrap();
    let code = crate::support::query_of(&crate::support::location(&resp))["code"].clone();
    let resp = client
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", crate::support::VERIFIER),
            ("redirect_uri", crate::support::CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("login_succeeded"), "{log}");
    assert!(log.contains("token_issued"), "{log}");
    assert!(
        log.contains("request_id"),
        "audit lines carry the request id: {log}"
    );
    assert!(!log.contains(&access), "no access token in logs");
    assert!(!log.contains(&code), "no authorization code in logs");
    assert!(
        !log.contains(crate::support::VERIFIER),
        "no PKCE verifier in logs"
    );
}
