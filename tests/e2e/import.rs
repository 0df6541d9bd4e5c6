//! `wheelhouse import` with data made by the registries people leave: a real pypiserver's
//! packages directory (filled by twine) and a real `devpi-export` dump, then pip installs
//! from Wheelhouse; a second run changes nothing; a broken file is refused by name.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{
    Server, basic, cli_output, client, dist_dir, run_ok, wheel, with_credentials,
};

const PEERS: &[&str] = &[
    "pypiserver==2.4.2",
    "devpi-server==6.20.3",
    "devpi-client==7.3.0",
];

/// pypiserver and devpi (pinned), in a venv of their own made once per checkout.
fn peers() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("import-venv");
        let bin = venv.join("bin");
        let ready = ["pypi-server", "devpi-server", "devpi", "devpi-export"]
            .iter()
            .all(|tool| bin.join(tool).exists());
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
                    .arg("--disable-pip-version-check")
                    .args(PEERS),
            );
        }
        bin
    })
}

/// A peer server, killed when the test ends (or fails).
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts a peer and waits (bounded) until it listens on `port`.
fn start(cmd: &mut Command, port: u16) -> Peer {
    let peer = Peer(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    peer
}

/// pip installs `requirement` from a Wheelhouse project, with nothing else to fall back on.
fn pip_installs(server: &Server, project: &str, auth_token: &str, requirement: &str) {
    let index = with_credentials(
        &server.url(&format!("/api/v4/projects/{project}/packages/pypi/simple/")),
        "__token__",
        auth_token,
    );
    let target = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args(["install", "--no-deps", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, requirement]),
    );
}

