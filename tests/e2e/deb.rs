//! The Debian package, proven on this machine: `cargo deb` packs the binary under test,
//! `dpkg -i` makes the user, the directories and the unit, the installed binary serves twine
//! and pip as the service user from the installed configuration, `dpkg --remove` keeps the
//! data and `dpkg --purge` deletes it. It changes the machine (a system user, /etc, /var/lib),
//! so it needs root and dpkg, as in CI's container, and fails (never skips) without them.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::support::{
    BIN, client, dist_dir, get, heavy, package_manager, run_ok, wheel, with_credentials,
};

/// The cargo-deb the package is built with here and in packaging/README.md.
const CARGO_DEB_VERSION: &str = "3.8.0";
const DATA: &str = "/var/lib/wheelhouse";
const CONFIG: &str = "/etc/wheelhouse/wheelhouse.toml";
const UNIT: &str = "/usr/lib/systemd/system/wheelhouse.service";
const SYSUSERS: &str = "/usr/lib/sysusers.d/wheelhouse.conf";
const ENABLED: &str = "/etc/systemd/system/multi-user.target.wants/wheelhouse.service";
/// Present while a package this test installed may be on the machine. An installed wheelhouse
/// without it is somebody's registry, which the test refuses to purge.
const MARKER: &str = "/var/lib/wheelhouse.e2e-deb-test";

#[test]
fn the_deb_installs_serves_pip_as_the_service_user_and_purge_alone_deletes_the_data() {
    require_root_and_dpkg();
    // Building cargo-deb the first time takes two cores for minutes: not beside the load tests.
    let _heavy = heavy();
    let cargo_deb = cargo_deb();
    let work = tempfile::tempdir().unwrap();
    let deb = build_deb(&cargo_deb, work.path());

    let _dpkg = package_manager();
    purge_an_earlier_run();
    std::fs::write(MARKER, "wheelhouse installed by tests/e2e/deb.rs\n").unwrap();
    dpkg(&["-i", deb.to_str().unwrap()]);

    // The user, the directories, the configuration and the unit.
    let account = passwd_entry().expect("no wheelhouse user after dpkg -i");
    let (uid, gid) = (account.uid, account.gid);
    assert!(uid < 1000, "not a system user: {account:?}");
    assert_eq!(account.home, DATA, "{account:?}");
    assert!(account.shell.ends_with("nologin"), "{account:?}");
    let data = std::fs::metadata(DATA).expect("dpkg -i made no data directory");
    assert!(data.is_dir());
    assert_eq!((data.uid(), data.gid()), (uid, gid), "data directory owner");
    assert_eq!(
        data.permissions().mode() & 0o7777,
        0o750,
        "data directory mode"
    );
    let config = std::fs::metadata(CONFIG).unwrap();
    assert_eq!(
        (config.uid(), config.gid()),
        (0, gid),
        "configuration owner"
    );
    assert_eq!(
        config.permissions().mode() & 0o7777,
        0o640,
        "configuration mode"
    );
    assert!(Path::new(SYSUSERS).exists());
    assert!(
        std::fs::read_link(ENABLED).is_ok_and(|target| target.ends_with("wheelhouse.service")),
        "the unit is not enabled"
    );

    // systemd's own checks of the installed unit, without systemd running.
    let verify = Command::new("systemd-analyze")
        .args(["verify", UNIT])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {UNIT}:\n{said}"
    );
    let security = run_ok(Command::new("systemd-analyze").args([
        "security",
        "--offline=true",
        "--no-pager",
        UNIT,
    ]));
    let score = security
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .and_then(|line| line.split(": ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/README.md"))
            .unwrap();
    assert!(
        readme.contains(&format!(
            "Overall exposure level for wheelhouse.service: {score}"
        )),
        "packaging/README.md must record the unit's exposure level, now {score}:\n{security}"
    );

    // The installed binary, run the way the unit runs it, on a free loopback port.
    let server = InstalledServer::start(work.path());
    assert!(
        server.startup.iter().any(|l| l.contains("first user")),
        "a fresh install creates the admin: {:?}",
        server.startup
    );
    admin(&["group", "add", "team", "--visibility", "private"]);
    admin(&["project", "add", "team/tools", "--visibility", "private"]);
    admin(&["user", "add", "alice"]);
    admin(&["member", "add", "team", "alice", "--role", "developer"]);
    let token = admin(&["token", "add", "alice", "--name", "ci", "--scopes", "api"]);

    let project = format!("{}/api/v4/projects/team%2Ftools/packages/pypi", server.base);
    let dists = dist_dir(&[wheel("deb-proof", "1.0", &[])]);
    let files: Vec<_> = std::fs::read_dir(dists.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args([
                "--repository-url",
                &project,
                "-u",
                "__token__",
                "-p",
                &token,
            ])
            .args(&files),
    );
    let simple = format!("{project}/simple");
    assert_ne!(get(&format!("{simple}/deb-proof/"), None).status, 200);
    let target = work.path().join("site");
    let out = run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(&target)
            .args([
                "--index-url",
                &with_credentials(&simple, "__token__", &token),
            ])
            .arg("deb-proof"),
    );
    assert!(out.contains("Successfully installed"), "{out}");
    assert!(target.join("deb_proof/__init__.py").exists(), "{out}");
    server.stop();
    // The server and the administration commands ran as the service user: nothing in the data
    // directory belongs to root.
    for path in walk(Path::new(DATA)) {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            meta.uid(),
            uid,
            "{} is not the service user's",
            path.display()
        );
    }

    // Installed over itself, as an upgrade is (prerm and postrm "upgrade", postinst again), it
    // keeps the registry and the configuration's owner and mode.
    dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(admin(&["user", "list"]).contains("alice"));
    let config = std::fs::metadata(CONFIG).unwrap();
    assert_eq!(
        (config.gid(), config.permissions().mode() & 0o7777),
        (gid, 0o640)
    );

    // Remove: the program and the unit go, the data and the configuration stay.
    dpkg(&["--remove", "wheelhouse"]);
    assert_eq!(package_state(), "rc", "removed, configuration kept");
    assert!(!Path::new("/usr/bin/wheelhouse").exists());
    assert!(!Path::new(UNIT).exists());
    assert!(
        Path::new(DATA).join("wheelhouse.db").exists(),
        "remove deleted the data"
    );
    assert!(Path::new(CONFIG).exists());
    // Installed again, it has the same registry.
    dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(admin(&["user", "list"]).contains("alice"));
    // Already there, the data directory keeps its owner and mode.
    let data = std::fs::metadata(DATA).unwrap();
    assert_eq!(
        (data.uid(), data.permissions().mode() & 0o7777),
        (uid, 0o750)
    );

    // Purge: the data, the configuration and the enablement go; the system user stays.
    dpkg(&["--purge", "wheelhouse"]);
    assert_eq!(package_state(), "", "purged");
    assert!(!Path::new(DATA).exists(), "purge kept the data");
    assert!(!Path::new("/etc/wheelhouse").exists());
    assert!(std::fs::symlink_metadata(ENABLED).is_err());
    assert_eq!(
        passwd_entry().map(|a| a.uid),
        Some(uid),
        "the system user stays"
    );
    std::fs::remove_file(MARKER).unwrap();
}

