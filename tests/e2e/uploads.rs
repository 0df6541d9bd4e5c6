//! Every bad upload of the spec gets the right 4xx and stores nothing; re-uploads are safe.

use crate::support::{
    Server, basic, get, multipart, post, sdist, sha256_hex, tar_gz, upload, wheel, zip_bytes,
};

struct Project {
    server: Server,
    api: String,
    auth: String,
}

fn project(extra: &[&str]) -> Project {
    let server = Server::start_with(extra);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g/p", "dev", "--role", "developer"]);
    let api = server.project_api("g/p");
    Project {
        server,
        api,
        auth: basic("__token__", &token),
    }
}

impl Project {
    fn upload(
        &self,
        name: &str,
        version: &str,
        filename: &str,
        bytes: &[u8],
        extra: &[(&str, &str)],
    ) -> crate::support::Response {
        upload(
            &self.api,
            Some(&self.auth),
            name,
            version,
            filename,
            bytes,
            extra,
        )
    }

    fn listed(&self, name: &str) -> u16 {
        get(&format!("{}/simple/{name}/", self.api), Some(&self.auth)).status
    }

    /// Nothing of a refused upload may remain: no temp file, no blob, no index entry.
    fn assert_nothing_stored(&self, blobs_before: usize, name: &str) {
        assert_eq!(self.server.tmp_files(), 0, "temp files left behind");
        assert_eq!(self.server.blob_count(), blobs_before, "a blob was stored");
        assert_eq!(self.listed(name), 404, "{name} is listed");
    }
}

#[test]
fn bad_uploads_are_refused_with_a_clear_message() {
    let p = project(&[]);
    let (good_name, good) = wheel("good", "1.0", &[]);
    let metadata_only = |name: &str, version: &str| {
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    };
    let wrong_meta = zip_bytes(&[(
        "good-1.0.dist-info/METADATA",
        metadata_only("other", "1.0").as_bytes(),
    )]);
    let no_meta = zip_bytes(&[("good/__init__.py", b"")]);
    let two_meta = zip_bytes(&[
        ("a-1.dist-info/METADATA", b"Name: good\nVersion: 1.0\n"),
        ("b-1.dist-info/METADATA", b"Name: good\nVersion: 1.0\n"),
    ]);
    // 32 MiB of one byte compresses to a few KiB: a METADATA bomb past the 16 MiB bound.
    let bomb_meta = vec![b'a'; 32 << 20];
    let bomb = zip_bytes(&[("good-1.0.dist-info/METADATA", &bomb_meta)]);
    let sdist_no_pkg_info = tar_gz(&[("good-1.0/setup.py", b"")]);
    let wrong_sha = "0".repeat(64);

    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [u8],
        Vec<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "good",
            "1.0",
            "../good-1.0-py3-none-any.whl",
            &good,
            vec![],
            "not a plain file name",
        ),
        (
            "good",
            "1.0",
            "/etc/good-1.0-py3-none-any.whl",
            &good,
            vec![],
            "not a plain file name",
        ),
        (
            "good",
            "1.0",
            "..\\good-1.0-py3-none-any.whl",
            &good,
            vec![],
            "not a plain file name",
        ),
        (
            "good",
            "1.0",
            "good-1.0.exe",
            &good,
            vec![],
            "neither a wheel",
        ),
        (
            "good",
            "1.0",
            "good-1.0.whl",
            &good,
            vec![],
            "not a valid wheel filename",
        ),
        (
            "good",
            "1.0",
            "other-1.0-py3-none-any.whl",
            &good,
            vec![],
            "does not match name \"good\"",
        ),
        (
            "good",
            "2.0",
            &good_name,
            &good,
            vec![],
            "does not match name \"good\" and version \"2.0\"",
        ),
        (
            "good thing",
            "1.0",
            &good_name,
            &good,
            vec![],
            "not a valid distribution name",
        ),
        (
            "good",
            "one",
            &good_name,
            &good,
            vec![],
            "not a valid PEP 440 version",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &good,
            vec![("sha256_digest", &wrong_sha)],
            "sha256_digest does not match",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &good,
            vec![("md5_digest", "0123456789abcdef0123456789abcdef")],
            "md5_digest does not match",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &good,
            vec![("blake2_256_digest", &wrong_sha)],
            "blake2_256_digest does not match",
        ),
        (
            "good",
            "1.0",
            &good_name,
            b"this is not a zip",
            vec![],
            "not a readable zip",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &no_meta,
            vec![],
            "no a .dist-info/METADATA",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &two_meta,
            vec![],
            "expected exactly one",
        ),
        (
            "good",
            "1.0",
            &good_name,
            &wrong_meta,
            vec![],
            "metadata names \"other\"",
        ),
        ("good", "1.0", &good_name, &bomb, vec![], "larger than"),
        (
            "good",
            "1.0",
            "good-1.0.tar.gz",
            &sdist_no_pkg_info,
            vec![],
            "no top-level PKG-INFO",
        ),
        (
            "good",
            "1.0",
            "good-1.0.tar.gz",
            b"\x1f\x8bnot really gzip",
            vec![],
            "not a readable .tar.gz",
        ),
        ("good", "1.0", &good_name, b"", vec![], "empty"),
    ];
    let blobs = p.server.blob_count();
    for (name, version, filename, bytes, extra, expected) in &cases {
        let resp = p.upload(name, version, filename, bytes, extra);
        assert_eq!(resp.status, 400, "{filename}: {}", resp.text());
        let message = resp.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.contains(expected),
            "{filename}: expected {expected:?} in {message:?}"
        );
        p.assert_nothing_stored(blobs, "good");
    }
}