#[test]
fn packages_come_over_from_pypiserver_and_devpi() {
    let bin = peers();
    let made = [
        wheel("alpha", "1.0", &[]),
        wheel("alpha", "1.1", &[]),
        wheel("beta-pkg", "2.0", &[]),
    ];
    let dists = dist_dir(&made);
    let uploads: Vec<PathBuf> = made
        .iter()
        .map(|(name, _)| dists.path().join(name))
        .collect();

    // pypiserver: its own upload fills its packages directory.
    let packages = tempfile::tempdir().unwrap();
    let port = free_port();
    let _pypiserver = start(
        Command::new(bin.join("pypi-server"))
            .args(["run", "-p", &port.to_string(), "-i", "127.0.0.1"])
            .args(["-a", ".", "-P", "."])
            .arg(packages.path()),
        port,
    );
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive"])
            .args(["--repository-url", &format!("http://127.0.0.1:{port}/")])
            .args(["-u", "any", "-p", "any"])
            .args(&uploads),
    );

    // devpi: two indexes of one user, filled by twine, then its own export.
    let devpi_dir = tempfile::tempdir().unwrap();
    let serverdir = devpi_dir.path().join("server");
    run_ok(
        Command::new(bin.join("devpi-init"))
            .arg("--serverdir")
            .arg(&serverdir)
            .args(["--root-passwd", "devpi-root"]),
    );
    let devpi_port = free_port();
    let devpi_url = format!("http://127.0.0.1:{devpi_port}");
    let devpi_server = start(
        Command::new(bin.join("devpi-server"))
            .arg("--serverdir")
            .arg(&serverdir)
            .args(["--host", "127.0.0.1", "--port", &devpi_port.to_string()]),
        devpi_port,
    );
    let devpi = |args: &[&str]| {
        run_ok(
            Command::new(bin.join("devpi"))
                .args(args)
                .arg("--clientdir")
                .arg(devpi_dir.path().join("client")),
        )
    };
    devpi(&["use", &devpi_url]);
    devpi(&["login", "root", "--password", "devpi-root"]);
    devpi(&["index", "-c", "root/dev", "bases="]);
    devpi(&["index", "-c", "root/stable", "bases="]);
    let upload_to = |index: &str, files: &[PathBuf]| {
        run_ok(
            client("twine")
                .args(["upload", "--non-interactive"])
                .args(["--repository-url", &format!("{devpi_url}/{index}/")])
                .args(["-u", "root", "-p", "devpi-root"])
                .args(files),
        )
    };
    upload_to("root/dev", &uploads[..2]);
    upload_to("root/stable", &uploads[2..]);
    drop(devpi_server);
    let export = devpi_dir.path().join("export");
    run_ok(
        Command::new(bin.join("devpi-export"))
            .arg("--serverdir")
            .arg(&serverdir)
            .arg(&export),
    );

    let server = Server::start();
    crate::web::add_user(&server, "root", "root password", true);
    let token = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    server.cli(&["group", "add", "legacy"]);

    // The folder into one project; the devpi indexes into one project each.
    let out = server.cli(&[
        "import",
        packages.path().to_str().unwrap(),
        "--project",
        "legacy/pypiserver",
    ]);
    assert!(
        out.contains("imported 3, already present 0, refused 0"),
        "{out}"
    );
    let out = server.cli(&[
        "import",
        "--devpi-export",
        export.to_str().unwrap(),
        "--group",
        "legacy",
    ]);
    assert!(
        out.contains("imported 3, already present 0, refused 0"),
        "{out}"
    );
    pip_installs(&server, "legacy%2Fpypiserver", &token, "alpha==1.1");
    pip_installs(&server, "legacy%2Froot-dev", &token, "alpha==1.0");
    pip_installs(&server, "legacy%2Froot-stable", &token, "beta-pkg");

    // devpi's upload time is kept (it is older than this import only by seconds, so compare
    // with what devpi's own dump says).
    let dump: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("dataindex.json")).unwrap()).unwrap();
    let when = dump["indexes"]["root/stable"]["files"][0]["log"][0]["when"].clone();
    let answer = crate::support::request(
        "GET",
        &server.url("/api/v4/projects/legacy%2Froot-stable/packages/pypi/simple/beta-pkg/"),
        &[
            ("Authorization", &basic("__token__", &token)),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    let page = answer
        .json()
        .get("files")
        .cloned()
        .unwrap_or_else(|| panic!("no files: {}", answer.text()));
    let stamp = page[0]["upload-time"].as_str().unwrap().to_owned();
    let part = |i: usize| when[i].as_i64().unwrap();
    let expected = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        part(0),
        part(1),
        part(2),
        part(3),
        part(4),
        part(5)
    );
    assert!(stamp.starts_with(&expected), "{stamp} vs devpi's {when}");

    // A second run into the projects it made must say so (`--into-existing`); then it is
    // idempotent: it finds everything present and changes nothing.
    let said = server.cli_fails(&[
        "import",
        "--devpi-export",
        export.to_str().unwrap(),
        "--group",
        "legacy",
    ]);
    assert!(
        said.contains("legacy/root-dev, legacy/root-stable exist already"),
        "{said}"
    );
    let out = server.cli(&[
        "import",
        "--devpi-export",
        export.to_str().unwrap(),
        "--group",
        "legacy",
        "--into-existing",
    ]);
    assert!(
        out.contains("imported 0, already present 3, refused 0"),
        "{out}"
    );

    // A broken file and a file that lies about its name: refused by name, the rest imported,
    // and the command fails so a script notices.
    let mixed = dist_dir(&[
        ("gamma-1.0.tar.gz".to_string(), b"not a tarball".to_vec()),
        wheel("gamma", "1.0", &[]),
    ]);
    let (lie_name, lie_bytes) = wheel("delta", "1.0", &[]);
    std::fs::write(
        mixed.path().join(lie_name.replace("delta", "omega")),
        lie_bytes,
    )
    .unwrap();
    let out = cli_output(
        server.data_dir(),
        &[
            "import",
            mixed.path().to_str().unwrap(),
            "--project",
            "legacy/mixed",
        ],
        None,
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("refused") && said.contains("gamma-1.0.tar.gz"),
        "{said}"
    );
    assert!(said.contains("omega-1.0"), "{said}");
    assert!(
        said.contains("imported 1, already present 0, refused 2"),
        "{said}"
    );
    // Bad arguments are named.
    let out = cli_output(
        server.data_dir(),
        &[
            "import",
            "--devpi-export",
            "/nonexistent",
            "--group",
            "legacy",
        ],
        None,
    );
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("not a devpi export"), "{said}");
}

/// A hand-made `devpi-export` dump: one stage index `root/dev` listing `relpaths`.
fn devpi_dump(dir: &Path, relpaths: &[&str]) {
    let files: Vec<serde_json::Value> = relpaths
        .iter()
        .map(|relpath| {
            serde_json::json!({"type": "releasefile", "relpath": relpath, "log": [
                {"what": "upload", "who": "root", "when": [2001, 9, 9, 1, 46, 40]}
            ]})
        })
        .collect();
    let dump = serde_json::json!({"indexes": {"root/dev": {
        "indexconfig": {"type": "stage"},
        "files": files
    }}});
    std::fs::write(dir.join("dataindex.json"), dump.to_string()).unwrap();
}