/// Fails, with the reason, where the test cannot run.
fn require_root_and_dpkg() {
    // /proc/self belongs to this process's effective user.
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap();
    assert_eq!(
        euid, 0,
        "tests/e2e/deb.rs installs a .deb with dpkg and must run as root (CI does); \
         run it on a throwaway machine or container: cargo test --test e2e deb::"
    );
    let dpkg = Command::new("dpkg").arg("--version").output();
    assert!(
        dpkg.is_ok_and(|o| o.status.success()),
        "tests/e2e/deb.rs needs dpkg (a Debian or Ubuntu machine, as CI is)"
    );
}

/// cargo-deb, built once into target/tools (kept between runs, like the client venv). A debug
/// build: it costs CI half the CPU of a release one and packs the test's .deb as fast.
fn cargo_deb() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("tools");
    let bin = root.join("bin/cargo-deb");
    let pinned = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_DEB_VERSION));
    if !pinned {
        let started = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run_ok(
            Command::new(cargo)
                .args(["install", "--quiet", "--debug", "--locked", "--force"])
                .args(["cargo-deb", "--version", CARGO_DEB_VERSION, "--root"])
                .arg(&root),
        );
        eprintln!("installed cargo-deb in {:?}", started.elapsed());
    }
    bin
}

/// The package, made from the binary these tests run (no second build): cargo-deb reads the
/// `target/release/wheelhouse` asset from the profile directory the test binary is in. The
/// release package is `cargo deb` alone (packaging/README.md).
fn build_deb(cargo_deb: &Path, out: &Path) -> PathBuf {
    let profile_dir = Path::new(BIN).parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let deb = out.join("wheelhouse.deb");
    run_ok(
        Command::new(cargo_deb)
            .args([
                "--no-build",
                "--fast",
                "--profile",
                profile,
                "--manifest-path",
            ])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--output")
            .arg(&deb)
            // cargo-deb finds the binary through cargo metadata's target directory.
            .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap()),
    );
    let listing = run_ok(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    assert!(listing.contains("./usr/bin/wheelhouse"), "{listing}");
    deb
}

