//! The whole end-to-end suite, run once more within the same `cargo test` with the package
//! files on S3 (one moto server on loopback, each data directory under its own prefix), so the
//! README's one test command proves both stores.

use std::process::Command;

use crate::s3_support::s3_mode;

/// What the S3 pass leaves out, and why: nothing whose outcome could depend on the store.
const NOT_AGAIN_ON_S3: &[(&str, &str)] = &[
    (
        "s3::",
        "starts its own S3 servers (moto, rclone): it ran on S3 in the first pass",
    ),
    (
        "drill::",
        "runs on its own moto with Litestream: it ran on S3 in the first pass",
    ),
    (
        "deb::",
        "installs the package system-wide with its packaged configuration; twice is a clash",
    ),
    ("s3_pass::", "this test"),
];

/// The tests of this binary, by name (libtest's `--list`).
fn listed(exe: &std::path::Path) -> Vec<String> {
    let out = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_whole_suite_passes_again_with_the_files_on_s3() {
    if s3_mode() {
        // This run is the S3 pass (or a whole run on S3 by hand): nothing to repeat.
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let expected = listed(&exe)
        .into_iter()
        // libtest's `--skip` matches anywhere in the name.
        .filter(|name| !NOT_AGAIN_ON_S3.iter().any(|(p, _)| name.contains(p)))
        .count();
    // The pass is a whole load of its own: no other heavy test beside it.
    let _heavy = crate::support::heavy();
    let mut pass = Command::new(&exe);
    pass.env("WHEELHOUSE_TEST_STORE", "s3");
    for (prefix, _why) in NOT_AGAIN_ON_S3 {
        pass.args(["--skip", prefix]);
    }
    let out = pass.args(["--test-threads", "2"]).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("test result") || l.contains("FAILED") || l.contains("panicked"))
        .collect();
    println!("S3 pass: {}", summary.join("\n"));
    assert!(out.status.success(), "the S3 pass failed:\n{said}");
    let ran = said.lines().filter(|l| l.ends_with(" ... ok")).count();
    assert_eq!(ran, expected, "not every test ran on S3:\n{said}");
}
