//! The web interface in a real browser: headless Chromium, driven through ChromeDriver by
//! Selenium (tests/e2e/check_browser.py). Screenshots land in target/screenshots/.

use std::process::Command;

use crate::support::{Server, basic, chromium, python_tools, run_ok, upload, wheel_described};

#[test]
fn a_maintainer_signs_in_makes_a_token_and_yanks_in_chromium() {
    chromium();
    let server = Server::start();
    let out = crate::support::cli_output(
        server.data_dir(),
        &["user", "add", "maria", "--password-stdin"],
        Some("maria password\n"),
    );
    assert!(out.status.success(), "{out:?}");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/models", "--visibility", "private"]);
    server.cli(&[
        "member",
        "add",
        "acme/models",
        "maria",
        "--role",
        "maintainer",
    ]);
    let token = server.cli(&["token", "add", "maria", "--name", "t", "--scopes", "api"]);
    let description = "# Model kit\n\nTools for **models**.\n\n```python\nimport model_kit\n```\n";
    for version in ["1.0", "1.1"] {
        let (file, bytes) = wheel_described(
            "model-kit",
            version,
            &["numpy>=1.20"],
            Some(">=3.9"),
            description,
        );
        let api = server.project_api("acme/models");
        let resp = upload(
            &api,
            Some(&basic("__token__", &token)),
            "model-kit",
            version,
            &file,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/check_browser.py");
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        &server.base,
        "maria",
        "maria password",
        "acme/models",
        shots,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
    for name in [
        "sign-in",
        "project",
        "token",
        "package",
        "yanked",
        "package-phone",
    ] {
        let png = std::path::Path::new(shots).join(format!("{name}.png"));
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 5_000, "{} is missing or empty", png.display());
    }
}
