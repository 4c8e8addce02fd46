//! The release link order (build.rs, `bench/hot-symbols.txt`) survives toolchain upgrades:
//! `scripts/ordered-cc` hands the linker the names the objects define now, whatever hashes the
//! list was recorded with, and leaves every other link alone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tmi-auth-link-order-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `cc` stand-in that records its arguments, and the ordering file it was given, in `dir`.
fn fake_cc(dir: &Path) -> PathBuf {
    let path = dir.join("fake-cc");
    std::fs::write(
        &path,
        format!(
            "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" > {dir}/args\n\
             for a in \"$@\"; do case \"$a\" in -Wl,--symbol-ordering-file=*) \
             cp \"${{a#-Wl,--symbol-ordering-file=}}\" {dir}/order ;; esac; done\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

fn run_wrapper(dir: &Path, args: &[String]) {
    let status = Command::new(root().join("scripts/ordered-cc"))
        .args(args)
        .env("TMI_AUTH_LINK_CC", fake_cc(dir))
        .status()
        .unwrap();
    assert!(status.success());
}

/// An object defining Rust-style symbols (legacy names are valid C identifiers).
fn object(dir: &Path) -> PathBuf {
    let source = dir.join("hot.c");
    std::fs::write(
        &source,
        "void _ZN4demo3hot17h00000000000000aaE(void) {}\n\
         void _ZN4demo4cold17h00000000000000bbE(void) {}\n\
         void aws_lc_0_47_0_sha512_block_data_order_avx(void) {}\n",
    )
    .unwrap();
    let out = dir.join("hot.o");
    let status = Command::new("cc")
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn names_recorded_with_other_hashes_are_resolved_to_the_ones_being_linked() {
    let dir = Scratch::new("resolve");
    let object = object(dir.path());
    let list = dir.path().join("hot-symbols.txt");
    // Recorded by another toolchain: other hashes, a callgrind recursion mark, a name no
    // object defines, and a C symbol (no hash) that must pass through as it is.
    std::fs::write(
        &list,
        "_ZN4demo3hot17hffffffffffffffffE\n\
         _ZN4demo3hot17h1111111111111111E'2\n\
         aws_lc_0_47_0_sha512_block_data_order_avx\n\
         _ZN4demo4gone17h2222222222222222E\n",
    )
    .unwrap();
    run_wrapper(
        dir.path(),
        &[
            object.display().to_string(),
            format!("-Wl,--symbol-ordering-file={}", list.display()),
            "-o".into(),
            "server".into(),
        ],
    );
    let order = std::fs::read_to_string(dir.path().join("order")).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        [
            "_ZN4demo3hot17h00000000000000aaE",
            "aws_lc_0_47_0_sha512_block_data_order_avx",
            "_ZN4demo4gone17h2222222222222222E",
        ]
    );
    // The linker got a resolved copy, not the committed list, and everything else unchanged.
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    let args: Vec<_> = args.lines().collect();
    assert_eq!(args.len(), 4);
    assert_eq!(args[0], object.display().to_string());
    assert!(args[1].starts_with("-Wl,--symbol-ordering-file="));
    assert!(!args[1].ends_with("hot-symbols.txt"));
    assert_eq!(args[2..], ["-o", "server"]);
}

#[test]
fn links_without_an_ordering_file_pass_through_unchanged() {
    let dir = Scratch::new("pass");
    let args = ["-m64", "a b.o", "-Wl,--as-needed", "-o", "out"].map(String::from);
    run_wrapper(dir.path(), &args);
    let seen = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(seen.lines().collect::<Vec<_>>(), args);
    assert!(!dir.path().join("order").exists());
}

#[test]
fn v0_names_match_across_crate_disambiguators_and_the_span_is_measured() {
    let dir = Scratch::new("v0");
    let defined = dir.path().join("defined");
    // `nm -P` lines from one toolchain, the list from another.
    std::fs::write(
        &defined,
        "_RNvMs4_NtCsNEW111_5alloc7raw_vecNtB5_11RawVecInner14grow_amortized T 10 20\n\
         _ZN4demo3hot17h00000000000000aaE T 30 10\n",
    )
    .unwrap();
    let list = dir.path().join("list");
    std::fs::write(
        &list,
        "_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecNtB5_11RawVecInner14grow_amortized\n\
         _ZN4demo3hot17hffffffffffffffffE\n\
         _ZN4demo4gone17h2222222222222222E\n",
    )
    .unwrap();
    let awk = |mode: &str| {
        let out = Command::new("awk")
            .arg("-v")
            .arg(format!("mode={mode}"))
            .arg("-f")
            .arg(root().join("bench/hot_symbols.awk"))
            .arg(&defined)
            .arg(&list)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        awk("resolve").lines().collect::<Vec<_>>(),
        [
            "_RNvMs4_NtCsNEW111_5alloc7raw_vecNtB5_11RawVecInner14grow_amortized",
            "_ZN4demo3hot17h00000000000000aaE",
            "_ZN4demo4gone17h2222222222222222E",
        ]
    );
    assert_eq!(awk("count").trim(), "2");
    // From the first listed function (0x10) to the end of the last (0x30 + 0x10).
    assert_eq!(awk("extent").trim(), "48");
}
