//! The modules that store, serve, check or remove package files, run once more within the
//! same `cargo test` with the files on S3 (one moto server on loopback, each data directory
//! under its own prefix), so the README's one test command covers both stores.
//!
//! Left out on S3: the 50-uploader stress test (each commit waits for a HEAD on moto, a Python
//! server, and the writers queue past SQLite's busy timeout) and the gc race, which dates
//! planted blobs back, something an object store does not allow (`s3::refused_uploads_…` and
//! the fsck/gc test cover S3's side of those rules).

use std::process::Command;

use crate::s3_support::s3_mode;

/// What runs again on S3: libtest filters, then the skips.
const ON_S3: &[&str] = &[
    "uploads::",
    "clients::",
    "races::",
    "maintenance::",
    "modern::",
    "robustness::a_large_upload",
    "robustness::a_broken_upload",
    "--skip",
    "races::gc_never_collects_a_blob_an_upload_adopts",
];

#[test]
fn the_file_modules_pass_again_with_the_files_on_s3() {
    if s3_mode() {
        // The whole suite already runs on S3 (WHEELHOUSE_TEST_STORE=s3 cargo test): the
        // modules below are in it, so a pass of their own would only run them twice.
        return;
    }
    // The pass is a whole load of its own: no other heavy test beside it.
    let _heavy = crate::support::heavy();
    let out = Command::new(std::env::current_exe().unwrap())
        .env("WHEELHOUSE_TEST_STORE", "s3")
        .args(ON_S3)
        .args(["--test-threads", "2"])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("test result") || l.contains("FAILED") || l.contains("panicked"))
        .collect();
    println!("S3 pass: {}", summary.join("\n"));
    assert!(out.status.success(), "the S3 pass failed:\n{said}");
    let ran = said.lines().filter(|l| l.ends_with(" ... ok")).count();
    assert!(ran >= 20, "only {ran} tests ran on S3:\n{said}");
}