/// Purges what an earlier, interrupted run left; refuses to touch an installation it did not make.
fn purge_an_earlier_run() {
    let known = !package_state().is_empty();
    if (known || Path::new(DATA).exists()) && !Path::new(MARKER).exists() {
        panic!(
            "a wheelhouse package or {DATA} is on this machine and was not installed by this \
             test, which would purge that registry's data. Run the test on a throwaway machine \
             (or, if that installation is disposable: dpkg --purge wheelhouse; rm -rf {DATA})."
        );
    }
    if known {
        dpkg(&["--purge", "wheelhouse"]);
    }
    // A run that failed between remove and purge with the package gone leaves only data.
    if Path::new(DATA).exists() {
        std::fs::remove_dir_all(DATA).unwrap();
    }
}

fn dpkg(args: &[&str]) -> String {
    run_ok(
        Command::new("dpkg")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// dpkg's two-letter state ("ii" installed, "rc" removed with its configuration), or "" for
/// a package dpkg does not know.
fn package_state() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", "wheelhouse"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[derive(Debug)]
struct Account {
    uid: u32,
    gid: u32,
    home: String,
    shell: String,
}

fn passwd_entry() -> Option<Account> {
    let out = Command::new("getent")
        .args(["passwd", "wheelhouse"])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = line.trim().split(':').collect();
    (fields.len() == 7).then(|| Account {
        uid: fields[2].parse().unwrap(),
        gid: fields[3].parse().unwrap(),
        home: fields[5].to_string(),
        shell: fields[6].to_string(),
    })
}

/// An administration command as packaging/README.md gives it: the installed binary, as the
/// service user, with the installed configuration. Returns its last line of standard output
/// (where secrets are printed; the words around them go to standard error).
fn admin(args: &[&str]) -> String {
    let out = Command::new("runuser")
        .args(["-u", "wheelhouse", "--", "/usr/bin/wheelhouse"])
        .args(["--config", CONFIG, "--data-dir", DATA])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wheelhouse {args:?} as the service user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap_or_default().trim().to_string()
}

/// Every path below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

/// The installed unit's User=, Group=, UMask=, Environment= and ExecStart=, as systemd would
/// run them (without the sandboxing, which needs systemd), on 127.0.0.1:0 through
/// WHEELHOUSE_LISTEN: the installed configuration stays as the package left it.
struct InstalledServer {
    child: Child,
    base: String,
    startup: Vec<String>,
}

impl InstalledServer {
    fn start(log_dir: &Path) -> InstalledServer {
        let unit = std::fs::read_to_string(UNIT).unwrap();
        let setting = |key: &str| -> Vec<String> {
            unit.lines()
                .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
                .collect()
        };
        let one = |key: &str| {
            let mut values = setting(key);
            assert_eq!(values.len(), 1, "{key}= in {UNIT}");
            values.remove(0)
        };
        let (user, group, umask) = (one("User"), one("Group"), one("UMask"));
        let exec: Vec<String> = one("ExecStart")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut command = Command::new("setpriv");
        // setpriv execs in place, so the child is the server itself (SIGTERM reaches it).
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={group}"))
            .args(["--init-groups", "--no-new-privs", "--", "sh", "-c"])
            .arg("umask \"$0\" && exec \"$@\"")
            .arg(&umask)
            .args(&exec)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", DATA)
            .env("NO_COLOR", "1");
        for assignments in setting("Environment") {
            for assignment in assignments.split_whitespace() {
                assert!(!assignment.contains('"'), "quoted Environment= in {UNIT}");
                let (name, value) = assignment.split_once('=').unwrap();
                command.env(name, value);
            }
        }
        command.env("WHEELHOUSE_LISTEN", "127.0.0.1:0");
        let log = std::fs::File::create(log_dir.join("installed-server.log")).unwrap();
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut startup = Vec::new();
        let base = loop {
            let Some(line) = lines.next() else {
                let log = std::fs::read_to_string(log_dir.join("installed-server.log"));
                panic!("the installed server exited before listening: {startup:?}\n{log:?}");
            };
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("Wheelhouse listening on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            startup.push(line);
        };
        std::thread::spawn(move || for _ in lines {});
        InstalledServer {
            child,
            base,
            startup,
        }
    }

    /// SIGTERM, as `systemctl stop` sends (KillSignal=): the server finishes and exits cleanly.
    fn stop(mut self) {
        run_ok(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the installed server stopped with {status}"
        );
    }
}

impl Drop for InstalledServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
