//! Release builds of the server lay out the functions it runs at start-up and on its request
//! paths together at the start of `.text` (`bench/hot-symbols.txt`, made by
//! `bench/hot-symbols.sh`). The kernel maps executable pages 64 KB at a time around each
//! first touch, so with the hot code scattered over the 12 MB binary almost all of it became
//! resident; grouped, an idle server keeps a few MB of it.
//!
//! Only for x86_64 Linux, where rustc links with lld (the only linker here that takes a symbol
//! ordering file); `TMI_AUTH_SYMBOL_ORDER=off` turns it off (for example with another linker).
//! The linker driver, `scripts/ordered-cc`, maps the list's names onto the hashes of the
//! toolchain in use before lld reads it.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=bench/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=TMI_AUTH_SYMBOL_ORDER");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = env::var("TARGET").unwrap_or_default();
    let enabled = env::var("TMI_AUTH_SYMBOL_ORDER").map_or(true, |v| v != "off");
    let file = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("bench")
        .join("hot-symbols.txt");
    if release && enabled && target == "x86_64-unknown-linux-gnu" && file.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        // Symbols of other builds (debug names, another CPU's assembly) are simply absent.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
