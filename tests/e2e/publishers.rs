//! poetry, pdm, hatch, flit, pipenv and pip-tools configured as the README says: each
//! publishes (or installs) against a private project through the loopback only, a re-run of
//! the same files passes, and a rebuilt file under a published name is refused with the
//! reason shown to the user.

use std::path::Path;
use std::process::Command;

use crate::support::{Server, dist_dir, run_ok, sdist, upload, wheel, with_credentials};
use crate::upstream::clients::{base_python, loopback_only, packaging};

/// A private project `acme/libs` (published to by its numeric id, as `.pypirc` needs: some
/// clients read `%2F` as an interpolation) and a developer's token.
struct Registry {
    _server: Server,
    token: String,
    upload: String,
    /// The group's simple index, without credentials.
    index: String,
}

fn registry() -> Registry {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    let id = server.cli(&["project", "add", "acme/libs", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "developer"]);
    let upload = server.project_api(&id);
    let index = format!("{}/simple/", server.group_api("acme"));
    Registry {
        _server: server,
        token,
        upload,
        index,
    }
}

impl Registry {
    fn index_with_token(&self) -> String {
        with_credentials(&self.index, "__token__", &self.token)
    }

    /// Publishes a wheel of `name` 1.0 over HTTP, for the install-only clients.
    fn publish(&self, name: &str) {
        let (filename, bytes) = wheel(name, "1.0", &[]);
        let auth = crate::support::basic("__token__", &self.token);
        let resp = upload(
            &self.upload,
            Some(&auth),
            name,
            "1.0",
            &filename,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
}

/// A client from the packaging venv with a throw-away home, reaching nothing but loopback.
fn tool(name: &str, home: &Path, dir: &Path) -> Command {
    let mut cmd = loopback_only(packaging(name, home));
    cmd.current_dir(dir);
    cmd
}

/// Runs a command that must fail; returns what it showed the user (stdout and stderr).
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{cmd:?} succeeded:\n{shown}");
    shown
}

/// The refusal names its cause, which only the status line carries for most clients.
fn assert_shows_file_exists(shown: &str) {
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("File already exists"),
        "the reason is not shown:\n{shown}"
    );
}

/// A source tree of `name` 1.0 built by `backend` (requires, build-backend), in `dir`.
fn project_source(dir: &Path, name: &str, backend: (&str, &str), module_text: &str) {
    let module = name.replace('-', "_");
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[project]\nname = \"{name}\"\nversion = \"1.0\"\ndescription = \"Made here\"\n\
             requires-python = \">=3.9\"\nlicense = \"MIT\"\n\n[build-system]\n\
             requires = [\"{}\"]\nbuild-backend = \"{}\"\n",
            backend.0, backend.1
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("src").join(&module)).unwrap();
    std::fs::write(
        dir.join("src").join(&module).join("__init__.py"),
        format!("\"\"\"{module_text}\"\"\"\n"),
    )
    .unwrap();
}

#[test]
fn poetry_publishes_and_installs_from_a_primary_source() {
    let r = registry();
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let backend = ("poetry-core>=2.0", "poetry.core.masonry.api");
    project_source(src.path(), "poetry-made", backend, "One.");
    let poetry = |dir: &Path, args: &[&str]| {
        let mut cmd = tool("poetry", home.path(), dir);
        cmd.env("POETRY_VIRTUALENVS_IN_PROJECT", "true").args(args);
        cmd
    };
    let at_src = |args: &[&str]| run_ok(&mut poetry(src.path(), args));
    at_src(&["config", "repositories.wheelhouse", &r.upload]);
    at_src(&["config", "http-basic.wheelhouse", "__token__", &r.token]);
    at_src(&["publish", "--build", "--repository", "wheelhouse"]);
    at_src(&["publish", "--repository", "wheelhouse"]);

    project_source(src.path(), "poetry-made", backend, "Two.");
    std::fs::remove_dir_all(src.path().join("dist")).unwrap();
    at_src(&["build"]);
    let publish = ["publish", "--repository", "wheelhouse"];
    assert_shows_file_exists(&refused(&mut poetry(src.path(), &publish)));
    at_src(&["publish", "--repository", "wheelhouse", "--skip-existing"]);

    let consumer = tempfile::tempdir().unwrap();
    std::fs::write(
        consumer.path().join("pyproject.toml"),
        "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\
         dependencies = []\n\n[tool.poetry]\npackage-mode = false\n",
    )
    .unwrap();
    let at_consumer = |args: &[&str]| run_ok(&mut poetry(consumer.path(), args));
    let source = ["source", "add", "--priority=primary", "wheelhouse"];
    at_consumer(&[&source[..], &[r.index.as_str()]].concat());
    at_consumer(&["config", "http-basic.wheelhouse", "__token__", &r.token]);
    at_consumer(&["add", "poetry-made"]);
    let out = at_consumer(&[
        "run",
        "python",
        "-c",
        "import poetry_made; print(poetry_made.__doc__)",
    ]);
    assert!(out.contains("One."), "{out}");
}

