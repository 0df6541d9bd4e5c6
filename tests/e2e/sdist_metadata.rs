//! PEP 643: an sdist's PKG-INFO is offered as core metadata (PEP 658/714) only when it is
//! metadata 2.2 or later and leaves no resolution field dynamic; files stored before the rule
//! are judged again on upgrade; pip then builds an old-style sdist and gets its dependencies.

use rusqlite::params;

use crate::s3_support::{blobs, default_storage, store_of};
use crate::support::{Server, client, get, request, sha256_hex, tar_gz, upload, wheel_with};

/// PKG-INFO as setuptools 68 writes it (metadata 2.1: no promise about what a build yields;
/// here, as from a setup.py that computes them, the dependencies are missing).
const LEGACY: &str = "Metadata-Version: 2.1\nName: legacy\nVersion: 1.0\n\
    Summary: Built the old way\nHome-page: https://example.org/legacy\nAuthor: Test\n\
    Requires-Python: >=3.8\nLicense-File: LICENSE\n\nLong description.\n";
/// As setuptools 75 writes it for dependencies from setup.py: 2.2, `Dynamic: requires-dist`.
const DYNAMIC: &str = "Metadata-Version: 2.2\nName: dynamic\nVersion: 1.0\n\
    Summary: Dependencies from setup.py\nRequires-Python: >=3.8\nLicense-File: LICENSE\n\
    Requires-Dist: depdep\nDynamic: requires-dist\nDynamic: summary\n";
/// As setuptools 77 writes it from a static pyproject.toml: 2.4, only the license file dynamic.
const STATIC: &str = "Metadata-Version: 2.4\nName: static\nVersion: 1.0\n\
    Summary: Everything in pyproject.toml\nLicense-Expression: MIT\nRequires-Python: >=3.8\n\
    Description-Content-Type: text/markdown\nLicense-File: LICENSE\nRequires-Dist: depdep\n\
    Dynamic: license-file\n";

/// A build backend shipped inside the sdist (PEP 517 `backend-path`), so pip builds it with
/// no network; the wheel it builds requires `depdep`, whatever PKG-INFO says.
const BACKEND: &str = r#"import base64, hashlib, os, zipfile

