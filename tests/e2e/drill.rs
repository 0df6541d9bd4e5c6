//! The disaster drill: Litestream streams the database to an S3 server (moto) while twine
//! clients upload; the machine vanishes (SIGKILL to Wheelhouse and Litestream, the data
//! directory deleted); a new one restores with the recipe's own `litestream restore` and must
//! serve every upload acknowledged more than the stated window before the loss, and nothing
//! broken.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// The recovery point the README states: an upload acknowledged longer ago than this when the
/// machine vanished is restored. Litestream looks for new WAL every second and uploads it every
/// second (packaging/litestream.yml), so about 2 s, with room for a loaded CI machine.
const STATED_WINDOW: Duration = Duration::from_secs(5);
/// How long the clients upload before the machine is lost.
const UPLOAD_FOR: Duration = Duration::from_secs(12);
/// twine clients, and plain HTTP clients beside them (a twine run costs a Python start-up, so
/// these make the uploads dense enough to see which of the last seconds are lost).
const TWINE_CLIENTS: usize = 3;
const HTTP_CLIENTS: usize = 3;
const BUCKET: &str = "wheelhouse-drill";
const RECIPE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/litestream.yml");
const UNIT: &str = include_str!("../../packaging/litestream.service");

/// moto's S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start(bin: &Path) -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        poll("moto_server to listen", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        server
    }

    fn create_bucket(&self, name: &str) {
        let made = send("PUT", &format!("{}/{name}", self.endpoint), &[], Vec::new());
        assert_eq!(made.status, 200, "{}", made.text());
    }

    /// Keys under `prefix` in the bucket.
    fn keys(&self, prefix: &str) -> usize {
        let url = format!("{}/{BUCKET}?list-type=2&prefix={prefix}", self.endpoint);
        get(&url, None).text().matches("<Key>").count()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `done`, checking every 50 ms, and fails after `limit`.
fn poll(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `litestream` with the environment litestream.env gives the unit: the recipe's variables,
/// pointed at the test's S3 server and data directory.
fn litestream(bin: &Path, s3: &S3Server, data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin.join("litestream"));
    cmd.env("WHEELHOUSE_DATA_DIR", data_dir)
        .env("LITESTREAM_BUCKET", BUCKET)
        .env("LITESTREAM_PATH", "litestream/wheelhouse.db")
        .env("LITESTREAM_ENDPOINT", &s3.endpoint)
        .env("LITESTREAM_REGION", "us-east-1")
        .env("LITESTREAM_FORCE_PATH_STYLE", "true")
        .env("AWS_ACCESS_KEY_ID", "drill")
        .env("AWS_SECRET_ACCESS_KEY", "drill")
        // Set on these machines for HTTPS; Litestream's S3 client refuses it for a plain-HTTP
        // endpoint ("unable to add custom RootCAs").
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    cmd
}

/// The arguments of the unit's `KEY=/usr/bin/litestream …` line, with the installed recipe
/// replaced by this checkout's and the data directory by the test's: the drill runs exactly
/// what packaging/litestream.service runs.
fn unit_args(key: &str, data_dir: &Path) -> Vec<String> {
    let line = UNIT
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("litestream.service has no {key} line"));
    line.split_whitespace()
        .skip(1)
        .map(|arg| {
            arg.replace("/etc/wheelhouse/litestream.yml", RECIPE)
                .replace("${WHEELHOUSE_DATA_DIR}", data_dir.to_str().unwrap())
        })
        .collect()
}

/// Wheelhouse on `data_dir` with `--litestream`, its package files in the drill's bucket under
/// `files/` (`WHEELHOUSE_STORAGE_*`), beside Litestream's `litestream/`.
struct Machine {
    child: Child,
    base: String,
    data_dir: PathBuf,
    storage_env: Vec<(String, String)>,
}

