//! python-gitlab 8.6.0's own functional tests, unchanged, against the real binary (issue 11),
//! with our conftest (tests/e2e/pgfunc/) in place of their GitLab container.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{Server, heavy, multipart, post, python_tools, run_ok};

const VERSION: &str = "8.6.0";

/// The modules in scope (users, groups, projects, packages, deploy tokens and the matching
/// command line); the rest of their suite tests GitLab's other features.
const MODULES: &[&str] = &[
    "api/test_users.py",
    "api/test_current_user.py",
    "api/test_groups.py",
    "api/test_projects.py",
    "api/test_packages.py",
    "api/test_deploy_tokens.py",
    "api/test_lazy_objects.py",
    "cli/test_cli_users.py",
    "cli/test_cli_projects.py",
    "cli/test_cli_packages.py",
    "cli/test_cli_v4.py",
    "cli/test_cli.py",
    "cli/test_cli_resource_access_tokens.py",
];

/// The whole run is bounded; their tests sleep a few seconds here and there by design.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn pgfunc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/pgfunc")
}

/// Their source distribution, downloaded once and kept in target/ between runs.
fn sdist() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pgfunc-sdist");
    let file = cache.join(format!("python_gitlab-{VERSION}.tar.gz"));
    if !file.exists() {
        run_ok(
            Command::new(python_tools().join("pip"))
                .args(["download", "--quiet", "--no-binary", ":all:", "--no-deps"])
                .arg(format!("python-gitlab=={VERSION}"))
                .arg("--dest")
                .arg(&cache)
                .env("PIP_CONFIG_FILE", "/dev/null")
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        );
    }
    file
}

/// A venv with python-gitlab and the test requirements of its requirements-test.txt,
/// created once (a separate one: their pins differ from the client venv's).
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pgfunc-venv");
        let bin = venv.join("bin");
        // A venv copied from another checkout's target/ has scripts (their `gitlab` among
        // them, which the CLI tests run) naming that checkout's interpreter: made anew.
        let shebang = format!("#!{}/python", bin.display());
        let own_script = std::fs::read_to_string(bin.join("gitlab"))
            .is_ok_and(|script| script.starts_with(&shebang));
        let ready = own_script
            && Command::new(bin.join("python"))
                .args([
                    "-c",
                    "import gitlab, pytest, pytest_console_scripts, responses",
                ])
                .output()
                .is_ok_and(|o| o.status.success());
        if !ready {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            run_ok(
                Command::new(python)
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
            );
            run_ok(
                Command::new(bin.join("python"))
                    .args(["-m", "pip", "install", "--quiet"])
                    .arg(format!("python-gitlab=={VERSION}"))
                    .args(["pytest==9.1.1", "pytest-console-scripts==1.4.1"])
                    .args(["responses==0.26.3", "PyYaml==6.0.3"])
                    .env("PIP_CONFIG_FILE", "/dev/null")
                    .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            );
        }
        bin
    })
}

/// Unpacks their `tests` folder (tests/functional and the top-level conftest it relies on)
/// into `dest`, then puts our conftest in place of the one that starts a GitLab container.
fn unpack_tests(dest: &Path) {
    let bytes = std::fs::read(sdist()).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let prefix = format!("python_gitlab-{VERSION}/");
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let Ok(inside) = path.strip_prefix(&prefix) else {
            continue;
        };
        let keep = inside.starts_with("tests/functional")
            || inside == Path::new("tests/__init__.py")
            || inside == Path::new("tests/conftest.py");
        if keep && entry.header().entry_type().is_file() {
            let target = dest.join(inside);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            entry.unpack(&target).unwrap();
        }
    }
    std::fs::copy(
        pgfunc_dir().join("conftest.py"),
        dest.join("tests/functional/conftest.py"),
    )
    .unwrap();
}

/// Their functional modules in scope pass against Wheelhouse, except the listed expected
/// failures (strict: a listed test that passes fails the run, so the list shrinks).
#[test]
fn python_gitlab_functional_tests_pass() {
    let _heavy = heavy();
    let bin = venv();
    let work = tempfile::tempdir().unwrap();
    unpack_tests(work.path());

    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let token = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let mut child = Command::new(bin.join("python"))
        .args(["-m", "pytest", "-p", "no:cacheprovider", "--rootdir"])
        .arg(work.path())
        .args([
            "--script-launch-mode=subprocess",
            "-q",
            "-rfEX",
            "--no-header",
        ])
        .args(MODULES.iter().map(|m| format!("tests/functional/{m}")))
        .current_dir(work.path())
        .env("WHEELHOUSE_URL", &server.base)
        .env("WHEELHOUSE_TOKEN", &token)
        .env(
            "WHEELHOUSE_EXPECTED_FAILURES",
            pgfunc_dir().join("expected_failures.txt"),
        )
        // Their `gitlab` command line runs as a subprocess, found on PATH.
        .env("PATH", path)
        .env("HOME", work.path())
        .env_remove("PYTHON_GITLAB_CFG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            child.kill().unwrap();
            panic!("python-gitlab's functional tests ran over {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = reader.join().unwrap();
    let summary = out.lines().last().unwrap_or_default();
    eprintln!(
        "python-gitlab {VERSION} functional: {summary} (wall {:?})",
        started.elapsed()
    );
    assert!(status.success(), "{out}");
}

/// python-gitlab sends a multipart body when a file rides along (an avatar); the API takes
/// JSON or a form, and says so rather than reporting a JSON syntax error at column 2.
#[test]
fn a_multipart_body_is_refused_by_name() {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let token = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    let (content_type, body) = multipart(&[("name", "models")], Some(("avatar.png", b"png")));
    let answer = post(
        &server.url("/api/v4/projects"),
        &[("PRIVATE-TOKEN", &token), ("Content-Type", &content_type)],
        body,
    );
    assert_eq!(answer.status, 400, "{}", answer.text());
    let message = answer.json()["message"].to_string();
    assert!(message.contains("multipart"), "{message}");
}
