//! The real clients: twine and uv publish upload; pip and uv resolve and install, through
//! project and group indexes, with personal access tokens and deploy tokens.

use crate::support::{Server, client, dist_dir, run_ok, sdist, wheel, with_credentials};

/// A group `acme` with projects `acme/libs` (a dependency tree) and `acme/apps`, private.
struct Registry {
    server: Server,
    token: String,
    libs_id: String,
}

fn registry() -> Registry {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "private"]);
    let libs_id = server.cli(&["project", "add", "acme/libs", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/ml/apps", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "developer"]);
    Registry {
        server,
        token,
        libs_id,
    }
}

fn twine_upload(url: &str, user: &str, password: &str, dir: &std::path::Path) -> String {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        client("twine")
            .args([
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                url,
                "-u",
                user,
                "-p",
                password,
            ])
            .args(&files),
    )
}

#[test]
fn twine_uploads_and_pip_installs_a_tree_across_projects_of_a_group() {
    let r = registry();
    let libs = dist_dir(&[
        wheel("Base_Lib", "1.0", &[]),
        wheel("Base_Lib", "1.1", &[]),
        wheel("mid-lib", "2.0", &["base-lib>=1.1"]),
        sdist("mid-lib", "2.0"),
    ]);
    let apps = dist_dir(&[wheel("top-app", "0.1", &["mid_lib==2.0"])]);
    twine_upload(
        &r.server.project_api("acme/libs"),
        "__token__",
        &r.token,
        libs.path(),
    );
    twine_upload(
        &r.server.project_api("acme/ml/apps"),
        "anything",
        &r.token,
        apps.path(),
    );
    // Re-running the publish job with the same files succeeds (identical bytes: 200).
    twine_upload(
        &r.server.project_api("acme/libs"),
        "__token__",
        &r.token,
        libs.path(),
    );

    let index = with_credentials(
        &format!("{}/simple", r.server.group_api("acme")),
        "__token__",
        &r.token,
    );
    let target = tempfile::tempdir().unwrap();
    let out = run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, "top-app"]),
    );
    assert!(out.contains("Successfully installed"), "{out}");
    for module in ["top_app", "mid_lib", "base_lib"] {
        assert!(
            target.path().join(module).join("__init__.py").exists(),
            "{module} missing:\n{out}"
        );
    }
    let version = std::fs::read_to_string(target.path().join("base_lib/__init__.py")).unwrap();
    assert!(version.contains("1.1"), "pip picked {version}");

    // The same through the numeric project id, with pip download.
    let downloads = tempfile::tempdir().unwrap();
    let by_id = format!("{}/simple/", r.server.project_api(&r.libs_id));
    let out = run_ok(
        client("pip")
            .args(["download", "--no-cache-dir", "--no-deps", "-d"])
            .arg(downloads.path())
            .args([
                "--index-url",
                &with_credentials(&by_id, "__token__", &r.token),
                "mid-lib==2.0",
            ]),
    );
    assert!(
        downloads
            .path()
            .join("mid_lib-2.0-py3-none-any.whl")
            .exists(),
        "{out}"
    );
}

#[test]
fn pip_require_hashes_and_uv_install_through_a_deploy_token() {
    let r = registry();
    let (filename, bytes) = wheel("hashed", "3.0", &[]);
    let sha = crate::support::sha256_hex(&bytes);
    let dir = dist_dir(&[(filename, bytes)]);
    let line = r.server.cli(&[
        "deploy-token",
        "add",
        "acme",
        "--name",
        "ci",
        "--scopes",
        "read_package_registry,write_package_registry",
    ]);
    let (username, secret) = line.split_once(' ').unwrap();
    twine_upload(
        &r.server.project_api("acme/libs"),
        username,
        secret,
        dir.path(),
    );

    let index = with_credentials(
        &format!("{}/simple/", r.server.project_api("acme/libs")),
        username,
        secret,
    );
    let reqs = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(reqs.path(), format!("hashed==3.0 --hash=sha256:{sha}\n")).unwrap();
    let target = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--require-hashes", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, "-r"])
            .arg(reqs.path()),
    );
    assert!(target.path().join("hashed/__init__.py").exists());

    // uv resolves through the group index with the deploy token of the group.
    let venv = tempfile::tempdir().unwrap();
    run_ok(
        client("uv")
            .args(["venv", "--quiet"])
            .arg(venv.path().join("v")),
    );
    let group_index = with_credentials(
        &format!("{}/simple", r.server.group_api("acme")),
        username,
        secret,
    );
    let out = run_ok(
        client("uv")
            .args(["pip", "install", "--python"])
            .arg(venv.path().join("v/bin/python"))
            .args(["--index-url", &group_index, "hashed==3.0"]),
    );
    assert!(out.contains("hashed==3.0"), "{out}");
}

#[test]
fn uv_publish_is_rerunnable_and_check_url_finds_fresh_uploads() {
    let r = registry();
    let dir = dist_dir(&[
        wheel("uv-made", "1.0", &["idna; extra == 'x'"]),
        sdist("uv-made", "1.0"),
    ]);
    let publish_url = r.server.project_api("acme/libs");
    let check_url = format!("{}/simple/", r.server.project_api("acme/libs"));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let publish = |extra: &[&str]| {
        run_ok(
            client("uv")
                .args([
                    "publish",
                    "--publish-url",
                    &publish_url,
                    "--username",
                    "__token__",
                    "--password",
                    &r.token,
                ])
                .args(extra)
                .args(&files),
        )
    };
    publish(&[]);
    publish(&[]);
    let out = publish(&["--check-url", &check_url]);
    assert!(
        out.to_lowercase().contains("skipping") || out.contains("already exists"),
        "{out}"
    );

    // What uv sent is stored and served back byte for byte.
    let index = with_credentials(&check_url, "__token__", &r.token);
    let downloads = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args([
                "download",
                "--no-cache-dir",
                "--no-deps",
                "--no-binary",
                ":none:",
                "-d",
            ])
            .arg(downloads.path())
            .args(["--index-url", &index, "uv-made==1.0"]),
    );
    let name = "uv_made-1.0-py3-none-any.whl";
    assert_eq!(
        std::fs::read(downloads.path().join(name)).unwrap(),
        std::fs::read(dir.path().join(name)).unwrap()
    );
}

#[test]
fn twine_shows_why_an_upload_was_refused() {
    let r = registry();
    let url = r.server.project_api("acme/libs");
    let first = dist_dir(&[wheel("clash", "1.0", &[])]);
    twine_upload(&url, "__token__", &r.token, first.path());
    // Same filename, other bytes: refused, and twine prints only the status line.
    let rebuilt = dist_dir(&[wheel("clash", "1.0", &["idna"])]);
    let out = client("twine")
        .env("COLUMNS", "400")
        .env("NO_COLOR", "1")
        .args(["upload", "--non-interactive", "--disable-progress-bar"])
        .args(["--repository-url", &url, "-u", "__token__", "-p", &r.token])
        .arg(rebuilt.path().join("clash-1.0-py3-none-any.whl"))
        .output()
        .unwrap();
    // twine 7 logs through rich, to stdout when that is not a terminal.
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains(
            "File already exists: \"clash-1.0-py3-none-any.whl\" is stored with other content"
        ),
        "{shown}"
    );
}