impl Machine {
    fn start(data_dir: &Path, s3: &S3Server) -> Machine {
        let storage_env: Vec<(String, String)> = [
            ("KIND", "s3"),
            ("BUCKET", BUCKET),
            ("PREFIX", "files"),
            ("ENDPOINT", &s3.endpoint),
            ("REGION", "us-east-1"),
            ("PATH_STYLE", "true"),
            ("ACCESS_KEY_ID", "drill"),
            ("SECRET_ACCESS_KEY", "drill"),
        ]
        .iter()
        .map(|(k, v)| (format!("WHEELHOUSE_STORAGE_{k}"), v.to_string()))
        .collect();
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--litestream", "serve", "--listen", "127.0.0.1:0"])
            .args(["--max-auth-failures", "0"])
            .envs(storage_env.iter().cloned())
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.strip_prefix("Wheelhouse listening on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Machine {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            storage_env,
        }
    }

    /// A CLI command on this machine's data directory and store; its last line of output.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .envs(self.storage_env.iter().cloned())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "wheelhouse {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().last().unwrap_or_default().trim().to_string()
    }

    fn api(&self) -> String {
        format!("{}/api/v4/projects/g%2Fp/packages/pypi", self.base)
    }

    /// SIGKILL: no shutdown code runs.
    fn vanish(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One upload twine reported as done.
struct Ack {
    filename: String,
    sha256: String,
    at: Instant,
    by_twine: bool,
}

/// Uploads one new wheel after another with twine until `stop`; records what was acknowledged.
fn twine_client(
    worker: usize,
    api: String,
    token: String,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let (filename, bytes) = wheel("drill", &format!("{worker}.{n}"), &[]);
        let sha256 = sha256_hex(&bytes);
        let dir = dist_dir(&[(filename.clone(), bytes)]);
        let done = client("twine")
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args(["--repository-url", &api, "-u", "__token__", "-p", &token])
            .arg(dir.path().join(&filename))
            .output()
            .unwrap();
        if done.status.success() {
            let at = Instant::now();
            acks.lock().unwrap().push(Ack {
                filename,
                sha256,
                at,
                by_twine: true,
            });
        }
        n += 1;
    }
}

/// Uploads one new wheel after another as twine would, over HTTP, until `stop`.
fn http_client(
    worker: usize,
    api: String,
    token: String,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
) {
    let auth = basic("__token__", &token);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let version = format!("{worker}.{n}");
        let (filename, bytes) = wheel("drill", &version, &[]);
        let sha256 = sha256_hex(&bytes);
        let (content_type, body) = multipart(
            &[
                (":action", "file_upload"),
                ("protocol_version", "1"),
                ("name", "drill"),
                ("version", &version),
            ],
            Some((&filename, &bytes)),
        );
        let request = ureq::http::Request::post(&api)
            .header("Content-Type", content_type)
            .header("Authorization", &auth)
            .body(body)
            .unwrap();
        // The server may be killed mid-request: no answer is no acknowledgement.
        let answered = agent.run(request).map(|r| r.status().as_u16());
        if answered.ok() == Some(201) {
            let at = Instant::now();
            acks.lock().unwrap().push(Ack {
                filename,
                sha256,
                at,
                by_twine: false,
            });
        }
        n += 1;
    }
}

