//! Wheelhouse beside Litestream: `serve` says whether the database settings suit it, and
//! `restore` refuses a directory holding an earlier database's WAL or Litestream state.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// Starts `serve` on `data_dir` until it listens, stops it, and returns what it logged.
fn startup_log(data_dir: &Path, args: &[&str]) -> String {
    let log_path = data_dir.with_extension("log");
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("WHEELHOUSE_LITESTREAM")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let listening = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .any(|line| line.starts_with("Wheelhouse listening on "));
    let _ = child.kill();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(listening, "serve did not start:\n{log}");
    log
}

#[test]
fn serve_says_whether_the_database_settings_suit_litestream() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    // Asked for, before Litestream ever ran: nothing streams the database yet.
    let log = startup_log(&data, &["--litestream"]);
    assert!(
        log.contains("has not replicated this database yet"),
        "{log}"
    );
    // Litestream replicates it, but Wheelhouse was not told: its checkpoints could race.
    std::fs::create_dir(data.join(".wheelhouse.db-litestream")).unwrap();
    let log = startup_log(&data, &[]);
    assert!(
        log.contains("set `litestream = true`") && log.contains(".wheelhouse.db-litestream"),
        "{log}"
    );
    // Told in the config file: checkpoints are Litestream's, and all is well.
    let config = root.path().join("wheelhouse.toml");
    std::fs::write(&config, "litestream = true\n").unwrap();
    let log = startup_log(&data, &["--config", config.to_str().unwrap()]);
    assert!(log.contains("database settings suit Litestream"), "{log}");
    assert!(!log.contains("WARN"), "{log}");
}

#[test]
fn restore_refuses_leftovers_of_an_earlier_database() {
    let server = Server::start();
    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("copy");
    server.cli(&["backup", dest.to_str().unwrap()]);
    for leftover in ["wheelhouse.db-wal", ".wheelhouse.db-litestream"] {
        let target = tempfile::tempdir().unwrap();
        let path = target.path().join(leftover);
        if leftover.ends_with("litestream") {
            std::fs::create_dir(&path).unwrap();
        } else {
            std::fs::write(&path, b"stale").unwrap();
        }
        let out = cli_output(target.path(), &["restore", dest.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(leftover),
            "{stderr}"
        );
        assert!(!target.path().join("wheelhouse.db").exists());
    }
}