#[test]
fn pdm_publishes_and_installs_with_the_index_as_its_pypi_source() {
    let r = registry();
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("pyproject.toml"),
        "[project]\nname = \"pdm-made\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    let dist = src.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    for (filename, bytes) in [wheel("pdm-made", "1.0", &[]), sdist("pdm-made", "1.0")] {
        std::fs::write(dist.join(filename), bytes).unwrap();
    }
    let pdm = |dir: &Path, args: &[&str]| {
        let mut cmd = tool("pdm", home.path(), dir);
        // pdm keeps a configured password in the keyring, so CI passes it this way.
        cmd.env("PDM_PUBLISH_PASSWORD", &r.token)
            .env("PDM_PYTHON", base_python())
            .args(args);
        cmd
    };
    let at_src = |args: &[&str]| run_ok(&mut pdm(src.path(), args));
    at_src(&["config", "repository.wheelhouse.url", &r.upload]);
    at_src(&["config", "repository.wheelhouse.username", "__token__"]);
    let publish = ["publish", "--repository", "wheelhouse", "--no-build"];
    // Without a password pdm asks the host for PyPI's trusted publishing first: the JSON 404
    // lets it end with its own message instead of a traceback.
    let out = pdm(src.path(), &publish)
        .env_remove("PDM_PUBLISH_PASSWORD")
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("Username and password are required"),
        "{said}"
    );
    assert!(!said.contains("Traceback"), "{said}");
    at_src(&publish);
    at_src(&publish);

    let (filename, bytes) = wheel("pdm-made", "1.0", &["idna"]);
    std::fs::write(dist.join(filename), bytes).unwrap();
    assert_shows_file_exists(&refused(&mut pdm(src.path(), &publish)));
    let out = at_src(&[&publish[..], &["--skip-existing"]].concat());
    assert!(out.contains("Skipping"), "{out}");

    let consumer = tempfile::tempdir().unwrap();
    std::fs::write(
        consumer.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\
             dependencies = [\"pdm-made\"]\n\n[tool.pdm]\ndistribution = false\n\n\
             [[tool.pdm.source]]\nname = \"pypi\"\nurl = \"{}\"\n",
            with_credentials(&r.index, "__token__", "${WHEELHOUSE_TOKEN}")
        ),
    )
    .unwrap();
    let at_consumer = |args: &[&str]| {
        run_ok(
            pdm(consumer.path(), args)
                .env_remove("PDM_PUBLISH_PASSWORD")
                .env("WHEELHOUSE_TOKEN", &r.token),
        )
    };
    at_consumer(&["install"]);
    let out = at_consumer(&[
        "run",
        "python",
        "-c",
        "import pdm_made; print(pdm_made.VERSION)",
    ]);
    assert!(out.contains("1.0"), "{out}");
}

#[test]
fn hatch_publishes_to_a_configured_repository_and_installs_into_an_environment() {
    let r = registry();
    let home = tempfile::tempdir().unwrap();
    let dist = dist_dir(&[wheel("hatch-made", "1.0", &[]), sdist("hatch-made", "1.0")]);
    let hatch = |args: &[&str]| {
        let mut cmd = tool("hatch", home.path(), dist.path());
        cmd.env("HATCH_INDEX_USER", "__token__")
            .env("HATCH_INDEX_AUTH", &r.token)
            .args(args);
        cmd
    };
    run_ok(&mut hatch(&[
        "config",
        "set",
        "publish.index.repos.wheelhouse.url",
        &r.upload,
    ]));
    let files = ["hatch_made-1.0-py3-none-any.whl", "hatch_made-1.0.tar.gz"];
    let publish = [&["publish", "--repo", "wheelhouse"][..], &files].concat();
    run_ok(&mut hatch(&publish));
    run_ok(&mut hatch(&publish));

    let (filename, bytes) = wheel("hatch-made", "1.0", &["idna"]);
    std::fs::write(dist.path().join(filename), bytes).unwrap();
    assert_shows_file_exists(&refused(&mut hatch(&publish)));

    // An environment installs through pip, with the index in its env-vars.
    let consumer = tempfile::tempdir().unwrap();
    std::fs::write(
        consumer.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1\"\n\n\
             [tool.hatch.envs.default]\nskip-install = true\ndependencies = [\"hatch-made\"]\n\n\
             [tool.hatch.envs.default.env-vars]\nPIP_INDEX_URL = \"{}\"\n",
            with_credentials(&r.index, "__token__", "{env:WHEELHOUSE_TOKEN}")
        ),
    )
    .unwrap();
    let out = run_ok(
        tool("hatch", home.path(), consumer.path())
            .env("WHEELHOUSE_TOKEN", &r.token)
            .args([
                "run",
                "python",
                "-c",
                "import hatch_made; print(hatch_made.VERSION)",
            ]),
    );
    assert!(out.contains("1.0"), "{out}");
}

