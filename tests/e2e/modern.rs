//! The modern index: an independent parser reads every page, yank and delete work through the
//! API and the CLI with real pip and uv, the Warehouse JSON API, upload times, and resolves
//! that fetch only metadata.

use std::process::Command;

use crate::support::{
    Server, basic, client, get, post, request, run_ok, sdist, sha256_hex, upload, wheel,
    with_credentials,
};

struct Registry {
    server: Server,
    api: String,
    maintainer: String,
    developer: String,
}

fn registry_with(server: Server) -> Registry {
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/libs", "--visibility", "private"]);
    let maintainer = server.user_with_token("maint", "api");
    server.cli(&["member", "add", "acme", "maint", "--role", "maintainer"]);
    let developer = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "developer"]);
    let api = server.project_api("acme/libs");
    Registry {
        server,
        api,
        maintainer: basic("__token__", &maintainer),
        developer: basic("__token__", &developer),
    }
}

fn registry() -> Registry {
    registry_with(Server::start())
}

impl Registry {
    fn publish(&self, dist: &(String, Vec<u8>), name: &str, version: &str) {
        let resp = upload(
            &self.api,
            Some(&self.developer),
            name,
            version,
            &dist.0,
            &dist.1,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }

    fn index_url(&self) -> String {
        let token = self.maintainer.trim_start_matches("Basic ");
        let decoded = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, token).unwrap(),
        )
        .unwrap();
        let (user, secret) = decoded.split_once(':').unwrap();
        with_credentials(&format!("{}/simple/", self.api), user, secret)
    }

    /// The REST API's id of the version.
    fn package_id(&self, name: &str, version: &str) -> i64 {
        let list = get(
            &format!(
                "{}?package_name={name}&per_page=100",
                self.api.trim_end_matches("/pypi")
            ),
            Some(&self.maintainer),
        )
        .json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["version"] == version)
            .unwrap_or_else(|| panic!("{name} {version} not in {list}"))["id"]
            .as_i64()
            .unwrap()
    }

    fn json_page(&self, name: &str) -> serde_json::Value {
        request(
            "GET",
            &format!("{}/simple/{name}/", self.api),
            &[
                ("Authorization", &self.maintainer),
                ("Accept", "application/vnd.pypi.simple.v1+json"),
            ],
        )
        .json()
    }
}

/// `pip download` of `spec` without dependencies; returns the downloaded filename.
fn pip_pick(index: &str, spec: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args(["download", "--no-cache-dir", "--no-deps", "-d"])
            .arg(dir.path())
            .args(["--index-url", index, spec]),
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names.into_iter().next().unwrap()
}

/// `uv pip install` of `spec` into a fresh venv; returns what uv printed.
fn uv_install(index: &str, spec: &str, extra: &[&str]) -> String {
    let venv = tempfile::tempdir().unwrap();
    run_ok(
        client("uv")
            .args(["venv", "--quiet"])
            .arg(venv.path().join("v")),
    );
    run_ok(
        client("uv")
            .args(["pip", "install", "--python"])
            .arg(venv.path().join("v/bin/python"))
            .args(["--index-url", index])
            .args(extra)
            .arg(spec),
    )
}

#[test]
fn pypi_simple_parses_every_page_and_every_hash_matches() {
    let r = registry();
    r.publish(&wheel("alpha", "1.0", &[]), "alpha", "1.0");
    r.publish(&wheel("alpha", "1.1rc1", &["beta>=2"]), "alpha", "1.1rc1");
    r.publish(&sdist("alpha", "1.0"), "alpha", "1.0");
    r.publish(&wheel("Beta.Two", "2.0", &[]), "Beta.Two", "2.0");
    let (user, secret) = ("__token__", r.maintainer.clone());
    let secret = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            secret.trim_start_matches("Basic "),
        )
        .unwrap(),
    )
    .unwrap();
    let secret = secret.split_once(':').unwrap().1.to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/check_index.py");
    for endpoint in [
        format!("{}/simple/", r.api),
        format!("{}/simple/", r.server.group_api("acme")),
    ] {
        let out = run_ok(
            Command::new(crate::support::python_tools().join("python"))
                .args([script, &endpoint, user, &secret]),
        );
        assert!(
            // The metadata-2.1 sdist offers no core metadata (PEP 643), in HTML and in JSON.
            out.contains("pages=4 files=8 metadata=6"),
            "{endpoint}: {out}"
        );
    }
}

