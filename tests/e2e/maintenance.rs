//! fsck, gc, backup and restore, and crash safety: a SIGKILL at any moment loses nothing that
//! was answered 2xx and shows nothing partial.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::s3_support::blobs;
use crate::support::{Server, basic, get, request, sha256_hex, upload, wheel};

fn project(server: &Server) -> (String, String) {
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    (server.project_api("g/p"), basic("__token__", &token))
}

/// The CLI on a data directory with the run's store (local, or its own prefix on S3).
fn wheelhouse(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let storage = crate::s3_support::default_storage(data_dir);
    let out = crate::support::wheelhouse_cmd(data_dir, storage.as_ref())
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every file the index lists is served with the bytes its hash promises; returns the
/// (filename → sha256) listed.
fn check_index(api: &str, auth: &str, name: &str) -> Vec<(String, String)> {
    let page = request(
        "GET",
        &format!("{api}/simple/{name}/"),
        &[
            ("Authorization", auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    if page.status == 404 {
        return Vec::new();
    }
    let json = page.json();
    let mut listed = Vec::new();
    for file in json["files"].as_array().unwrap() {
        let (filename, sha) = (
            file["filename"].as_str().unwrap(),
            file["hashes"]["sha256"].as_str().unwrap(),
        );
        let body = get(&format!("{api}/files/{sha}/{filename}"), Some(auth));
        assert_eq!(body.status, 200, "{filename} listed but not served");
        assert_eq!(
            sha256_hex(&body.body),
            sha,
            "{filename} served with other bytes"
        );
        listed.push((filename.to_string(), sha.to_string()));
    }
    listed
}

#[test]
fn fsck_finds_damage_and_repair_fixes_what_it_safely_can() {
    let server = Server::start();
    let (api, auth) = project(&server);
    let (good, good_bytes) = wheel("solid", "1.0", &[]);
    let (bad, bad_bytes) = wheel("solid", "2.0", &[]);
    for (file, bytes, v) in [(&good, &good_bytes, "1.0"), (&bad, &bad_bytes, "2.0")] {
        assert_eq!(
            upload(&api, Some(&auth), "solid", v, file, bytes, &[]).status,
            201
        );
    }
    let data = server.data_dir().to_path_buf();
    let (ok, out) = wheelhouse(&data, &["fsck"]);
    assert!(ok && out.contains("checked 2 files"), "{out}");

    // Flip a byte of one file, delete the metadata blob of the other.
    let bad_sha = sha256_hex(&bad_bytes);
    blobs::damage(&server, &bad_sha);
    let page = request(
        "GET",
        &format!("{api}/simple/solid/"),
        &[
            ("Authorization", &auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    )
    .json();
    let meta_sha = page["files"][0]["core-metadata"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    blobs::remove(&server, &meta_sha);

    let (ok, out) = wheelhouse(&data, &["fsck"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("corrupt: project 1 file {bad}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "metadata missing or damaged: project 1 file {good}"
        )),
        "{out}"
    );

    let (ok, out) = wheelhouse(&data, &["fsck", "--repair"]);
    assert!(!ok, "a corrupt file cannot be repaired: {out}");
    assert!(
        out.contains("repaired: extracted the metadata") && out.contains("repaired: quarantined"),
        "{out}"
    );
    assert!(blobs::quarantined(&server, &bad_sha));
    let meta = get(
        &format!("{api}/files/{}/{good}.metadata", sha256_hex(&good_bytes)),
        Some(&auth),
    );
    assert_eq!(
        sha256_hex(&meta.body),
        meta_sha,
        "re-extracted metadata has the advertised hash"
    );
    let (_, out) = wheelhouse(&data, &["fsck"]);
    assert!(
        out.contains(&format!("missing: project 1 file {bad}"))
            && !out.contains("metadata missing"),
        "{out}"
    );
}

#[test]
fn gc_removes_only_old_garbage() {
    let server = Server::start();
    let (api, auth) = project(&server);
    let (file, bytes) = wheel("kept", "1.0", &[]);
    assert_eq!(
        upload(&api, Some(&auth), "kept", "1.0", &file, &bytes, &[]).status,
        201
    );
    let data = server.data_dir().to_path_buf();
    let orphan = "ab".repeat(32);
    blobs::put(&server, &orphan, b"garbage", Duration::ZERO);
    std::fs::write(data.join("tmp/upload-left-by-a-crash"), b"partial").unwrap();

    let (ok, out) = wheelhouse(&data, &["fsck"]);
    assert!(ok, "garbage is not damage: {out}");
    assert!(
        out.contains(&format!("unreferenced blob: {orphan}")) && out.contains("temporary file"),
        "{out}"
    );
    let (_, out) = wheelhouse(&data, &["gc"]);
    assert!(
        out.contains("removed 0 unreferenced blobs and 0 temporary files"),
        "young garbage is kept: {out}"
    );
    let (ok, out) = wheelhouse(&data, &["gc", "--grace-seconds", "0"]);
    assert!(
        ok && out.contains("removed 1 unreferenced blobs and 1 temporary files"),
        "{out}"
    );
    assert!(!blobs::exists(&server, &orphan));
    assert_eq!(
        check_index(&api, &auth, "kept").len(),
        1,
        "referenced blobs stay"
    );
}

#[test]
fn backup_under_write_load_restores_to_a_working_server() {
    let server = Server::start();
    let (api, auth) = project(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (api, auth, stop) = (api.clone(), auth.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 400 {
                let version = format!("1.{n}");
                let (file, bytes) = wheel("busy", &version, &[]);
                assert_eq!(
                    upload(&api, Some(&auth), "busy", &version, &file, &bytes, &[]).status,
                    201
                );
                n += 1;
            }
            n
        })
    };
    while server.blob_count() < 20 {
        std::thread::yield_now();
    }
    let backup_dir = tempfile::tempdir().unwrap();
    let dest = backup_dir.path().join("copy");
    let (ok, out) = wheelhouse(server.data_dir(), &["backup", dest.to_str().unwrap()]);
    stop.store(true, Ordering::SeqCst);
    let uploaded = writer.join().unwrap();
    assert!(ok, "{out}");

    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let (ok, out) = wheelhouse(&target, &["restore", dest.to_str().unwrap()]);
    assert!(ok && out.contains("restored"), "{out}");
    let (ok, out) = wheelhouse(&target, &["fsck"]);
    assert!(ok, "{out}");
    // The restored directory serves what the snapshot held: a consistent prefix of the uploads.
    let restored = Server::start_in(
        tempfile::TempDir::new_in(restored_dir.path()).unwrap(),
        &target,
    );
    let listed = check_index(&restored.project_api("g/p"), &auth, "busy");
    assert!(
        !listed.is_empty() && listed.len() <= uploaded,
        "{} of {uploaded}",
        listed.len()
    );
    // A second backup into the same place is refused rather than mixed.
    let (ok, out) = wheelhouse(server.data_dir(), &["backup", dest.to_str().unwrap()]);
    assert!(!ok && out.contains("already holds a backup"), "{out}");
}

#[test]
fn sigkill_during_uploads_loses_nothing_acknowledged() {
    let mut server = Server::start();
    let (_, auth) = project(&server);
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(25);
    for round in 0..4 {
        let api = server.project_api("g/p");
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..6)
            .map(|worker| {
                let (api, auth, stop, acked) = (
                    api.clone(),
                    auth.clone(),
                    stop.clone(),
                    acknowledged.clone(),
                );
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) && n < 200 {
                        let version = format!("{round}.{worker}.{n}");
                        let (file, bytes) = wheel("crashy", &version, &[]);
                        // Connection errors while the server dies are expected; only 2xx counts.
                        let status = std::panic::catch_unwind(|| {
                            upload(&api, Some(&auth), "crashy", &version, &file, &bytes, &[]).status
                        });
                        if let Ok(201) = status {
                            acked.lock().unwrap().push((file, sha256_hex(&bytes)));
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        // Kill at a moment that depends on the round: uploads are in flight by then.
        let wait_for = acknowledged.lock().unwrap().len() + 5 + round * 7;
        while acknowledged.lock().unwrap().len() < wait_for && Instant::now() < deadline {
            std::thread::yield_now();
        }
        server = server.crash_and_restart();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            let _ = w.join();
        }
    }
    let api = server.project_api("g/p");
    let listed = check_index(&api, &auth, "crashy");
    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "too few uploads to prove anything: {}",
        acked.len()
    );
    eprintln!(
        "crash test: {} acknowledged, {} listed",
        acked.len(),
        listed.len()
    );
    for (file, sha) in &acked {
        assert!(
            listed.iter().any(|(f, s)| f == file && s == sha),
            "{file} was answered 201 but is lost"
        );
    }
    let (ok, out) = wheelhouse(server.data_dir(), &["fsck"]);
    assert!(ok, "{out}");
}
