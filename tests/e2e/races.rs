//! Races over shared blobs: uploads, deletes and `gc` of identical bytes in two projects at
//! once never leave an acknowledged file without its bytes, and an identical re-upload puts a
//! lost blob back.

use std::time::{Duration, Instant};

use crate::support::{Server, basic, cli_output, get, request, sha256_hex, upload, wheel_with};

/// Enough rounds to hit the window many times over, in lanes of their own package names that
/// run side by side (the server mostly waits on fsync); the time bound keeps a slow machine
/// (two cores shared with other builds) from running long, and the test says how many it ran.
const ROUNDS: usize = 3000;
const LANES: [&str; 3] = ["alpha", "bravo", "delta"];
const TIME_LIMIT: Duration = Duration::from_secs(36);
/// Below this many rounds the run proves too little to pass.
const MIN_ROUNDS: usize = 100;

struct Twins {
    server: Server,
    a: String,
    b: String,
    auth: String,
}

/// Two projects, `g/a` and `g/b`, and a maintainer of both.
fn twins() -> Twins {
    let server = Server::start();
    server.cli(&["group", "add", "g"]);
    server.cli(&["project", "add", "g/a"]);
    server.cli(&["project", "add", "g/b"]);
    let token = server.user_with_token("keeper", "api");
    server.cli(&["member", "add", "g", "keeper", "--role", "maintainer"]);
    Twins {
        a: server.project_api("g/a"),
        b: server.project_api("g/b"),
        server,
        auth: basic("__token__", &token),
    }
}

impl Twins {
    fn upload(&self, api: &str, dist: &(String, Vec<u8>), version: &str) -> u16 {
        let name = dist.0.split('-').next().unwrap();
        upload(api, Some(&self.auth), name, version, &dist.0, &dist.1, &[]).status
    }

    /// Downloads the file and its `.metadata` from `api`; `None` when both arrive intact.
    fn damage(&self, api: &str, dist: &(String, Vec<u8>)) -> Option<String> {
        let sha = sha256_hex(&dist.1);
        let url = format!("{api}/files/{sha}/{}", dist.0);
        let file = get(&url, Some(&self.auth));
        if file.status != 200 || sha256_hex(&file.body) != sha {
            return Some(format!("{} answered {}", dist.0, file.status));
        }
        let meta = get(&format!("{url}.metadata"), Some(&self.auth));
        (meta.status != 200).then(|| format!("{}.metadata answered {}", dist.0, meta.status))
    }

    /// The REST id of the only version of `name` that `g/a` holds.
    fn package_in_a(&self, name: &str) -> i64 {
        let list = get(
            &format!("{}?package_name={name}", self.a.trim_end_matches("/pypi")),
            Some(&self.auth),
        )
        .json();
        list[0]["id"].as_i64().unwrap_or_else(|| panic!("{list}"))
    }
}

/// Finding 5: project A deletes a file while project B uploads the same bytes. Every upload
/// acknowledged with 201 must download intact, right away and at the end.
#[test]
fn deleting_in_one_project_never_loses_an_identical_upload_in_another() {
    let _heavy = crate::support::heavy();
    let t = twins();
    let started = Instant::now();
    let lane = |name: &str| {
        let mut acknowledged = Vec::new();
        for round in 0..ROUNDS / LANES.len() {
            if started.elapsed() > TIME_LIMIT {
                break;
            }
            let version = format!("1.{round}");
            let dist = wheel_with(name, &version, &[], None);
            assert_eq!(t.upload(&t.a, &dist, &version), 201);
            let a_packages = t.a.trim_end_matches("/pypi");
            let delete_url = format!("{a_packages}/{}", t.package_in_a(name));
            let (uploaded, deleted) = std::thread::scope(|s| {
                let uploader = s.spawn(|| t.upload(&t.b, &dist, &version));
                let deleter = s
                    .spawn(|| request("DELETE", &delete_url, &[("Authorization", &t.auth)]).status);
                (uploader.join().unwrap(), deleter.join().unwrap())
            });
            assert_eq!((uploaded, deleted), (201, 204), "{name} round {round}");
            if let Some(damage) = t.damage(&t.b, &dist) {
                panic!("{name} round {round}: acknowledged upload lost its bytes: {damage}");
            }
            acknowledged.push(dist);
        }
        acknowledged
    };
    let acknowledged: Vec<Vec<_>> = std::thread::scope(|s| {
        let lanes: Vec<_> = LANES
            .iter()
            .map(|name| s.spawn(move || lane(name)))
            .collect();
        lanes.into_iter().map(|l| l.join().unwrap()).collect()
    });
    let rounds: usize = acknowledged.iter().map(Vec::len).sum();
    println!("{rounds} upload/delete rounds in {:?}", started.elapsed());
    // On S3 (moto, a Python server) each round costs several object requests.
    let min_rounds = if crate::s3_support::s3_mode() {
        MIN_ROUNDS / 4
    } else {
        MIN_ROUNDS
    };
    assert!(rounds >= min_rounds, "only {rounds} rounds ran");
    // Once everything has settled, every acknowledged file again, a checker per lane.
    let t = &t;
    std::thread::scope(|s| {
        for files in &acknowledged {
            s.spawn(move || {
                for dist in files {
                    assert_eq!(t.damage(&t.b, dist), None, "at the end");
                }
            });
        }
    });
}