#[test]
fn yank_via_api_is_skipped_by_pip_and_uv_unless_pinned() {
    let r = registry();
    r.publish(&wheel("yanky", "1.0", &[]), "yanky", "1.0");
    r.publish(&wheel("yanky", "2.0", &[]), "yanky", "2.0");
    let id = r.package_id("yanky", "2.0");
    let packages = r.api.trim_end_matches("/pypi");

    // Developers may not yank; maintainers may.
    let denied = post(
        &format!("{packages}/{id}/yank"),
        &[("Authorization", &r.developer)],
        Vec::new(),
    );
    assert_eq!(denied.status, 403, "{}", denied.text());
    let yank = post(
        &format!("{packages}/{id}/yank"),
        &[
            ("Authorization", &r.maintainer),
            ("Content-Type", "application/json"),
        ],
        br#"{"reason": "broken <build>"}"#.to_vec(),
    );
    assert_eq!(yank.status, 200, "{}", yank.text());
    assert_eq!(yank.json()[0]["yanked"], true);

    let page = r.json_page("yanky");
    assert_eq!(page["files"][1]["yanked"], "broken <build>");
    let html = get(&format!("{}/simple/yanky/", r.api), Some(&r.maintainer)).text();
    assert!(
        html.contains("data-yanked=\"broken &#60;build&#62;\""),
        "{html}"
    );

    let index = r.index_url();
    assert_eq!(pip_pick(&index, "yanky"), "yanky-1.0-py3-none-any.whl");
    assert_eq!(pip_pick(&index, "yanky==2.0"), "yanky-2.0-py3-none-any.whl");
    assert!(uv_install(&index, "yanky", &[]).contains("yanky==1.0"));
    assert!(uv_install(&index, "yanky==2.0", &[]).contains("yanky==2.0"));

    // Unyank from the command line: 2.0 is the latest again.
    r.server.cli(&["unyank", "acme/libs", "yanky", "2.0"]);
    assert_eq!(r.json_page("yanky")["files"][1]["yanked"], false);
    assert_eq!(pip_pick(&index, "yanky"), "yanky-2.0-py3-none-any.whl");
    // And a single file yanked from the CLI with no reason is `true` in JSON, `""` in HTML.
    r.server.cli(&[
        "yank",
        "acme/libs",
        "yanky",
        "2.0",
        "--file",
        "yanky-2.0-py3-none-any.whl",
    ]);
    assert_eq!(r.json_page("yanky")["files"][1]["yanked"], true);
    let html = get(&format!("{}/simple/yanky/", r.api), Some(&r.maintainer)).text();
    assert!(html.contains("data-yanked=\"\""), "{html}");
}

#[test]
fn delete_removes_blobs_and_the_name_never_returns_with_other_bytes() {
    let r = registry();
    let old = wheel("gone", "1.0", &[]);
    r.publish(&old, "gone", "1.0");
    r.publish(&sdist("gone", "1.0"), "gone", "1.0");
    r.publish(&wheel("gone", "2.0", &[]), "gone", "2.0");
    let packages = r.api.trim_end_matches("/pypi");
    let id = r.package_id("gone", "1.0");
    let files = get(
        &format!("{packages}/{id}/package_files"),
        Some(&r.maintainer),
    )
    .json();
    let wheel_id = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_name"] == old.0)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let blobs = r.server.blob_count();

    assert_eq!(
        request(
            "DELETE",
            &format!("{packages}/{id}/package_files/{wheel_id}"),
            &[("Authorization", &r.developer)]
        )
        .status,
        403
    );
    assert_eq!(
        request(
            "DELETE",
            &format!("{packages}/{id}/package_files/{wheel_id}"),
            &[]
        )
        .status,
        401
    );
    let deleted = request(
        "DELETE",
        &format!("{packages}/{id}/package_files/{wheel_id}"),
        &[("Authorization", &r.maintainer)],
    );
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_eq!(
        r.server.blob_count(),
        blobs - 2,
        "the wheel and its metadata blob are removed"
    );
    let sha = sha256_hex(&old.1);
    assert_eq!(
        get(
            &format!("{}/files/{sha}/{}", r.api, old.0),
            Some(&r.maintainer)
        )
        .status,
        404
    );

    // The name may come back only with the same bytes.
    let (_, other) = crate::support::wheel_with("gone", "1.0", &["idna"], None);
    let clash = upload(
        &r.api,
        Some(&r.developer),
        "gone",
        "1.0",
        &old.0,
        &other,
        &[],
    );
    assert_eq!(clash.status, 400);
    assert!(
        clash.text().contains("File already exists"),
        "{}",
        clash.text()
    );
    r.publish(&old, "gone", "1.0");

    // Deleting a whole version from the CLI; the package page shows only 2.0 after.
    let out = r.server.cli(&["delete", "acme/libs", "gone", "1.0"]);
    assert!(out.ends_with(".whl") || out.ends_with(".tar.gz"), "{out}");
    assert_eq!(r.json_page("gone")["versions"], serde_json::json!(["2.0"]));
    assert_eq!(
        get(&format!("{packages}/{id}"), Some(&r.maintainer)).status,
        404
    );
    assert!(
        r.server
            .cli_fails(&["delete", "acme/libs", "gone", "9.9"])
            .contains("404 Package Not Found")
    );
}

