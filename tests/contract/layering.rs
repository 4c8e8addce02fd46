//! The ports-and-adapters rule guards itself: `src/domain` and `src/ports` must not name an
//! infrastructure crate.

use std::path::{Path, PathBuf};

const FORBIDDEN: [&str; 9] = [
    "sqlx",
    "redis",
    "poem",
    "poem_openapi",
    "openidconnect",
    "samael",
    "reqwest",
    "hyper",
    "tokio::net",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines that name a forbidden crate in a `use` or a path (`crate::...`).
fn violations(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for krate in FORBIDDEN {
            let as_use = code
                .trim_start()
                .trim_start_matches("pub ")
                .starts_with(&format!("use {krate}"))
                || code.contains(&format!("use ::{krate}"));
            let as_path = code.match_indices(&format!("{krate}::")).any(|(i, _)| {
                i == 0
                    || !code.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && code.as_bytes()[i - 1] != b'_'
            });
            if as_use || as_path {
                found.push(format!("line {}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn domain_and_ports_import_no_infrastructure() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("domain"), &mut files);
    rust_files(&root.join("ports"), &mut files);
    assert!(files.len() > 5, "found the source files");
    let mut problems = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for v in violations(&source) {
            problems.push(format!("{}: {v}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "infrastructure imported by the domain or a port:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layering_check_catches_each_form_of_import() {
    assert!(!violations("use sqlx::PgPool;").is_empty());
    assert!(!violations("    pub use poem_openapi::Object;").is_empty());
    assert!(!violations("let x = redis::cmd(\"GET\");").is_empty());
    assert!(!violations("use ::hyper::Body;").is_empty());
    assert!(!violations("fn f(l: tokio::net::TcpListener) {}").is_empty());
    assert!(violations("use crate::ports::RedisLike; // redis:: in a comment").is_empty());
    assert!(violations("use tokio::sync::Mutex;").is_empty());
}