#[test]
fn flit_publishes_with_a_pypirc() {
    let r = registry();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".pypirc"),
        format!(
            "[distutils]\nindex-servers = wheelhouse\n\n[wheelhouse]\nrepository = {}\n\
             username = __token__\npassword = {}\n",
            r.upload, r.token
        ),
    )
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    let backend = ("flit_core>=3.12,<5", "flit_core.buildapi");
    project_source(src.path(), "flit-made", backend, "One.");
    let flit = || {
        let mut cmd = tool("flit", home.path(), src.path());
        cmd.args(["publish", "--repository", "wheelhouse"]);
        cmd
    };
    run_ok(&mut flit());
    run_ok(&mut flit());
    project_source(src.path(), "flit-made", backend, "Two.");
    assert_shows_file_exists(&refused(&mut flit()));
}

#[test]
fn pipenv_installs_from_a_pipfile_source() {
    let r = registry();
    r.publish("pipenv-made");
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Pipfile"),
        format!(
            "[[source]]\nurl = \"{}\"\nverify_ssl = true\nname = \"wheelhouse\"\n\n\
             [packages]\npipenv-made = \"*\"\n",
            with_credentials(&r.index, "${WHEELHOUSE_USER}", "${WHEELHOUSE_TOKEN}")
        ),
    )
    .unwrap();
    let pipenv = |args: &[&str]| {
        run_ok(
            tool("pipenv", home.path(), dir.path())
                .env("WHEELHOUSE_USER", "__token__")
                .env("WHEELHOUSE_TOKEN", &r.token)
                .env("PIPENV_VENV_IN_PROJECT", "1")
                .env("PIPENV_YES", "1")
                .env("PIPENV_NOSPIN", "1")
                .args(args),
        )
    };
    pipenv(&["install", "--python", &base_python()]);
    let lock = std::fs::read_to_string(dir.path().join("Pipfile.lock")).unwrap();
    assert!(
        lock.contains("pipenv-made") && lock.contains("sha256:"),
        "{lock}"
    );
    assert!(
        !lock.contains(&r.token),
        "the token was written to the lock file"
    );
    let out = pipenv(&[
        "run",
        "python",
        "-c",
        "import pipenv_made; print(pipenv_made.VERSION)",
    ]);
    assert!(out.contains("1.0"), "{out}");
}

#[test]
fn pip_tools_compiles_with_hashes_and_syncs() {
    let r = registry();
    r.publish("piptools-made");
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.in"), "piptools-made\n").unwrap();
    let index = r.index_with_token();
    let at_dir = |name: &str, args: &[&str]| run_ok(tool(name, home.path(), dir.path()).args(args));
    at_dir(
        "pip-compile",
        &[
            "--generate-hashes",
            "--no-emit-index-url",
            "--index-url",
            &index,
            "requirements.in",
        ],
    );
    let pinned = std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap();
    assert!(
        pinned.contains("piptools-made==1.0") && pinned.contains("--hash=sha256:"),
        "{pinned}"
    );
    let venv = dir.path().join("venv");
    run_ok(Command::new(base_python()).args(["-m", "venv"]).arg(&venv));
    let python = venv.join("bin/python");
    let python = python.to_str().unwrap();
    at_dir(
        "pip-sync",
        &[
            "--python-executable",
            python,
            "--index-url",
            &index,
            "requirements.txt",
        ],
    );
    let out = run_ok(
        Command::new(python).args(["-c", "import piptools_made; print(piptools_made.VERSION)"]),
    );
    assert!(out.contains("1.0"), "{out}");
}

#[test]
fn uv_publishes_to_a_named_index_without_trying_trusted_publishing() {
    let r = registry();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"uv-named\"\nversion = \"1.0\"\n\n[[tool.uv.index]]\n\
             name = \"wheelhouse\"\nurl = \"{}\"\npublish-url = \"{}\"\n\n\
             [tool.uv]\ntrusted-publishing = \"never\"\n",
            r.index, r.upload
        ),
    )
    .unwrap();
    let dist = dist_dir(&[wheel("uv-named", "1.0", &[])]);
    let config = tempfile::tempdir().unwrap();
    let publish = || {
        let started = std::time::Instant::now();
        let out = run_ok(
            crate::support::client("uv")
                .env_remove("UV_NO_CONFIG")
                .env("XDG_CONFIG_HOME", config.path())
                .env("UV_INDEX_WHEELHOUSE_USERNAME", "__token__")
                .env("UV_INDEX_WHEELHOUSE_PASSWORD", &r.token)
                .current_dir(dir.path())
                .args(["publish", "--index", "wheelhouse"])
                .arg(dist.path().join("uv_named-1.0-py3-none-any.whl")),
        );
        (out, started.elapsed())
    };
    let (_, first) = publish();
    // The second run finds the file in the index (same hash) and skips it.
    let (out, second) = publish();
    assert!(out.to_lowercase().contains("skipping"), "{out}");
    // Trying trusted publishing first takes about 8 s a run.
    assert!(
        first + second < std::time::Duration::from_secs(10),
        "{first:?} + {second:?}"
    );
}