/// Every file the restored index lists downloads with the bytes its hash promises; returns the
/// (filename, sha256) listed.
fn listed_and_intact(api: &str, auth: &str) -> Vec<(String, String)> {
    let page = request(
        "GET",
        &format!("{api}/simple/drill/"),
        &[
            ("Authorization", auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let mut listed = Vec::new();
    for file in page.json()["files"].as_array().unwrap() {
        let filename = file["filename"].as_str().unwrap().to_string();
        let sha = file["hashes"]["sha256"].as_str().unwrap().to_string();
        let body = get(&format!("{api}/files/{sha}/{filename}"), Some(auth));
        assert_eq!(body.status, 200, "{filename} listed but not served");
        assert_eq!(sha256_hex(&body.body), sha, "{filename}: other bytes");
        listed.push((filename, sha));
    }
    listed
}

/// Files (not directories) below `dir`.
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// The machine is gone: its whole data directory is deleted (package files are in the bucket).
fn lose_the_machine(data_dir: &Path) {
    std::fs::remove_dir_all(data_dir).unwrap();
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[test]
fn disaster_drill_restores_every_upload_older_than_the_stated_window() {
    let _heavy = heavy();
    let bin = litestream_tools();
    let s3 = S3Server::start(bin);
    s3.create_bucket(BUCKET);
    let root = tempfile::tempdir().unwrap();
    let data: PathBuf = root.path().join("data");
    std::fs::create_dir(&data).unwrap();

    // First install, empty bucket: the unit's restore finds nothing and lets Wheelhouse start.
    run_ok(litestream(bin, &s3, &data).args(unit_args("ExecStartPre=", &data)));
    assert!(!data.join("wheelhouse.db").exists());
    let log = std::fs::File::create(root.path().join("litestream.log")).unwrap();
    let mut replicate = litestream(bin, &s3, &data)
        .args(unit_args("ExecStart=", &data))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Machine::start(&data, &s3);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    server.cli(&["user", "add", "dev"]);
    let token = server.cli(&["token", "add", "dev", "--name", "t", "--scopes", "api"]);
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    let api = server.api();
    poll("Litestream's first upload", Duration::from_secs(60), || {
        s3.keys("litestream/") > 0
    });

    let stop = Arc::new(AtomicBool::new(false));
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let clients: Vec<_> = (0..TWINE_CLIENTS + HTTP_CLIENTS)
        .map(|worker| {
            let (api, token, stop, acks) = (api.clone(), token.clone(), stop.clone(), acks.clone());
            std::thread::spawn(move || {
                if worker < TWINE_CLIENTS {
                    twine_client(worker, api, token, stop, acks)
                } else {
                    http_client(worker, api, token, stop, acks)
                }
            })
        })
        .collect();
    let started = Instant::now();
    // A bounded load, not a wait for a condition: the clients upload for this long.
    std::thread::sleep(UPLOAD_FOR);

    // The machine vanishes mid-upload: no shutdown code runs in either process.
    let killed_at = Instant::now();
    replicate.kill().unwrap();
    server.vanish();
    replicate.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    let in_bucket = s3.keys("files/sha256/");
    assert_eq!(
        files_under(&data.join("blobs")),
        0,
        "package files were written to DATA/blobs, not to the bucket"
    );
    assert!(in_bucket > 0, "no package file reached the bucket");
    lose_the_machine(&data);

    // A new machine: the same unit's restore, then Wheelhouse.
    std::fs::create_dir(&data).unwrap();
    let restore_started = Instant::now();
    run_ok(litestream(bin, &s3, &data).args(unit_args("ExecStartPre=", &data)));
    let restore_took = restore_started.elapsed();
    assert!(data.join("wheelhouse.db").exists(), "nothing restored");
    let restored = Machine::start(&data, &s3);
    let auth = basic("__token__", &token);
    let listed = listed_and_intact(&restored.api(), &auth);
    restored.cli(&["fsck"]);

    let age = |ack: &Ack| killed_at.saturating_duration_since(ack.at);
    let survived = |ack: &Ack| {
        listed
            .iter()
            .any(|(f, s)| *f == ack.filename && *s == ack.sha256)
    };
    let (kept, lost): (Vec<&Ack>, Vec<&Ack>) = acks.iter().partition(|a| survived(a));
    let newest_kept = kept.iter().map(|a| age(a)).min();
    let oldest_lost = lost.iter().map(|a| age(a)).max();
    let by_twine = acks.iter().filter(|a| a.by_twine).count();
    eprintln!(
        "disaster drill: {} uploads acknowledged in {} ({by_twine} by twine); {} restored, {} \
         lost; newest restored was acknowledged {} before the kill, oldest lost {}; restore \
         took {}; {in_bucket} package \
         files in the bucket",
        acks.len(),
        seconds(killed_at - started),
        kept.len(),
        lost.len(),
        newest_kept.map_or("-".into(), seconds),
        oldest_lost.map_or("-".into(), seconds),
        seconds(restore_took),
    );
    assert!(
        acks.len() >= 20,
        "too few uploads for a drill: {}",
        acks.len()
    );
    assert!(by_twine > 0, "twine never got an upload through");
    for ack in &lost {
        assert!(
            age(ack) <= STATED_WINDOW,
            "{} was acknowledged {} before the machine vanished, more than the stated {}, \
             and is not restored",
            ack.filename,
            seconds(age(ack)),
            seconds(STATED_WINDOW)
        );
    }
}
