//! The README's operations under load: a backup while files are deleted completes against its
//! snapshot (and carries DATA/tls), and `gc --grace-seconds 0` beside uploads in flight takes
//! nothing they staged.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Server, basic, big_wheel, cli_output, eventually, get, multipart, request, sha256_hex, upload,
    wheel,
};

/// A private project `g/p` with a maintainer's token; returns (pypi API, Basic auth).
fn project(server: &Server) -> (String, String) {
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    (server.project_api("g/p"), basic("__token__", &token))
}

/// Every package of `g/p` as (id, name).
fn packages(server: &Server, auth: &str) -> Vec<(i64, String)> {
    let list = get(
        &server.url("/api/v4/projects/g%2Fp/packages?per_page=100"),
        Some(auth),
    );
    assert_eq!(list.status, 200, "{}", list.text());
    list.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            (p["id"].as_i64().unwrap(), name)
        })
        .collect()
}

/// Every file the index lists for every package is served with the bytes its hash promises;
/// returns how many files that was.
fn serves_every_listed_file(server: &Server, auth: &str) -> usize {
    let api = server.project_api("g/p");
    let mut files = 0;
    for (_, name) in packages(server, auth) {
        let page = request(
            "GET",
            &format!("{api}/simple/{name}/"),
            &[
                ("Authorization", auth),
                ("Accept", "application/vnd.pypi.simple.v1+json"),
            ],
        );
        assert_eq!(page.status, 200, "{name}: {}", page.text());
        let page: Value = page.json();
        for file in page["files"].as_array().unwrap() {
            let (filename, sha) = (
                file["filename"].as_str().unwrap(),
                file["hashes"]["sha256"].as_str().unwrap(),
            );
            let body = get(&format!("{api}/files/{sha}/{filename}"), Some(auth));
            assert_eq!(body.status, 200, "{filename} listed but not served");
            assert_eq!(sha256_hex(&body.body), sha, "{filename} with other bytes");
            files += 1;
        }
    }
    files
}

/// Blobs copied into a backup so far.
fn copied(dest: &std::path::Path) -> usize {
    let Ok(level1) = std::fs::read_dir(dest.join("blobs/sha256")) else {
        return 0;
    };
    level1
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .count()
}

#[test]
fn a_backup_completes_against_its_snapshot_while_files_are_deleted() {
    let server = Server::start();
    let (api, auth) = project(&server);
    // Files large enough that copying them takes a while, so deletes land during the copy.
    const FILES: usize = 12;
    for i in 0..FILES {
        let name = format!("churn{i}");
        let (file, bytes) = big_wheel(&name, 1 << 20);
        let sent = upload(&api, Some(&auth), &name, "1.0", &file, &bytes, &[]);
        assert_eq!(sent.status, 201, "{}", sent.text());
    }
    server.cli(&["tls", "self-signed", "--host", "127.0.0.1"]);
    let mut ids: Vec<i64> = packages(&server, &auth)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), FILES);
    // Newest first: the backup copies oldest first, so the deletes meet blobs still to copy.
    ids.sort_unstable_by(|a, b| b.cmp(a));

    // Once the backup has taken its snapshot and started copying, its packages are deleted
    // one after another (each once: bounded), as fast as the server takes them.
    let deleted = AtomicUsize::new(0);
    let backup_dir = tempfile::tempdir().unwrap();
    let dest = backup_dir.path().join("copy");
    let (out, during) = std::thread::scope(|s| {
        let deleter = s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while copied(&dest) == 0 && Instant::now() < deadline {
                std::thread::yield_now();
            }
            for id in &ids {
                let url = server.url(&format!("/api/v4/projects/g%2Fp/packages/{id}"));
                let gone = request("DELETE", &url, &[("Authorization", &auth)]);
                assert_eq!(gone.status, 204, "{}", gone.text());
                deleted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let out = cli_output(server.data_dir(), &["backup", dest.to_str().unwrap()], None);
        let during = deleted.load(Ordering::SeqCst);
        deleter.join().unwrap();
        (out, during)
    });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    println!("{during} packages deleted while the backup ran: {said}");
    assert!(during > 0, "no delete overlapped the backup");
    assert!(said.contains(&format!("backed up {FILES} files")), "{said}");

    // What the deletes left while the backup held the blobs is garbage, not damage.
    let fsck = cli_output(server.data_dir(), &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
    let gc = server.cli(&["gc", "--grace-seconds", "0"]);
    assert!(gc.starts_with("removed "), "{gc}");
    assert_eq!(server.blob_count(), 0, "{gc}");

    // The copy restores to a registry that serves every file of its snapshot, and the TLS
    // certificate and key.
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let restore = cli_output(&target, &["restore", dest.to_str().unwrap()], None);
    assert!(restore.status.success(), "{restore:?}");
    for file in ["cert.pem", "key.pem"] {
        assert_eq!(
            std::fs::read(target.join("tls").join(file)).ok(),
            std::fs::read(server.data_dir().join("tls").join(file)).ok(),
            "{file} restored"
        );
    }
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(target.join("tls/key.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600, "the key stays the owner's alone");
    let restored = Server::start_in(
        tempfile::TempDir::new_in(restored_dir.path()).unwrap(),
        &target,
    );
    assert_eq!(serves_every_listed_file(&restored, &auth), FILES);
}

/// An upload sent by hand up to `split` bytes of its body, the rest sent later.
struct PausedUpload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl PausedUpload {
    fn start(server: &Server, api: &str, auth: &str, name: &str) -> PausedUpload {
        let (filename, bytes) = wheel(name, "1.0", &[]);
        let fields = [
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", name),
            ("version", "1.0"),
        ];
        let (content_type, body) = multipart(&fields, Some((&filename, &bytes)));
        let path = api.strip_prefix(&server.base).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server.addr(),
            body.len()
        );
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        // Past the form fields, into the file: its temporary file exists now.
        let split = body.len() - bytes.len() / 2;
        stream.write_all(&body[..split]).unwrap();
        stream.flush().unwrap();
        PausedUpload {
            stream,
            rest: body[split..].to_vec(),
        }
    }

    /// Sends the rest; returns the status line.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).unwrap();
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).unwrap();
        answer.lines().next().unwrap_or_default().to_string()
    }
}

#[test]
fn gc_with_no_grace_takes_nothing_from_uploads_in_flight() {
    let server = Server::start();
    let (api, auth) = project(&server);
    const IN_FLIGHT: usize = 9;
    let paused: Vec<PausedUpload> = (0..IN_FLIGHT)
        .map(|i| PausedUpload::start(&server, &api, &auth, &format!("inflight{i}")))
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || server.tmp_files() >= IN_FLIGHT),
        "{} temporary files",
        server.tmp_files()
    );
    let started = Instant::now();
    let gc = server.cli(&["gc", "--grace-seconds", "0"]);
    assert!(
        gc.contains("and 0 temporary files"),
        "an upload's spool was taken: {gc}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    for (i, upload) in paused.into_iter().enumerate() {
        let status = upload.finish();
        assert!(status.contains(" 201 "), "inflight{i}: {status}");
    }
    assert_eq!(serves_every_listed_file(&server, &auth), IN_FLIGHT);
    assert_eq!(server.tmp_files(), 0);
    // Left by a crash (nobody holds it), a temporary file is still garbage.
    std::fs::write(server.data_dir().join("tmp/upload-left-by-a-crash"), b"x").unwrap();
    let gc = server.cli(&["gc", "--grace-seconds", "0"]);
    assert!(gc.contains("and 1 temporary files"), "{gc}");
}