/// `gc` beside uploads that adopt its garbage: a blob left unreferenced long ago (by a crash)
/// is uploaded again while `gc` decides to remove it. Its decision and unlink are serialized
/// with the upload, so the acknowledged file keeps its bytes.
#[test]
fn gc_never_collects_a_blob_an_upload_adopts() {
    let _heavy = crate::support::heavy();
    let t = twins();
    let data = t.server.data_dir().to_path_buf();
    let started = Instant::now();
    let mut acknowledged = Vec::new();
    let mut gc_removed = 0;
    for round in 0.. {
        if started.elapsed() > TIME_LIMIT / 4 {
            break;
        }
        let version = format!("2.{round}");
        let dist = wheel_with("race", &version, &[], None);
        let an_hour = Duration::from_secs(3600);
        crate::s3_support::blobs::put(&t.server, &sha256_hex(&dist.1), &dist.1, an_hour);
        let grace = crate::s3_support::blobs::gc_grace(&t.server, 60);
        let (uploaded, gc) = std::thread::scope(|s| {
            let uploader = s.spawn(|| t.upload(&t.b, &dist, &version));
            let collector = s.spawn(|| cli_output(&data, &["gc", "--grace-seconds", &grace], None));
            (uploader.join().unwrap(), collector.join().unwrap())
        });
        assert!(gc.status.success(), "{gc:?}");
        gc_removed += usize::from(String::from_utf8_lossy(&gc.stdout).contains("removed 1 "));
        assert_eq!(uploaded, 201, "round {round}");
        if let Some(damage) = t.damage(&t.b, &dist) {
            panic!("round {round}: acknowledged upload lost its bytes: {damage}");
        }
        acknowledged.push(dist);
    }
    println!(
        "{} adopted orphans, {gc_removed} collected before their upload",
        acknowledged.len()
    );
    assert!(acknowledged.len() >= 10);
    for dist in &acknowledged {
        assert_eq!(t.damage(&t.b, dist), None, "at the end");
    }
}

/// A file whose blobs were lost (to the race above in older versions, or to a disk) comes
/// back whole when the same bytes are uploaded again: the "already stored" answer is given
/// only for a file that is stored whole.
#[test]
fn an_identical_upload_restores_lost_blobs() {
    let t = twins();
    let dist = wheel_with("race", "3.0", &[], None);
    assert_eq!(t.upload(&t.b, &dist, "3.0"), 201);
    let page = request(
        "GET",
        &format!("{}/simple/race/", t.b),
        &[
            ("Authorization", &t.auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    )
    .json();
    let meta_sha = page["files"][0]["core-metadata"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    for lost in [sha256_hex(&dist.1), meta_sha.clone()] {
        crate::s3_support::blobs::remove(&t.server, &lost);
        assert!(t.damage(&t.b, &dist).is_some());
        let again = upload(&t.b, Some(&t.auth), "race", "3.0", &dist.0, &dist.1, &[]);
        assert_eq!(again.status, 200, "{}", again.text());
        assert_eq!(t.damage(&t.b, &dist), None, "restored {lost}");
    }
    let meta_url = format!("{}/files/{}/{}.metadata", t.b, sha256_hex(&dist.1), dist.0);
    assert_eq!(sha256_hex(&get(&meta_url, Some(&t.auth)).body), meta_sha);
    // Whole again: the next identical upload changes nothing.
    assert_eq!(t.upload(&t.b, &dist, "3.0"), 200);
}
