//! The real clients pointed at one index URL and nothing else: pip, uv (install and lock),
//! poetry and pdm, each in a fresh directory with no cache, so every byte comes from the index.

use std::path::Path;

use std::process::Command;

use super::corpus::{TREE, TREE_MODULES, python};
use crate::support::run_ok;

/// Every proxy variable points at a closed port, and only loopback bypasses it: a client that
/// tried the public index for anything would fail, so a pass proves the one URL was enough.
pub fn loopback_only(mut cmd: Command) -> Command {
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        cmd.env(var, "http://127.0.0.1:9");
        cmd.env(var.to_lowercase(), "http://127.0.0.1:9");
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

pub fn client(tool: &str) -> Command {
    loopback_only(crate::support::client(tool))
}

pub fn packaging(tool: &str, home: &Path) -> Command {
    loopback_only(super::corpus::packaging(tool, home))
}

/// `pip install --target` of `spec` from `index` alone; returns the target directory.
pub fn pip_install(index: &str, spec: &str) -> tempfile::TempDir {
    let target = tempfile::tempdir().unwrap();
    let out = run_ok(
        client("pip")
            .env("PIP_INDEX_URL", index)
            .env_remove("PIP_EXTRA_INDEX_URL")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(target.path())
            .args(["--index-url", index, spec]),
    );
    assert!(out.contains("Successfully installed"), "{out}");
    target
}

/// The mixed tree is in `site`: `acme-private` at 1.0 and every module of the upstream tree.
pub fn assert_tree_installed(site: &Path) {
    for module in TREE_MODULES {
        assert!(
            site.join(module).join("__init__.py").exists(),
            "{module} missing from {}",
            site.display()
        );
    }
    let version = std::fs::read_to_string(site.join("acme_private/__init__.py")).unwrap();
    assert!(
        version.contains("\"1.0\""),
        "acme-private installed: {version}"
    );
}

/// `uv pip install` into a fresh venv; returns the venv's site-packages.
pub fn uv_pip_install(index: &str, spec: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("v");
    run_ok(
        client("uv")
            .args(["venv", "--quiet", "--python"])
            .arg(python())
            .arg(&venv),
    );
    let out = run_ok(
        client("uv")
            .env("UV_DEFAULT_INDEX", index)
            .env_remove("UV_INDEX")
            .env_remove("UV_EXTRA_INDEX_URL")
            .args(["pip", "install", "--python"])
            .arg(venv.join("bin/python"))
            .args(["--default-index", index, spec]),
    );
    assert!(out.contains("acme-private==1.0"), "{out}");
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    (dir, site)
}

/// A project depending on `acme-private`, with `extra` appended to its pyproject.toml.
fn consumer(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"consumer\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\
             dependencies = [\"acme-private\"]\n\n{extra}"
        ),
    )
    .unwrap();
    dir
}

/// The lock file names acme-private 1.0 and the whole tree, and never the bait nor another host.
pub fn assert_locked(lock: &str, down_base: &str, upstream_addr: &str) {
    let lower = lock.to_lowercase();
    for name in ["acme-private"]
        .into_iter()
        .chain(TREE.iter().map(|(n, _, _)| *n))
    {
        assert!(
            lower.contains(&format!("name = \"{name}\"")),
            "{name} not locked:\n{lock}"
        );
    }
    for (_, version, _) in TREE {
        assert!(
            lock.contains(&format!("\"{version}\"")),
            "{version}:\n{lock}"
        );
    }
    assert!(!lock.contains("99.0"), "the bait was locked:\n{lock}");
    assert!(
        !lock.contains(upstream_addr),
        "upstream URL locked:\n{lock}"
    );
    assert!(!lower.contains("pypi.org"), "public index locked:\n{lock}");
    for line in lock.lines().filter(|l| l.contains("http")) {
        assert!(line.contains(down_base), "a URL off the index: {line}");
    }
}

/// `uv lock` with the group as the one (default) index; returns uv.lock.
pub fn uv_lock(index: &str) -> String {
    let dir = consumer(&format!(
        "[[tool.uv.index]]\nname = \"acme\"\nurl = \"{index}\"\ndefault = true\n"
    ));
    let home = tempfile::tempdir().unwrap();
    // The project's own pyproject.toml is the configuration here, so uv must read it; the
    // user's uv.toml stays out of reach through a throw-away XDG_CONFIG_HOME.
    run_ok(
        client("uv")
            .env_remove("UV_NO_CONFIG")
            .env_remove("UV_INDEX_URL")
            .env_remove("UV_DEFAULT_INDEX")
            .env("XDG_CONFIG_HOME", home.path())
            .current_dir(dir.path())
            .args(["lock", "--python"])
            .arg(python()),
    );
    std::fs::read_to_string(dir.path().join("uv.lock")).unwrap()
}

/// Python code that imports the whole tree and checks acme-private's version, for a tool's
/// `run python -c` (wherever the tool put its venv).
fn import_tree() -> String {
    let modules = TREE_MODULES.join(", ");
    format!("import {modules}; assert acme_private.VERSION == '1.0', acme_private.VERSION")
}

/// `poetry lock` then `poetry install` (into a venv of the project's own) with the group as its
/// one primary source, which replaces PyPI; returns poetry.lock.
pub fn poetry_lock_and_install(index: &str) -> String {
    let dir = consumer(&format!(
        "[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"acme\"\n\
         url = \"{index}\"\npriority = \"primary\"\n"
    ));
    let home = tempfile::tempdir().unwrap();
    let poetry = |args: &[&str]| {
        run_ok(
            packaging("poetry", home.path())
                .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
                .current_dir(dir.path())
                .args(args),
        )
    };
    poetry(&["lock"]);
    poetry(&["install", "--no-root"]);
    poetry(&["run", "python", "-c", &import_tree()]);
    std::fs::read_to_string(dir.path().join("poetry.lock")).unwrap()
}

/// `pdm lock` then `pdm install` (into a venv of the project's own, made from the machine's
/// python, never one of the test venvs) with the group as the source named `pypi`, which
/// replaces PyPI; returns pdm.lock.
pub fn pdm_lock_and_install(index: &str) -> String {
    let dir = consumer(&format!(
        "[[tool.pdm.source]]\nname = \"pypi\"\nurl = \"{index}\"\nverify_ssl = true\n\n\
         [tool.pdm]\ndistribution = false\n"
    ));
    let home = tempfile::tempdir().unwrap();
    let pdm = |args: &[&str]| {
        run_ok(
            packaging("pdm", home.path())
                .env("PDM_PYTHON", base_python())
                .current_dir(dir.path())
                .args(args),
        )
    };
    pdm(&["lock"]);
    pdm(&["install"]);
    pdm(&["run", "python", "-c", &import_tree()]);
    std::fs::read_to_string(dir.path().join("pdm.lock")).unwrap()
}

/// The interpreter the test venvs were made from (not a venv itself).
pub fn base_python() -> String {
    let out = run_ok(
        std::process::Command::new(python())
            .args(["-c", "import sys; print(sys._base_executable)"]),
    );
    out.trim().to_string()
}