def _meta(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: depdep\n"

def _ids():
    with open("PKG-INFO") as f:
        fields = dict(line.split(": ", 1) for line in f.read().split("\n\n")[0].splitlines())
    name, version = fields["Name"], fields["Version"]
    return name, version, f"{name}-{version}.dist-info"

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, dist_info = _ids()
    os.makedirs(os.path.join(metadata_directory, dist_info))
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w") as f:
        f.write(_meta(name, version))
    return dist_info

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, dist_info = _ids()
    files = {f"{name}.py": "", f"{dist_info}/METADATA": _meta(name, version),
             f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record += f"{path},sha256={digest.decode()},{len(text.encode())}\n"
    files[f"{dist_info}/RECORD"] = record + f"{dist_info}/RECORD,,\n"
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return wheel
"#;

const PYPROJECT: &str = "[build-system]\nrequires = []\nbuild-backend = \"backend\"\n\
    backend-path = [\".\"]\n";

/// An sdist laid out as setuptools lays it out (PKG-INFO at the top and again in the
/// `.egg-info`), with the given PKG-INFO.
fn sdist_with(name: &str, pkg_info: &str) -> (String, Vec<u8>) {
    let top = format!("{name}-1.0");
    let bytes = tar_gz(&[
        (&format!("{top}/PKG-INFO"), pkg_info.as_bytes()),
        (&format!("{top}/LICENSE"), b"MIT"),
        (&format!("{top}/pyproject.toml"), PYPROJECT.as_bytes()),
        (&format!("{top}/backend.py"), BACKEND.as_bytes()),
        (
            &format!("{top}/setup.cfg"),
            b"[egg_info]\ntag_build = \ntag_date = 0\n",
        ),
        (
            &format!("{top}/{name}.egg-info/PKG-INFO"),
            pkg_info.as_bytes(),
        ),
    ]);
    (format!("{top}.tar.gz"), bytes)
}

fn public_project(server: &Server) -> (String, String) {
    server.cli(&["group", "add", "pub", "--visibility", "public"]);
    server.cli(&["project", "add", "pub/p", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "pub", "dev", "--role", "developer"]);
    (
        server.project_api("pub/p"),
        crate::support::basic("__token__", &token),
    )
}

fn json_page(api: &str, name: &str) -> serde_json::Value {
    request(
        "GET",
        &format!("{api}/simple/{name}/"),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    )
    .json()
}

/// What the index says of the one file of `name`: the JSON `core-metadata`, and the HTML
/// anchor's `data-core-metadata` and `data-dist-info-metadata` values.
fn advertised(api: &str, name: &str) -> (serde_json::Value, Option<String>, Option<String>) {
    let json = json_page(api, name)["files"][0]["core-metadata"].clone();
    let html = get(&format!("{api}/simple/{name}/"), None).text();
    let attr = |key: &str| {
        html.split(&format!("{key}=\"sha256="))
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
    };
    (
        json,
        attr("data-core-metadata"),
        attr("data-dist-info-metadata"),
    )
}

#[test]
fn sdist_core_metadata_is_offered_only_when_static() {
    let server = Server::start();
    let (api, auth) = public_project(&server);
    for (name, pkg_info) in [("legacy", LEGACY), ("dynamic", DYNAMIC), ("static", STATIC)] {
        let dist = sdist_with(name, pkg_info);
        let resp = upload(&api, Some(&auth), name, "1.0", &dist.0, &dist.1, &[]);
        assert_eq!(resp.status, 201, "{}", resp.text());
        let (json, data_core, data_dist_info) = advertised(&api, name);
        let file_url = format!("{api}/files/{}/{}", sha256_hex(&dist.1), dist.0);
        let metadata = get(&format!("{file_url}.metadata"), None);
        if name == "static" {
            let sha = sha256_hex(pkg_info.as_bytes());
            assert_eq!(json, serde_json::json!({ "sha256": sha }));
            assert_eq!(data_core.as_deref(), Some(sha.as_str()));
            assert_eq!(data_dist_info.as_deref(), Some(sha.as_str()));
            assert_eq!(metadata.status, 200);
            assert_eq!(metadata.body, pkg_info.as_bytes(), "PKG-INFO byte for byte");
        } else {
            assert_eq!(json, serde_json::json!(false), "{name}");
            assert_eq!((data_core, data_dist_info), (None, None), "{name}");
            assert_eq!(metadata.status, 404, "{name}");
        }
        assert_eq!(
            get(&file_url, None).body,
            dist.1,
            "the sdist itself is served"
        );
    }
    // Wheels always offer theirs, whatever their metadata version.
    let wheel = wheel_with("wheely", "1.0", &[], None);
    assert_eq!(
        upload(&api, Some(&auth), "wheely", "1.0", &wheel.0, &wheel.1, &[]).status,
        201
    );
    assert!(advertised(&api, "wheely").1.is_some());
    // The group index follows the same rule.
    let group = json_page(&server.group_api("pub"), "legacy");
    assert_eq!(group["files"][0]["core-metadata"], false);
}

/// pip resolves with whatever core metadata the index offers: offered the old-style PKG-INFO,
/// it installed `legacy` without `depdep`. Offered nothing, it builds the sdist and finds it.
#[test]
fn pip_builds_an_old_style_sdist_and_gets_its_dependency() {
    let server = Server::start();
    let (api, auth) = public_project(&server);
    let legacy = sdist_with("legacy", LEGACY);
    let dep = wheel_with("depdep", "1.0", &[], None);
    for (name, dist) in [("legacy", &legacy), ("depdep", &dep)] {
        let resp = upload(&api, Some(&auth), name, "1.0", &dist.0, &dist.1, &[]);
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let out = client("pip")
        .args([
            "install",
            "--dry-run",
            "--quiet",
            "--no-cache-dir",
            "--report",
            "-",
        ])
        .args(["--index-url", &format!("{api}/simple/"), "legacy"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no pip report ({e}): {out:?}"));
    let mut names: Vec<&str> = report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["depdep", "legacy"], "{report}");
}

/// Files stored before the rule: the upgrade leaves wheels offered and sdists unjudged, and
/// the start-up housekeeping reads each stored PKG-INFO and decides. The database is written
/// with the original schema (`schema.sql`), before any upgrade step.
#[test]
fn upgrade_judges_sdists_stored_before_the_rule() {
    let holder = tempfile::tempdir().unwrap();
    let data = holder.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The store the server will open (a bucket prefix on the S3 pass).
    let store = store_of(&data, default_storage(&data).as_ref());
    let put_blob = |bytes: &[u8]| {
        let sha = sha256_hex(bytes);
        blobs::put_in(&store, &sha, bytes, std::time::Duration::ZERO);
        sha
    };
    let conn = rusqlite::Connection::open(data.join("wheelhouse.db")).unwrap();
    conn.execute_batch(include_str!("../fixtures/schema-v1.sql"))
        .unwrap();
    conn.execute_batch(
        "INSERT INTO namespaces (id, kind, path, full_path, visibility, created_at)
             VALUES (1, 'group', 'old', 'old', 'public', 0);
         INSERT INTO projects (id, namespace_id, path, full_path, visibility, created_at)
             VALUES (1, 1, 'p', 'old/p', 'public', 0);",
    )
    .unwrap();
    let wheel = wheel_with("wheely", "1.0", &[], None);
    let wheel_meta = "Metadata-Version: 2.1\nName: wheely\nVersion: 1.0\n";
    let stored = [
        (sdist_with("legacy", LEGACY), LEGACY, "sdist"),
        (sdist_with("dynamic", DYNAMIC), DYNAMIC, "sdist"),
        (sdist_with("static", STATIC), STATIC, "sdist"),
        (wheel, wheel_meta, "bdist_wheel"),
    ];
    for (id, ((filename, bytes), meta, filetype)) in stored.iter().enumerate() {
        let name = filename.split(['-', '.']).next().unwrap();
        let (sha, meta_sha) = (put_blob(bytes), put_blob(meta.as_bytes()));
        conn.execute(
            "INSERT INTO packages (id, project_id, name, display_name, version, created_at)
             VALUES (?1, 1, ?2, ?2, '1.0', 0)",
            params![id as i64 + 1, name],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO package_files (package_id, project_id, filename, size, sha256, md5,
                 blake2b_256, filetype, metadata_sha256, created_at)
             VALUES (?1, 1, ?2, ?3, ?4, '', '', ?5, ?6, 0)",
            params![
                id as i64 + 1,
                filename,
                bytes.len() as i64,
                sha,
                filetype,
                meta_sha
            ],
        )
        .unwrap();
    }
    drop(conn);

    let server = Server::start_in(holder, &data);
    let api = server.project_api("old/p");
    for (name, offered) in [
        ("legacy", false),
        ("dynamic", false),
        ("static", true),
        ("wheely", true),
    ] {
        let page = json_page(&api, name);
        let core = &page["files"][0]["core-metadata"];
        assert_eq!(core.is_object(), offered, "{name}: {page}");
        let file = &page["files"][0];
        let url = format!(
            "{api}/files/{}/{}.metadata",
            file["hashes"]["sha256"].as_str().unwrap(),
            file["filename"].as_str().unwrap()
        );
        assert_eq!(get(&url, None).status, if offered { 200 } else { 404 });
    }
    // Judged once: a second start has nothing left to read.
    let out = crate::support::cli_output(&data, &["metadata", "backfill"], None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("judged 0 stored files"),
        "{out:?}"
    );
}
