//! Package files on S3-compatible object storage (moto's server, and `rclone serve s3` as a
//! second implementation): the clients through streaming and redirected downloads, refused
//! uploads leaving nothing, fsck, gc, backup and restore, migration, and an unreachable bucket.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use wheelhouse::blobs::Sha256Hex;
use wheelhouse::config::{StorageConfig, StorageKind};

use crate::s3_support::{S3Server, moto, prefix_for};
use crate::support::{
    Server, basic, client, dist_dir, get, request, run_ok, sdist, sha256_hex, upload, wheel,
    with_credentials,
};

/// A fresh prefix in the shared moto server.
fn fresh_storage(label: &str) -> StorageConfig {
    let dir = tempfile::tempdir().unwrap();
    moto().storage(&format!("{label}/{}", prefix_for(dir.path())))
}

/// A private project `g/p` and a maintainer's token: (upload URL, Basic auth, token).
fn project(server: &Server) -> (String, String, String) {
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    (server.project_api("g/p"), basic("__token__", &token), token)
}

fn twine_upload(url: &str, token: &str, dir: &Path) {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args(["--repository-url", url, "-u", "__token__", "-p", token])
            .args(&files),
    );
}

/// pip installs `requirement` from the project's index into a fresh target; returns pip's output.
fn pip_install(server: &Server, token: &str, requirement: &str) -> String {
    let index = with_credentials(
        &format!("{}/simple", server.project_api("g/p")),
        "__token__",
        token,
    );
    let target = tempfile::tempdir().unwrap();
    let out = run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, requirement]),
    );
    assert!(out.contains("Successfully installed"), "{out}");
    out
}

fn uv_install(server: &Server, token: &str, requirement: &str) {
    let venv = tempfile::tempdir().unwrap();
    run_ok(
        client("uv")
            .args(["venv", "--quiet"])
            .arg(venv.path().join("v")),
    );
    let index = with_credentials(
        &format!("{}/simple", server.project_api("g/p")),
        "__token__",
        token,
    );
    let out = run_ok(
        client("uv")
            .args(["pip", "install", "--python"])
            .arg(venv.path().join("v/bin/python"))
            .args(["--index-url", &index, requirement]),
    );
    assert!(out.contains(requirement), "{out}");
}