#[test]
fn malformed_forms_are_refused() {
    let p = project(&[]);
    let (filename, bytes) = wheel("good", "1.0", &[]);
    let blobs = p.server.blob_count();
    let auth = p.auth.as_str();

    let (ct, body) = multipart(&[("name", "good"), ("version", "1.0")], None);
    let resp = post(
        &p.api,
        &[("Content-Type", &ct), ("Authorization", auth)],
        body,
    );
    assert_eq!(
        (
            resp.status,
            resp.json()["message"]
                .as_str()
                .unwrap()
                .contains("\"content\"")
        ),
        (400, true),
        "{}",
        resp.text()
    );

    let (ct, body) = multipart(&[("version", "1.0")], Some((&filename, &bytes)));
    let resp = post(
        &p.api,
        &[("Content-Type", &ct), ("Authorization", auth)],
        body,
    );
    assert!(
        resp.status == 400 && resp.text().contains("\\\"name\\\" is missing"),
        "{}",
        resp.text()
    );

    let resp = post(
        &p.api,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", auth),
        ],
        b"{}".to_vec(),
    );
    assert_eq!(resp.status, 415, "{}", resp.text());

    let (ct, mut body) = multipart(
        &[("name", "good"), ("version", "1.0")],
        Some((&filename, &bytes)),
    );
    body.truncate(body.len() - 40);
    let resp = post(
        &p.api,
        &[("Content-Type", &ct), ("Authorization", auth)],
        body,
    );
    assert_eq!(resp.status, 400, "truncated body: {}", resp.text());

    let many: Vec<(String, String)> = (0..1_100)
        .map(|i| (format!("f{i}"), "x".to_string()))
        .collect();
    let fields: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (ct, body) = multipart(&fields, Some((&filename, &bytes)));
    let resp = post(
        &p.api,
        &[("Content-Type", &ct), ("Authorization", auth)],
        body,
    );
    assert!(
        resp.status == 400 && resp.text().contains("more than 1000 fields"),
        "{}",
        resp.text()
    );

    p.assert_nothing_stored(blobs, "good");
    // The server is still up and takes a good upload.
    assert_eq!(p.upload("good", "1.0", &filename, &bytes, &[]).status, 201);
}

#[test]
fn oversize_upload_is_413_and_leaves_nothing() {
    let p = project(&["--max-upload-size", "64KiB"]);
    let (filename, _) = wheel("big", "1.0", &[]);
    // Only the size matters: the limit applies while the file streams in.
    let raw = vec![7u8; 200 << 10];
    let blobs = p.server.blob_count();
    let resp = p.upload("big", "1.0", &filename, &raw, &[]);
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert!(
        resp.text().contains("larger than the limit"),
        "{}",
        resp.text()
    );
    p.assert_nothing_stored(blobs, "big");
}