/// Writes `dist` at `relpath` below `dir`, making the folders.
fn put(dir: &Path, relpath: &str, dist: &(String, Vec<u8>)) {
    let path = dir.join(relpath);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &dist.1).unwrap();
}

/// Runs `wheelhouse import ARGS`, which must end (not hang) within a minute: (ok, all it said).
fn import_bounded(server: &Server, args: &[&str]) -> (bool, String) {
    let mut child = server
        .command()
        .arg("import")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = crate::support::eventually(Duration::from_secs(60), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(ended, "the import hung");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The filenames a project's simple page lists (as the operator's admin token sees them).
fn listed(server: &Server, token: &str, project: &str, name: &str) -> Vec<String> {
    let page = crate::support::request(
        "GET",
        &format!("{}/simple/{name}/", server.project_api(project)),
        &[
            ("Authorization", &basic("__token__", token)),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    if page.status == 404 {
        return Vec::new();
    }
    page.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect()
}

fn admin(server: &Server) -> String {
    server.cli(&["user", "add", "root", "--admin"]);
    server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"])
}

#[test]
fn a_devpi_export_cannot_reach_outside_itself_by_a_link() {
    let server = Server::start();
    let token = admin(&server);
    // Wheels the service account can read elsewhere on the machine.
    let elsewhere = dist_dir(&[wheel("secret-a", "1.0", &[]), wheel("secret-b", "1.0", &[])]);
    let export = tempfile::tempdir().unwrap();
    put(
        export.path(),
        "root/dev/+f/1/good-1.0-py3-none-any.whl",
        &wheel("good", "1.0", &[]),
    );
    let f = export.path().join("root/dev/+f");
    std::os::unix::fs::symlink(
        elsewhere.path().join("secret_a-1.0-py3-none-any.whl"),
        f.join("2"),
    )
    .unwrap();
    // A linked file, and a linked folder (every path component is resolved).
    std::os::unix::fs::symlink(elsewhere.path(), f.join("3")).unwrap();
    std::fs::create_dir(f.join("4")).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("secret_a-1.0-py3-none-any.whl"),
        f.join("4/secret_a-1.0-py3-none-any.whl"),
    )
    .unwrap();
    devpi_dump(
        export.path(),
        &[
            "root/dev/+f/1/good-1.0-py3-none-any.whl",
            "root/dev/+f/3/secret_b-1.0-py3-none-any.whl",
            "root/dev/+f/4/secret_a-1.0-py3-none-any.whl",
        ],
    );
    // The README's line, on a registry where the group does not exist yet.
    let (ok, said) = import_bounded(
        &server,
        &[
            "--devpi-export",
            export.path().to_str().unwrap(),
            "--group",
            "acme",
        ],
    );
    assert!(!ok, "a refused file fails the command: {said}");
    assert!(
        said.contains("imported 1, already present 0, refused 2"),
        "{said}"
    );
    assert!(
        said.contains("secret_b-1.0-py3-none-any.whl: resolves outside"),
        "{said}"
    );
    assert!(
        said.contains("secret_a-1.0-py3-none-any.whl: a symbolic link, not followed"),
        "{said}"
    );
    assert_eq!(
        listed(&server, &token, "acme/root-dev", "good"),
        ["good-1.0-py3-none-any.whl"]
    );
    for secret in ["secret-a", "secret-b"] {
        assert!(listed(&server, &token, "acme/root-dev", secret).is_empty());
    }
}

#[test]
fn a_fifo_in_an_export_is_refused_without_hanging() {
    let server = Server::start();
    let token = admin(&server);
    let export = tempfile::tempdir().unwrap();
    put(
        export.path(),
        "root/dev/+f/1/good-1.0-py3-none-any.whl",
        &wheel("good", "1.0", &[]),
    );
    let fifo = export
        .path()
        .join("root/dev/+f/2/stuck-1.0-py3-none-any.whl");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    run_ok(Command::new("mkfifo").arg(&fifo));
    devpi_dump(
        export.path(),
        &[
            "root/dev/+f/1/good-1.0-py3-none-any.whl",
            "root/dev/+f/2/stuck-1.0-py3-none-any.whl",
        ],
    );
    let (ok, said) = import_bounded(
        &server,
        &[
            "--devpi-export",
            export.path().to_str().unwrap(),
            "--group",
            "acme",
        ],
    );
    assert!(!ok, "{said}");
    assert!(
        said.contains("stuck-1.0-py3-none-any.whl: not a regular file"),
        "{said}"
    );
    assert!(
        said.contains("imported 1, already present 0, refused 1"),
        "{said}"
    );
    assert_eq!(
        listed(&server, &token, "acme/root-dev", "good"),
        ["good-1.0-py3-none-any.whl"]
    );
    // A FIFO in a plain folder too.
    let folder = dist_dir(&[wheel("other", "1.0", &[])]);
    run_ok(Command::new("mkfifo").arg(folder.path().join("stuck-1.0-py3-none-any.whl")));
    let (ok, said) = import_bounded(
        &server,
        &[folder.path().to_str().unwrap(), "--project", "acme/folder"],
    );
    assert!(!ok, "{said}");
    assert!(
        said.contains("imported 1, already present 0, refused 1"),
        "{said}"
    );
}

#[test]
fn an_import_creates_new_projects_unless_told_to_add_to_existing_ones() {
    let server = Server::start();
    let token = admin(&server);
    server.cli(&["group", "add", "acme"]);
    server.cli(&["project", "add", "acme/root-dev"]);
    let export = tempfile::tempdir().unwrap();
    put(
        export.path(),
        "root/dev/+f/1/good-1.0-py3-none-any.whl",
        &wheel("good", "1.0", &[]),
    );
    devpi_dump(export.path(), &["root/dev/+f/1/good-1.0-py3-none-any.whl"]);
    let dump = export.path().to_str().unwrap();
    let said = server.cli_fails(&["import", "--devpi-export", dump, "--group", "acme"]);
    assert!(said.contains("acme/root-dev exists already"), "{said}");
    assert!(said.contains("--into-existing"), "{said}");
    assert!(listed(&server, &token, "acme/root-dev", "good").is_empty());
    // A folder into a project named on the command line: the same rule.
    let folder = dist_dir(&[wheel("good", "1.0", &[])]);
    let dir = folder.path().to_str().unwrap();
    let said = server.cli_fails(&["import", dir, "--project", "acme/root-dev"]);
    assert!(said.contains("acme/root-dev exists already"), "{said}");
    // Said on purpose, it goes in; a re-run finds it present.
    let out = server.cli(&[
        "import",
        "--devpi-export",
        dump,
        "--group",
        "acme",
        "--into-existing",
    ]);
    assert!(out.contains("imported 1, already present 0"), "{out}");
    let out = server.cli(&[
        "import",
        dir,
        "--project",
        "acme/root-dev",
        "--into-existing",
    ]);
    assert!(out.contains("imported 0, already present 1"), "{out}");
}

#[test]
fn every_file_an_import_leaves_out_is_reported_with_its_reason() {
    let server = Server::start();
    let token = admin(&server);
    let folder = dist_dir(&[
        wheel("good", "1.0", &[]),
        ("legacy-1.0.tar.bz2".to_string(), b"old sdist".to_vec()),
        ("legacy-1.0-py3.8.egg".to_string(), b"old egg".to_vec()),
        ("README.txt".to_string(), b"notes".to_vec()),
    ]);
    // The README's folder example as written, on a fresh registry: `acme` is created too.
    let out = cli_output(
        server.data_dir(),
        &[
            "import",
            folder.path().to_str().unwrap(),
            "--project",
            "acme/legacy",
        ],
        None,
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("legacy-1.0.tar.bz2: a .tar.bz2 distribution"),
        "{said}"
    );
    assert!(
        said.contains("legacy-1.0-py3.8.egg: a .egg distribution"),
        "{said}"
    );
    assert!(said.contains("README.txt: not a distribution"), "{said}");
    assert!(
        said.contains("imported 1, already present 0, refused 0, skipped 3"),
        "{said}"
    );
    assert_eq!(
        listed(&server, &token, "acme/legacy", "good"),
        ["good-1.0-py3-none-any.whl"]
    );
    let group = crate::support::get(
        &server.url("/api/v4/groups/acme"),
        Some(&basic("__token__", &token)),
    );
    assert_eq!(group.status, 200, "{}", group.text());
    assert_eq!(group.json()["visibility"], "private");
}
