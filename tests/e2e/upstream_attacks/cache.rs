//! The upstream cache under load and maintenance: evictions racing downloads, a thousand
//! fetches at once, fsck, gc, backup and restore.

use super::*;

/// `wheelhouse --data-dir DIR ARGS…`: whether it succeeded, and all it printed.
fn offline(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = cli_output(data_dir, args, None);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn fsck_backup_and_restore_keep_a_populated_upstream_cache_working() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    let wheel = noise("kept", 100_000);
    let metadata = b"Metadata-Version: 2.1\nName: kept\nVersion: 1.0\n".to_vec();
    let filename = "kept-1.0-py3-none-any.whl";
    project_with_metadata(&fake, "kept", filename, &wheel, &metadata, &metadata);
    let url = file_urls(&index, "kept")[0].clone();
    assert!(get(&url, None).body == wheel);
    assert_eq!(get(&format!("{url}.metadata"), None).body, metadata);

    let (ok, out) = offline(down.data_dir(), &["fsck"]);
    assert!(ok, "fsck of a populated cache: {out}");
    let (ok, out) = offline(down.data_dir(), &["gc"]);
    assert!(ok, "gc with no cap: {out}");
    assert!(get(&url, None).body == wheel, "gc without a cap evicted");

    let backup = tempfile::tempdir().unwrap();
    let dest = backup.path().join("copy");
    let (ok, out) = offline(down.data_dir(), &["backup", dest.to_str().unwrap()]);
    assert!(ok, "{out}");
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let (ok, out) = offline(&target, &["restore", dest.to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = offline(&target, &["fsck"]);
    assert!(ok, "fsck after a restore: {out}");
    let restored = Server::start_in_with(
        tempfile::TempDir::new_in(restored_dir.path()).unwrap(),
        &target,
        &["--upstream-allow-private-networks"],
    );
    let url = url.replace(&down.url(""), &restored.url(""));
    let resp = get(&url, None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body == wheel);
    let resp = get(&format!("{url}.metadata"), None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, metadata);
    let (ok, out) = offline(&target, &["fsck"]);
    assert!(ok, "fsck after re-fetching: {out}");
}

#[test]
fn downloads_racing_evictions_get_their_bytes_never_a_500() {
    let fake = FakeUpstream::start();
    let config = tempfile::NamedTempFile::new().unwrap();
    // Room for one file of two: each fetch evicts the other.
    std::fs::write(config.path(), "upstream_cache_max_size = \"100KiB\"\n").unwrap();
    let down = Server::start_with(&[
        "--upstream-allow-private-networks",
        "--config",
        config.path().to_str().unwrap(),
    ]);
    let index = group_with(&down, "g", &fake);
    let files: Vec<(String, Vec<u8>)> = ["churn-1.0", "churn-2.0"]
        .iter()
        .map(|stem| {
            let name = format!("{stem}-py3-none-any.whl");
            (name.clone(), noise(&name, 80_000))
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    fake.project("churn", &listed);
    let urls = file_urls(&index, "churn");
    let deadline = Instant::now() + Duration::from_secs(5);
    std::thread::scope(|s| {
        for worker in 0..6 {
            let (urls, files) = (&urls, &files);
            s.spawn(move || {
                let mut n = worker;
                while Instant::now() < deadline {
                    let i = n % 2;
                    let resp = get(&urls[i], None);
                    assert_eq!(resp.status, 200, "{}", resp.text());
                    assert!(resp.body == files[i].1, "other bytes for {}", files[i].0);
                    n += 1;
                }
            });
        }
    });
}

#[test]
fn a_thousand_different_uncached_files_at_once_are_each_fetched_once() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    let files: Vec<(String, Vec<u8>)> = (0..1000)
        .map(|i| {
            let name = format!("crowd-1.{i}-py3-none-any.whl");
            (name.clone(), noise(&name, 1000))
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    fake.project("crowd", &listed);
    let urls = file_urls(&index, "crowd");
    let by_name: std::collections::HashMap<&str, &[u8]> = listed.iter().copied().collect();
    let started = Instant::now();
    let gate = std::sync::Barrier::new(urls.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = urls
            .iter()
            .map(|url| {
                let gate = &gate;
                s.spawn(move || {
                    gate.wait();
                    (url, get(url, None))
                })
            })
            .collect();
        for handle in handles {
            let (url, resp) = handle.join().unwrap();
            assert_eq!(resp.status, 200, "{url}: {}", resp.text());
            let name = url.rsplit('/').next().unwrap();
            assert!(resp.body == by_name[name], "{name}: other bytes");
        }
    });
    eprintln!("1000 uncached files at once: {:?}", started.elapsed());
    for (name, _) in &files {
        assert_eq!(fake.hits(&format!("/files/{name}")), 1, "{name}");
    }
}