#[test]
fn warehouse_json_api_for_project_and_group() {
    let r = registry();
    // The version's metadata comes from its newest upload: here the wheel.
    r.publish(&sdist("jsonpkg", "1.0"), "jsonpkg", "1.0");
    r.publish(&wheel("jsonpkg", "1.0", &["idna>=3"]), "jsonpkg", "1.0");
    r.publish(&wheel("jsonpkg", "2.0b1", &[]), "jsonpkg", "2.0b1");
    for base in [r.api.clone(), r.server.group_api("acme")] {
        let project = get(&format!("{base}/pypi/jsonpkg/json"), Some(&r.maintainer));
        assert_eq!(project.status, 200, "{}", project.text());
        let body = project.json();
        assert_eq!(body["info"]["version"], "1.0", "latest final release");
        assert_eq!(body["info"]["name"], "jsonpkg");
        assert_eq!(body["info"]["summary"], "Test package jsonpkg");
        assert_eq!(
            body["info"]["requires_dist"],
            serde_json::json!(["idna>=3"])
        );
        assert_eq!(body["info"]["requires_python"], ">=3.8");
        let releases = body["releases"].as_object().unwrap();
        assert_eq!(releases.keys().collect::<Vec<_>>(), ["1.0", "2.0b1"]);
        let urls = body["urls"].as_array().unwrap();
        assert_eq!(urls.len(), 2);
        for file in urls {
            let url = file["url"].as_str().unwrap();
            assert!(url.starts_with("http://127.0.0.1:"), "{url}");
            let bytes = get(url, Some(&r.maintainer)).body;
            assert_eq!(
                sha256_hex(&bytes),
                file["digests"]["sha256"].as_str().unwrap()
            );
            assert_eq!(file["size"], bytes.len());
            assert!(
                file["upload_time_iso_8601"]
                    .as_str()
                    .unwrap()
                    .ends_with('Z')
            );
        }
        let version = get(
            &format!("{base}/pypi/jsonpkg/2.0b1/json"),
            Some(&r.maintainer),
        )
        .json();
        assert_eq!(version["info"]["version"], "2.0b1");
        assert!(version.get("releases").is_none());
        assert_eq!(version["urls"][0]["packagetype"], "bdist_wheel");
        assert_eq!(version["urls"][0]["python_version"], "py3");
        assert_eq!(
            get(
                &format!("{base}/pypi/jsonpkg/9.0/json"),
                Some(&r.maintainer)
            )
            .status,
            404
        );
        assert_eq!(
            get(&format!("{base}/pypi/nothing/json"), Some(&r.maintainer)).status,
            404
        );
        assert_eq!(get(&format!("{base}/pypi/jsonpkg/json"), None).status, 401);
        assert_eq!(body["info"]["license_expression"], serde_json::Value::Null);
    }

    // Metadata 2.4: the SPDX expression is served as Warehouse serves it.
    let metadata = "Metadata-Version: 2.4\nName: licensed\nVersion: 1.0\n\
                    License-Expression: MIT OR Apache-2.0\nLicense-File: LICENSE\n\n# Hi\n";
    let bytes = crate::support::zip_bytes(&[
        ("licensed/__init__.py", b"".as_slice()),
        ("licensed-1.0.dist-info/METADATA", metadata.as_bytes()),
        (
            "licensed-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".as_slice(),
        ),
    ]);
    let filename = "licensed-1.0-py3-none-any.whl".to_string();
    r.publish(&(filename, bytes), "licensed", "1.0");
    let body = get(
        &format!("{}/pypi/licensed/json", r.api),
        Some(&r.maintainer),
    )
    .json();
    assert_eq!(body["info"]["license_expression"], "MIT OR Apache-2.0");
}