fn objects(server: &Server) -> Vec<String> {
    let mut names: Vec<_> = server
        .store()
        .list()
        .unwrap()
        .into_iter()
        .map(|(sha, _)| sha.as_str().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn twine_pip_and_uv_round_trip_on_s3_streamed_and_redirected() {
    for redirect in [false, true] {
        let storage = StorageConfig {
            redirect_downloads: redirect,
            ..fresh_storage("clients")
        };
        let server = Server::start_on(Some(storage), &[]);
        let (api, auth, token) = project(&server);
        let dists = dist_dir(&[
            wheel("s3-base", "1.0", &[]),
            wheel("s3-app", "2.0", &["s3-base>=1.0"]),
            sdist("s3-app", "2.0"),
        ]);
        twine_upload(&api, &token, dists.path());
        // Files and their extracted metadata: all in the bucket, nothing in DATA/blobs.
        assert_eq!(objects(&server).len(), 6, "redirect={redirect}");
        assert!(!server.data_dir().join("blobs/sha256/00").exists());
        assert_eq!(server.tmp_files(), 0);
        pip_install(&server, &token, "s3-app");
        uv_install(&server, &token, "s3-app==2.0");

        let (filename, bytes) = wheel("s3-base", "1.0", &[]);
        let url = format!("{api}/files/{}/{filename}", sha256_hex(&bytes));
        let whole = get(&url, Some(&auth));
        if redirect {
            assert_eq!(whole.status, 302);
            let location = whole.header("location").unwrap();
            assert!(location.starts_with(&moto().endpoint), "{location}");
            assert!(location.contains("X-Amz-Signature"), "{location}");
            // The presigned URL needs no credentials, and the bucket answers Range itself.
            let fetched = request("GET", location, &[("Range", "bytes=0-9")]);
            assert_eq!(fetched.status, 206);
            assert_eq!(fetched.body, bytes[..10]);
        } else {
            assert_eq!(whole.status, 200);
            assert_eq!(whole.body, bytes);
            let head = request("HEAD", &url, &[("Authorization", &auth)]);
            assert_eq!(head.status, 200);
            assert_eq!(
                head.header("content-length"),
                Some(bytes.len().to_string().as_str())
            );
            let part = request(
                "GET",
                &url,
                &[("Authorization", &auth), ("Range", "bytes=10-19")],
            );
            assert_eq!(part.status, 206);
            assert_eq!(part.body, bytes[10..20]);
            let tail = request(
                "GET",
                &url,
                &[("Authorization", &auth), ("Range", "bytes=-5")],
            );
            assert_eq!(tail.body, bytes[bytes.len() - 5..]);
        }
    }
}

#[test]
fn refused_uploads_leave_no_object_in_the_bucket() {
    let server = Server::start_on(Some(fresh_storage("refused")), &[]);
    let (api, auth, _) = project(&server);
    let (filename, bytes) = wheel("dup", "1.0", &[]);
    let first = upload(&api, Some(&auth), "dup", "1.0", &filename, &bytes, &[]);
    assert_eq!(first.status, 201, "{}", first.text());
    let before = objects(&server);
    assert_eq!(before.len(), 2);

    // A digest that does not match: refused before anything reaches the bucket.
    let (other_name, other) = wheel("other", "1.0", &[]);
    let wrong = "0".repeat(64);
    let bad = upload(
        &api,
        Some(&auth),
        "other",
        "1.0",
        &other_name,
        &other,
        &[("sha256_digest", &wrong)],
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    // The same filename with other bytes: refused under the write lock, after the copy was
    // sent to the bucket, which is then removed again.
    let (_, changed) = wheel("dup", "1.0", &["something-else"]);
    let dup = upload(&api, Some(&auth), "dup", "1.0", &filename, &changed, &[]);
    assert_eq!(dup.status, 400, "{}", dup.text());
    assert!(dup.text().contains("File already exists"), "{}", dup.text());
    assert_eq!(objects(&server), before, "a refused upload left an object");
    assert_eq!(server.tmp_files(), 0);
}

/// The multipart uploads the bucket holds in progress under the server's prefix, as (key,
/// upload id) (moto answers unsigned requests).
fn uploads_in_progress(server: &Server) -> Vec<(String, String)> {
    let storage = server.storage().unwrap();
    let bucket = format!(
        "{}/{}",
        storage.endpoint.as_deref().unwrap(),
        storage.bucket.as_deref().unwrap()
    );
    let url = format!("{bucket}?uploads&prefix={}/", storage.prefix);
    let listed = crate::support::send("GET", &url, &[], vec![]);
    assert_eq!(listed.status, 200, "{}", listed.text());
    let between = |text: &str, tag: &str| -> String {
        let open = format!("<{tag}>");
        let rest = &text[text.find(&open).unwrap() + open.len()..];
        rest[..rest.find(&format!("</{tag}>")).unwrap()].to_string()
    };
    listed
        .text()
        .split("<Upload>")
        .skip(1)
        .map(|upload| (between(upload, "Key"), between(upload, "UploadId")))
        .collect()
}

/// How many parts a multipart upload in progress holds.
fn parts_of(server: &Server, key: &str, upload_id: &str) -> usize {
    let storage = server.storage().unwrap();
    let url = format!(
        "{}/{}/{key}?uploadId={upload_id}",
        storage.endpoint.as_deref().unwrap(),
        storage.bucket.as_deref().unwrap()
    );
    let listed = crate::support::send("GET", &url, &[], vec![]);
    assert_eq!(listed.status, 200, "{}", listed.text());
    listed.text().matches("<Part>").count()
}

fn until(what: &str, done: impl FnMut() -> bool) {
    let limit = std::time::Duration::from_secs(15);
    assert!(crate::support::eventually(limit, done), "never: {what}");
}

/// Uploads `file` for `name` claiming `claim` as its sha256, pausing halfway until a part of
/// it is in the bucket under the claimed digest's key; the server's answer.
fn upload_pausing_until_a_part_streamed(
    server: &Server,
    auth: &str,
    name: &str,
    claim: &str,
    (filename, bytes): (&str, &[u8]),
) -> String {
    use std::io::{Read, Write};
    let fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", "1.0"),
        ("sha256_digest", claim),
    ];
    let (content_type, body) = crate::support::multipart(&fields, Some((filename, bytes)));
    let api = server.project_api("g/p");
    let path = api.splitn(4, '/').nth(3).unwrap();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: \
         {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr(),
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    until(
        &format!("a part of {name} in the bucket while the client pauses"),
        || {
            uploads_in_progress(server)
                .iter()
                .any(|(key, id)| key.ends_with(claim) && parts_of(server, key, id) > 0)
        },
    );
    stream.write_all(&body[body.len() / 2..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A large upload goes on to the bucket while it arrives: with the client paused halfway, a
/// part is already in a multipart upload under the digest it claimed, which is completed once
/// the file is checked. A false claim, or a true one for a refused file, streams too and is
/// aborted: no object and no upload in progress is left behind.
#[test]
fn a_large_upload_streams_to_the_bucket_as_it_arrives_and_refusals_leave_nothing() {
    let server = Server::start_on(Some(fresh_storage("streamed")), &[]);
    let (api, auth, _) = project(&server);
    let (filename, bytes) = crate::support::big_wheel("streamy", 12 << 20);
    let sha = sha256_hex(&bytes);
    let answer =
        upload_pausing_until_a_part_streamed(&server, &auth, "streamy", &sha, (&filename, &bytes));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(objects(&server).contains(&sha));
    assert_eq!(uploads_in_progress(&server), vec![]);
    let file = get(&format!("{api}/files/{sha}/{filename}"), Some(&auth));
    assert!(file.body == bytes, "other bytes came back");

    // A false claim: the digest of no stored file, for other bytes.
    let (liar_name, liar) = crate::support::big_wheel("liar", 11 << 20);
    let false_claim = sha256_hex(b"something else entirely");
    let answer = upload_pausing_until_a_part_streamed(
        &server,
        &auth,
        "liar",
        &false_claim,
        (&liar_name, &liar),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("sha256_digest"), "{answer}");
    // A true claim for a file the index refuses (its metadata names another project).
    let (named_name, named) = crate::support::big_wheel("named", 11 << 20);
    let renamed = named_name.replace("named", "other");
    let answer = upload_pausing_until_a_part_streamed(
        &server,
        &auth,
        "other",
        &sha256_hex(&named),
        (&renamed, &named),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    until("the refused uploads' multipart uploads aborted", || {
        uploads_in_progress(&server).is_empty()
    });
    let left = objects(&server);
    assert_eq!(
        left.len(),
        2,
        "only the accepted file and its metadata: {left:?}"
    );
    assert_eq!(server.tmp_files(), 0);
}

#[test]
fn fsck_finds_missing_and_corrupt_objects_and_gc_removes_orphans() {
    let server = Server::start_on(Some(fresh_storage("fsck")), &[]);
    let (api, auth, _) = project(&server);
    let mut shas = Vec::new();
    for name in ["gone", "bent", "fine"] {
        let (filename, bytes) = wheel(name, "1.0", &[]);
        let resp = upload(&api, Some(&auth), name, "1.0", &filename, &bytes, &[]);
        assert_eq!(resp.status, 201, "{}", resp.text());
        shas.push(Sha256Hex::parse(&sha256_hex(&bytes)).unwrap());
    }
    assert!(server.cli(&["fsck"]).contains("checked 3 files"));
    let store = server.store();
    let bucket = store.s3().unwrap();
    bucket.delete(&shas[0]).unwrap();
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), b"not the wheel").unwrap();
    bucket.put_file(other.path(), &shas[1]).unwrap();

    // A download of the missing object is a clean error (the log names the blob), whole (one
    // GET) or in part (HEAD first), never a 200 that breaks off.
    let gone_url = format!("{api}/files/{}/gone-1.0-py3-none-any.whl", shas[0].as_str());
    let whole = get(&gone_url, Some(&auth));
    assert_eq!(whole.status, 500, "{}", whole.text());
    let part = crate::support::request(
        "GET",
        &gone_url,
        &[("Authorization", auth.as_str()), ("Range", "bytes=0-9")],
    );
    assert_eq!(part.status, 500, "{}", part.text());

    let found = server.cli_fails(&["fsck"]);
    assert!(found.contains("damaged"), "{found}");
    let repair = server
        .command()
        .args(["fsck", "--repair"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&repair.stdout).to_string();
    assert!(
        !repair.status.success(),
        "a missing file is still damage: {out}"
    );
    assert!(
        out.contains("missing: project 1 file gone-1.0-py3-none-any.whl"),
        "{out}"
    );
    assert!(out.contains("corrupt: project 1 file bent-1.0"), "{out}");
    assert!(
        out.contains("repaired: quarantined project 1 file bent-1.0-py3-none-any.whl to fsck/"),
        "{out}"
    );
    assert!(
        bucket.head(&shas[1]).unwrap().is_none(),
        "the corrupt object is still served"
    );
    assert!(bucket.head(&shas[2]).unwrap().is_some());

    // An orphan object (a crash between the copy and the commit): gc removes it, and only it.
    let orphan_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(orphan_file.path(), b"orphan").unwrap();
    let orphan = Sha256Hex::parse(&sha256_hex(b"orphan")).unwrap();
    bucket.put_file(orphan_file.path(), &orphan).unwrap();
    let before = objects(&server).len();
    let out = server.cli(&["gc", "--grace-seconds", "0"]);
    assert!(out.contains("removed 1 unreferenced blobs"), "{out}");
    assert!(bucket.head(&orphan).unwrap().is_none());
    assert_eq!(objects(&server).len(), before - 1);
    let fine = get(
        &format!("{api}/files/{}/fine-1.0-py3-none-any.whl", shas[2].as_str()),
        Some(&auth),
    );
    assert_eq!(fine.status, 200);
    let ready = get(&server.url("/-/readiness"), None);
    assert_eq!(
        ready.status,
        200,
        "a reachable bucket is ready: {}",
        ready.text()
    );
    let (_, fine_bytes) = wheel("fine", "1.0", &[]);
    assert!(
        fine.body == fine_bytes,
        "the one-GET download sent other bytes"
    );
}

#[test]
fn backup_of_an_s3_registry_restores_into_another_bucket_prefix() {
    let server = Server::start_on(Some(fresh_storage("backup")), &[]);
    let (api, auth, token) = project(&server);
    let dists = dist_dir(&[wheel("kept", "1.0", &[]), sdist("kept", "1.0")]);
    twine_upload(&api, &token, dists.path());
    let dest = tempfile::tempdir().unwrap();
    let out = server.cli(&["backup", &dest.path().join("b").display().to_string()]);
    assert!(out.contains("backed up 2 files (4 blobs copied)"), "{out}");

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let restored_storage = fresh_storage("restored");
    let restore = crate::support::wheelhouse_cmd(&data, Some(&restored_storage))
        .args(["restore", &dest.path().join("b").display().to_string()])
        .output()
        .unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    drop(server);
    let restored = Server::start_in_on(target, &data, Some(restored_storage), &[]);
    assert_eq!(objects(&restored).len(), 4);
    assert!(!data.join("blobs/sha256").read_dir().unwrap().any(|_| true));
    pip_install(&restored, &token, "kept==1.0");
    let (filename, bytes) = wheel("kept", "1.0", &[]);
    let restored_api = restored.project_api("g/p");
    let file = get(
        &format!("{restored_api}/files/{}/{filename}", sha256_hex(&bytes)),
        Some(&auth),
    );
    assert_eq!(file.body, bytes);
}

/// `storage migrate --to s3` while the server serves (an upload lands during the copy), a
/// second run for what came meanwhile, a restart on S3: everything installs from the bucket.
#[test]
fn migrate_local_to_s3_while_serving_then_restart_on_s3() {
    let server = Server::start_on(None, &[]);
    let (api, auth, token) = project(&server);
    for i in 0..3 {
        let (filename, bytes) = wheel("moved", &format!("1.{i}"), &[]);
        let resp = upload(
            &api,
            Some(&auth),
            "moved",
            &format!("1.{i}"),
            &filename,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let target = StorageConfig {
        kind: StorageKind::Local,
        ..fresh_storage("migrate")
    };
    let mut copy = crate::support::wheelhouse_cmd(server.data_dir(), Some(&target))
        .args(["storage", "migrate", "--to", "s3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (filename, bytes) = wheel("moved", "2.0", &[]);
    let during = upload(&api, Some(&auth), "moved", "2.0", &filename, &bytes, &[]);
    assert_eq!(during.status, 201, "{}", during.text());
    assert!(copy.wait().unwrap().success());
    let again = crate::support::cli_output_on(
        server.data_dir(),
        Some(&target),
        &["storage", "migrate", "--to", "s3"],
        None,
    );
    let again = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.contains(" 0 corrupt"), "{again}");
    assert!(again.contains("already there"), "{again}");

    let on_s3 = StorageConfig {
        kind: StorageKind::S3,
        ..target
    };
    let server = server.restart_on(Some(on_s3));
    assert_eq!(objects(&server).len(), 8);
    pip_install(&server, &token, "moved==2.0");
    pip_install(&server, &token, "moved==1.1");
    assert!(server.cli(&["fsck"]).contains("checked 4 files"));
}

#[test]
fn an_interrupted_migration_resumes_where_it_stopped() {
    let server = Server::start_on(None, &[]);
    let (api, auth, _) = project(&server);
    for i in 0..12 {
        let (filename, bytes) = wheel("many", &format!("0.{i}"), &[]);
        let resp = upload(
            &api,
            Some(&auth),
            "many",
            &format!("0.{i}"),
            &filename,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let target = StorageConfig {
        kind: StorageKind::Local,
        ..fresh_storage("resume")
    };
    let mut first = crate::support::wheelhouse_cmd(server.data_dir(), Some(&target))
        .args(["storage", "migrate", "--to", "s3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("copied "), "{line}");
    first.kill().unwrap();
    first.wait().unwrap();

    let second = crate::support::cli_output_on(
        server.data_dir(),
        Some(&target),
        &["storage", "migrate", "--to", "s3"],
        None,
    );
    let text = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(second.status.success(), "{text}");
    let summary = text.lines().last().unwrap();
    let copied: usize = summary.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(copied < 24, "nothing was resumed: {summary}");
    assert!(!summary.contains(" 0 already there"), "{summary}");
    let local = server.store().list().unwrap().len();
    let bucket = crate::s3_support::store_of(
        server.data_dir(),
        Some(&StorageConfig {
            kind: StorageKind::S3,
            ..target
        }),
    );
    assert_eq!(bucket.list().unwrap().len(), local);
    assert_eq!(local, 24);
}

/// A second, independent S3 implementation: rclone's.
#[test]
fn rclone_serve_s3_holds_a_registry_too() {
    let root = tempfile::tempdir().unwrap();
    let rclone = S3Server::rclone(root.path());
    let server = Server::start_on(Some(rclone.storage("wh")), &[]);
    let (api, _, token) = project(&server);
    let dists = dist_dir(&[wheel("via-rclone", "1.0", &[]), sdist("via-rclone", "1.0")]);
    twine_upload(&api, &token, dists.path());
    pip_install(&server, &token, "via-rclone");
    let on_disk = walk(&root.path().join(crate::s3_support::BUCKET).join("wh"));
    assert_eq!(
        on_disk, 4,
        "rclone's directory holds the files and their metadata"
    );
    assert!(server.cli(&["fsck"]).contains("checked 2 files"));
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The bucket unreachable: uploads answer 503 naming the storage, nothing is listed, the
/// server keeps serving.
#[test]
fn an_unreachable_bucket_answers_503_and_stores_nothing() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let storage = StorageConfig {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..fresh_storage("dead")
    };
    let server = Server::start_on(Some(storage), &[]);
    let (api, auth, _) = project(&server);
    let (filename, bytes) = wheel("lost", "1.0", &[]);
    let resp = upload(&api, Some(&auth), "lost", "1.0", &filename, &bytes, &[]);
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(resp.text().contains("object storage"), "{}", resp.text());
    assert_eq!(resp.header("retry-after"), Some("1"));
    let listed = get(&format!("{api}/simple/lost/"), Some(&auth));
    assert_eq!(listed.status, 404, "{}", listed.text());
    assert_eq!(server.tmp_files(), 0);
    assert_eq!(get(&format!("{api}/simple/"), Some(&auth)).status, 200);
    // Readiness says so (liveness does not: the process is fine).
    let ready = get(&server.url("/-/readiness"), None);
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(ready.text().contains("object storage"), "{}", ready.text());
    assert_eq!(get(&server.url("/-/health"), None).status, 200);
}
