//! The seeded pair for the upstream tests: real wheels of a small dependency tree (downloaded
//! once and kept under target/), an upstream Wheelhouse holding them beside the bait, and a
//! downstream Wheelhouse whose groups use it as their upstream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{Server, basic, client, python_tools, run_ok, upload, wheel};

/// `requests` and everything it needs, pinned, as pure-Python wheels (about 480 KB).
pub const TREE: &[(&str, &str, &str)] = &[
    ("requests", "2.32.3", "requests-2.32.3-py3-none-any.whl"),
    ("urllib3", "2.2.3", "urllib3-2.2.3-py3-none-any.whl"),
    ("idna", "3.10", "idna-3.10-py3-none-any.whl"),
    (
        "charset-normalizer",
        "3.4.0",
        "charset_normalizer-3.4.0-py3-none-any.whl",
    ),
    ("certifi", "2024.8.30", "certifi-2024.8.30-py3-none-any.whl"),
];

/// The module each installed distribution of the tree puts in site-packages.
pub const TREE_MODULES: &[&str] = &[
    "acme_private",
    "requests",
    "urllib3",
    "idna",
    "charset_normalizer",
    "certifi",
];

/// The corpus directory, filled by `pip download` the first time (and kept between runs).
pub fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("upstream-corpus");
        if TREE.iter().all(|(_, _, f)| dir.join(f).exists()) {
            return dir;
        }
        // Into a fresh directory first, then renamed into place: an interrupted download never
        // leaves a half corpus that looks complete.
        let partial = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let pins: Vec<String> = TREE.iter().map(|(n, v, _)| format!("{n}=={v}")).collect();
        run_ok(
            client("pip")
                .args(["download", "--quiet", "--no-deps", "--only-binary=:all:"])
                .args(["--platform", "any", "--python-version", "3.11"])
                .args(["--implementation", "py", "--abi", "none", "-d"])
                .arg(partial.path())
                .args(&pins),
        );
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(partial.keep(), &dir).unwrap();
        dir
    })
}

/// A venv with poetry, pdm, hatch, flit, pipenv and pip-tools, apart from the client venv so
/// their dependencies never change the pip, uv and twine the other tests use. Created once and
/// kept under target/.
pub fn packaging_tools() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging-venv");
        let bin = venv.join("bin");
        // Scripts name their interpreter by absolute path: a venv copied from another
        // checkout's target/ imports fine but runs the other checkout's tools.
        let own_scripts = || {
            let shebang = format!("#!{}", bin.join("python").display());
            ["poetry", "pdm", "hatch", "flit", "pipenv", "pip-compile"]
                .iter()
                .all(|tool| {
                    std::fs::read_to_string(bin.join(tool))
                        .is_ok_and(|script| script.lines().next() == Some(shebang.as_str()))
                })
        };
        // pdm 2.29 breaks on hishel 2 (no `SyncSqliteStorage`): the check and the pin say so.
        let works = || {
            Command::new(bin.join("python"))
                .args([
                    "-c",
                    "import poetry, pdm, hatch, flit, pipenv, piptools, hishel; \
                     hishel.SyncSqliteStorage",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
                && own_scripts()
        };
        if !works() {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            // --clear: made anew, not patched (see `own_scripts`).
            run_ok(
                Command::new(python)
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
            );
            run_ok(Command::new(bin.join("python")).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--upgrade",
                // Pinned: the lock files these write are compared, and a fresh machine should
                // get what this suite was written against.
                "poetry==2.5.1",
                "pdm==2.29.4",
                "hishel<2",
                "hatch==1.18.2",
                "flit==4.2.0",
                "pipenv==2026.10.3",
                "pip-tools==7.6.2",
            ]));
        }
        bin
    })
}