#[test]
fn uv_exclude_newer_follows_upload_times() {
    let r = registry();
    r.publish(&wheel("timed", "1.0", &[]), "timed", "1.0");
    // Make 1.0 look two days old; 2.0 is uploaded now.
    let db = rusqlite::Connection::open(r.server.data_dir().join("wheelhouse.db")).unwrap();
    db.execute(
        "UPDATE package_files SET created_at = created_at - 172800000",
        [],
    )
    .unwrap();
    r.publish(&wheel("timed", "2.0", &[]), "timed", "2.0");
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let cutoff = format!(
        "{}-{:02}-{:02}T00:00:00Z",
        yesterday.year(),
        yesterday.month() as u8,
        yesterday.day()
    );
    let index = r.index_url();
    assert!(uv_install(&index, "timed", &["--exclude-newer", &cutoff]).contains("timed==1.0"));
    assert!(uv_install(&index, "timed", &[]).contains("timed==2.0"));
}

#[test]
fn resolving_a_tree_fetches_only_metadata() {
    let r = registry_with(Server::start_logged());
    r.publish(&wheel("leaf", "1.0", &[]), "leaf", "1.0");
    r.publish(&wheel("branch", "1.0", &["leaf>=1"]), "branch", "1.0");
    r.publish(
        &wheel("root-app", "1.0", &["branch", "leaf"]),
        "root-app",
        "1.0",
    );
    let index = r.index_url();
    let reqs = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(reqs.path(), "root-app\n").unwrap();
    let out = run_ok(
        client("uv")
            .args(["pip", "compile", "--index-url", &index])
            .arg(reqs.path()),
    );
    assert!(
        out.contains("leaf==1.0") && out.contains("branch==1.0"),
        "{out}"
    );
    let report = run_ok(client("pip").args([
        "install",
        "--dry-run",
        "--ignore-installed",
        "--no-cache-dir",
        "--index-url",
        &index,
        "root-app",
    ]));
    assert!(report.contains("Would install"), "{report}");

    let log = r.server.access_log();
    let file_requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/packages/pypi/files/"))
        .collect();
    assert!(
        file_requests
            .iter()
            .filter(|l| l.contains(".whl.metadata"))
            .count()
            >= 6,
        "{log}"
    );
    let downloads: Vec<&&str> = file_requests
        .iter()
        .filter(|l| !l.contains(".metadata"))
        .collect();
    assert!(
        downloads.is_empty(),
        "resolving downloaded distributions: {downloads:#?}"
    );
}

#[test]
fn metadata_backfill_restores_missing_core_metadata() {
    let r = registry();
    r.publish(&wheel("old", "1.0", &[]), "old", "1.0");
    let db = rusqlite::Connection::open(r.server.data_dir().join("wheelhouse.db")).unwrap();
    db.execute("UPDATE package_files SET metadata_sha256 = NULL", [])
        .unwrap();
    assert_eq!(r.json_page("old")["files"][0]["core-metadata"], false);
    assert_eq!(r.server.cli(&["metadata", "backfill"]), "1");
    assert!(r.json_page("old")["files"][0]["core-metadata"]["sha256"].is_string());
    assert_eq!(r.server.cli(&["metadata", "backfill"]), "0");
}

#[test]
fn json_api_links_follow_the_proxy_or_the_external_url() {
    // Forwarded host and scheme count only from a trusted proxy (trust.rs checks the others).
    let r = registry_with(Server::start_with(&["--trusted-proxies", "127.0.0.1"]));
    r.publish(&wheel("linked", "1.0", &[]), "linked", "1.0");
    let url = format!("{}/pypi/linked/json", r.api);
    let proxied = request(
        "GET",
        &url,
        &[
            ("Authorization", &r.maintainer),
            ("X-Forwarded-Host", "proxy.lan:9000"),
            ("X-Forwarded-Proto", "https"),
        ],
    )
    .json();
    let link = proxied["urls"][0]["url"].as_str().unwrap();
    assert!(
        link.starts_with("https://proxy.lan:9000/api/v4/projects/acme%2Flibs/packages/pypi/files/"),
        "{link}"
    );

    let configured = registry_with(Server::start_with(&[
        "--external-url",
        "https://pypi.example.lan/prefix/",
    ]));
    configured.publish(&wheel("linked", "1.0", &[]), "linked", "1.0");
    let body = get(
        &format!("{}/pypi/linked/json", configured.api),
        Some(&configured.maintainer),
    )
    .json();
    let link = body["urls"][0]["url"].as_str().unwrap();
    assert!(
        link.starts_with(
            "https://pypi.example.lan/prefix/api/v4/projects/acme%2Flibs/packages/pypi/files/"
        ),
        "{link}"
    );
}