#[test]
fn duplicates_identical_is_200_other_bytes_is_file_already_exists() {
    let p = project(&[]);
    let (filename, bytes) = wheel("dup", "1.0", &[]);
    let sha = sha256_hex(&bytes);
    let first = p.upload("dup", "1.0", &filename, &bytes, &[("sha256_digest", &sha)]);
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.json()["message"], "201 Created");
    let again = p.upload("dup", "1.0", &filename, &bytes, &[]);
    assert_eq!(again.status, 200, "{}", again.text());

    let (_, other) = crate::support::wheel_with("dup", "1.0", &["idna"], None);
    let blobs = p.server.blob_count();
    let clash = p.upload("dup", "1.0", &filename, &other, &[]);
    assert_eq!(clash.status, 400);
    assert!(
        clash.text().contains("File already exists"),
        "{}",
        clash.text()
    );
    assert_eq!(p.server.blob_count(), blobs);
    assert_eq!(p.server.tmp_files(), 0);

    // The stored file is the first one, byte for byte.
    let page = get(&format!("{}/simple/dup/", p.api), Some(&p.auth)).text();
    assert!(page.contains(&sha), "{page}");
}

#[test]
fn sdists_and_twine_style_names_are_accepted() {
    let p = project(&[]);
    let (filename, bytes) = sdist("My_Pkg", "1.0");
    // twine 7 sends the name with `_` turned into `-`.
    let resp = p.upload(
        "My-Pkg",
        "1.0",
        &filename,
        &bytes,
        &[("requires_python", ""), ("filetype", "sdist")],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let (zip_name, zip) = (
        "my.pkg-1.1.zip".to_string(),
        zip_bytes(&[("my.pkg-1.1/PKG-INFO", b"Name: my.pkg\nVersion: 1.1\n")]),
    );
    assert_eq!(p.upload("my.pkg", "1.1", &zip_name, &zip, &[]).status, 201);
    let json = crate::support::request(
        "GET",
        &format!("{}/simple/my-pkg/", p.api),
        &[
            ("Authorization", &p.auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    )
    .json();
    assert_eq!(json["versions"], serde_json::json!(["1.0", "1.1"]));
    assert_eq!(json["files"][0]["filename"], "my_pkg-1.0.tar.gz");
}

#[test]
fn a_project_may_allow_replacing_files() {
    let p = project(&[]);
    let (filename, first) = wheel("swap", "1.0", &[]);
    assert_eq!(p.upload("swap", "1.0", &filename, &first, &[]).status, 201);
    let (_, second) = crate::support::wheel_with("swap", "1.0", &["idna"], None);
    assert_eq!(p.upload("swap", "1.0", &filename, &second, &[]).status, 400);

    let out = p
        .server
        .cli(&["project", "set", "g/p", "--allow-file-replace", "true"]);
    assert!(out.ends_with("allow_file_replace=true"), "{out}");
    let blobs = p.server.blob_count();
    let replaced = p.upload("swap", "1.0", &filename, &second, &[]);
    assert_eq!(replaced.status, 201, "{}", replaced.text());
    let page = get(&format!("{}/simple/swap/", p.api), Some(&p.auth)).text();
    assert!(
        page.contains(&sha256_hex(&second)) && !page.contains(&sha256_hex(&first)),
        "{page}"
    );
    // The old file and its metadata blobs went; the new ones came.
    assert_eq!(p.server.blob_count(), blobs);

    // Settings are checked like creation: a private group cannot hold a public project.
    let err = p
        .server
        .cli_fails(&["project", "set", "g/p", "--visibility", "public"]);
    assert!(err.contains("cannot live in"), "{err}");
    p.server
        .cli(&["project", "set", "g/p", "--allow-file-replace", "false"]);
    assert_eq!(p.upload("swap", "1.0", &filename, &first, &[]).status, 400);
}

/// Poetry, pdm and hatch build the same form in other orders: the file may come first, and
/// repeated fields come once per value.
#[test]
fn the_file_may_come_before_the_fields() {
    let p = project(&[]);
    let (filename, bytes) = wheel("early", "1.0", &[]);
    let boundary = "----early";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(b"\r\n");
    for (name, value) in [
        ("classifiers", "Programming Language :: Python"),
        ("classifiers", "License :: OSI Approved"),
        ("version", "1.0"),
        (":action", "file_upload"),
        ("name", "early"),
        ("sha256_digest", &sha256_hex(&bytes)),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let resp = post(
        &p.api,
        &[("Content-Type", &content_type), ("Authorization", &p.auth)],
        body,
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(p.listed("early"), 200);
}