/// poetry or pdm, with a throw-away home so neither reads nor writes the user's configuration
/// or caches.
pub fn packaging(tool: &str, home: &Path) -> Command {
    let mut cmd = Command::new(packaging_tools().join(tool));
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("POETRY_CACHE_DIR", home.join("poetry-cache"))
        .env("POETRY_CONFIG_DIR", home.join("poetry-config"))
        .env("POETRY_NO_INTERACTION", "1")
        .env("PDM_CACHE_DIR", home.join("pdm-cache"))
        .env("PDM_CHECK_UPDATE", "false")
        .env("PDM_NON_INTERACTIVE", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
    cmd
}

/// The two servers: `upstream` plays the public index (a public project with the tree, the
/// bait `acme-private 99.0`, `acme-secret`, `acme-gone 5.0` (a name the group once published),
/// and `leftpad`, whose file nobody fetches), and
/// `down` is the team's Wheelhouse.
pub struct Pair {
    pub upstream: Option<Server>,
    /// The upstream project's simple index, as configured downstream.
    pub upstream_index: String,
    pub down: Server,
    pub down_token: String,
}

impl Pair {
    /// The simple index of a downstream group, as clients are told to use it.
    pub fn index(&self, group: &str) -> String {
        format!("{}/simple/", self.down.group_api(group))
    }

    /// `127.0.0.1:PORT` of the upstream, to tell its URLs apart from the downstream's.
    pub fn upstream_addr(&self) -> String {
        self.upstream_index
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }
}

fn publish(
    server: &Server,
    project: &str,
    auth: &str,
    name: &str,
    version: &str,
    file: (&str, &[u8]),
) {
    let resp = upload(
        &server.project_api(project),
        Some(auth),
        name,
        version,
        file.0,
        file.1,
        &[],
    );
    assert_eq!(resp.status, 201, "{}: {}", file.0, resp.text());
}

/// Downstream groups: `acme` (public; project `acme/app` with `acme-private 1.0`, subgroup
/// `acme/team`), `corp` (private; `corp-private 1.0` needing idna), and `stale` (public, its
/// upstream pages stale at once, for the offline answers). All three use the upstream.
pub fn pair() -> Pair {
    let (upstream, upstream_index) = upstream();
    // Loopback upstreams are off by default (an owner must not reach what only the server
    // reaches); here the upstream is on loopback by design.
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let down_token = downstream(&down, &upstream_index);
    Pair {
        upstream: Some(upstream),
        upstream_index,
        down,
        down_token,
    }
}

/// The upstream half of `pair` and its index URL.
pub fn upstream() -> (Server, String) {
    let dir = corpus();
    let upstream = Server::start();
    upstream.cli(&["group", "add", "pub", "--visibility", "public"]);
    let project_id = upstream.cli(&["project", "add", "pub/pypi", "--visibility", "public"]);
    let token = upstream.user_with_token("maintainer", "api");
    upstream.cli(&["member", "add", "pub", "maintainer", "--role", "maintainer"]);
    let auth = basic("__token__", &token);
    for (name, version, filename) in TREE {
        let bytes = std::fs::read(dir.join(filename)).unwrap();
        publish(
            &upstream,
            "pub/pypi",
            &auth,
            name,
            version,
            (filename, &bytes),
        );
    }
    for (name, version) in [
        ("acme-private", "99.0"),
        ("acme-secret", "1.0"),
        ("acme-gone", "5.0"),
        ("leftpad", "1.0"),
    ] {
        let (filename, bytes) = wheel(name, version, &[]);
        publish(
            &upstream,
            "pub/pypi",
            &auth,
            name,
            version,
            (&filename, &bytes),
        );
    }
    let upstream_index = format!("{}/simple/", upstream.project_api(&project_id));
    (upstream, upstream_index)
}

/// The downstream half of `pair`.
fn downstream(down: &Server, upstream_index: &str) -> String {
    down.cli(&["group", "add", "acme", "--visibility", "public"]);
    down.cli(&["group", "add", "acme/team", "--visibility", "public"]);
    down.cli(&["project", "add", "acme/app", "--visibility", "public"]);
    down.cli(&[
        "project",
        "add",
        "acme/team/tools",
        "--visibility",
        "public",
    ]);
    down.cli(&["group", "add", "corp", "--visibility", "private"]);
    down.cli(&["project", "add", "corp/app", "--visibility", "private"]);
    down.cli(&["group", "add", "stale", "--visibility", "public"]);
    let down_token = down.user_with_token("dev", "api");
    for group in ["acme", "corp", "stale"] {
        down.cli(&["member", "add", group, "dev", "--role", "owner"]);
    }
    let auth = basic("__token__", &down_token);
    let (filename, bytes) = wheel("acme-private", "1.0", &["requests>=2.31"]);
    publish(
        down,
        "acme/app",
        &auth,
        "acme-private",
        "1.0",
        (&filename, &bytes),
    );
    // Published once and deleted: the name stays the group's, never looked up upstream.
    let (filename, bytes) = wheel("acme-gone", "1.0", &[]);
    publish(
        down,
        "acme/app",
        &auth,
        "acme-gone",
        "1.0",
        (&filename, &bytes),
    );
    down.cli(&["delete", "acme/app", "acme-gone", "1.0"]);
    let (filename, bytes) = wheel("corp-private", "1.0", &["idna"]);
    publish(
        down,
        "corp/app",
        &auth,
        "corp-private",
        "1.0",
        (&filename, &bytes),
    );
    down.cli(&["group", "upstream", "add", "acme", upstream_index]);
    down.cli(&["group", "upstream", "add", "corp", upstream_index]);
    down.cli(&[
        "group",
        "upstream",
        "add",
        "stale",
        upstream_index,
        "--cache-hours",
        "0",
    ]);
    down_token
}

/// The client venv's own python, for uv and pdm to resolve against.
pub fn python() -> PathBuf {
    python_tools().join("python")
}
