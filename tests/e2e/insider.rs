//! The insider walk: a maintainer of another tenant's group (carol in alice's `corp`) fires
//! random access-token creations, rotations and revocations, transfers, member changes and
//! uploads, with her own token and with every bot secret she gets hold of, while the operator
//! now and then imports backdated files. After every step two properties must hold:
//! no credential carol holds, and no member of alice's places, has a role above what an owner
//! granted (carol's own role bounds all she derives), and no filename served by any of alice's
//! group indexes changed its bytes.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::{Server, basic, sha256_hex, upload, wheel};
use crate::tenants::{Rng, budget, send};

/// alice's places (by id, stable across transfers) and who is what there at the start.
struct World {
    server: Server,
    root: String,
    carol_id: i64,
    bob_id: i64,
    /// ("groups" | "projects", id) of every place of alice's.
    places: Vec<(&'static str, i64)>,
    /// Alice's group indexes, whose served bytes must never change.
    group_indexes: Vec<String>,
    /// Access token ids carol aims at (alice's, and the ones carol makes), by place.
    token_ids: Vec<(&'static str, i64, i64)>,
    /// Namespaces, groups (by id) and projects (by id) carol can name in transfers.
    namespaces: Vec<String>,
    groups: Vec<String>,
    projects: Vec<String>,
}

const NAMES: &[&str] = &["vpkg", "corelib"];

fn id_of(server: &Server, root: &str, kind: &str, path: &str) -> i64 {
    let url = server.url(&format!("/api/v4/{kind}/{}", path.replace('/', "%2F")));
    let (status, body) = send("GET", &url, root, None);
    assert_eq!(status, 200, "{kind} {path}");
    serde_json::from_slice::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn publish(server: &Server, token: &str, project: &str, name: &str, version: &str, evil: bool) {
    let requires: &[&str] = if evil { &["evil"] } else { &[] };
    let (filename, bytes) = wheel(name, version, requires);
    let r = upload(
        &server.project_api(project),
        Some(&basic("__token__", token)),
        name,
        version,
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(r.status, 201, "{project} {filename}: {}", r.text());
}

fn seed() -> (World, String) {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    let alice = server.user_with_token("alice", "api");
    let carol = server.user_with_token("carol", "api");
    server.user_with_token("bob", "api");
    for group in ["corp", "corp/team", "corp/carolsub", "carolgrp"] {
        server.cli(&["group", "add", group, "--visibility", "private"]);
    }
    for project in [
        "corp/app",
        "corp/team/lib",
        "carolgrp/side",
        "carolgrp/other",
    ] {
        server.cli(&["project", "add", project, "--visibility", "private"]);
    }
    server.cli(&["member", "add", "corp", "alice", "--role", "owner"]);
    server.cli(&["member", "add", "corp", "carol", "--role", "maintainer"]);
    server.cli(&["member", "add", "carolgrp", "carol", "--role", "owner"]);
    // A subgroup of alice's that carol owns: she may move groups into it and out of it.
    server.cli(&["member", "add", "corp/carolsub", "carol", "--role", "owner"]);
    // The trojans come first: by upload time they are older than what alice publishes.
    for name in NAMES {
        publish(&server, &carol, "carolgrp/side", name, "2.0", true);
        publish(&server, &carol, "carolgrp/other", name, "1.0", true);
    }
    for (project, name) in [("corp/app", "vpkg"), ("corp/team/lib", "corelib")] {
        publish(&server, &alice, project, name, "1.0", false);
        publish(&server, &alice, project, name, "2.0", false);
    }
    let mut places = Vec::new();
    for group in ["corp", "corp/team"] {
        places.push(("groups", id_of(&server, &root, "groups", group)));
    }
    for project in ["corp/app", "corp/team/lib"] {
        places.push(("projects", id_of(&server, &root, "projects", project)));
    }
    // Release automation: alice's owner-level and maintainer-level bots on each place.
    let mut token_ids = Vec::new();
    for &(kind, id) in &places {
        for level in [50, 40] {
            let url = server.url(&format!("/api/v4/{kind}/{id}/access_tokens"));
            let body = json!({"name": "release", "scopes": ["api"], "access_level": level});
            let (status, answer) = send("POST", &url, &alice, Some(&body));
            assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
            let token: Value = serde_json::from_slice(&answer).unwrap();
            token_ids.push((kind, id, token["id"].as_i64().unwrap()));
        }
    }
    let user_id = |name: &str| {
        let url = server.url(&format!("/api/v4/users?username={name}"));
        let (_, body) = send("GET", &url, &root, None);
        serde_json::from_slice::<Value>(&body).unwrap()[0]["id"]
            .as_i64()
            .unwrap()
    };
    let world = World {
        carol_id: user_id("carol"),
        bob_id: user_id("bob"),
        group_indexes: ["corp", "corp/team"]
            .iter()
            .map(|g| server.group_api(g))
            .collect(),
        namespaces: ["corp", "corp/team", "corp/carolsub", "carolgrp", "carol"]
            .map(String::from)
            .to_vec(),
        groups: ["carolgrp", "corp/carolsub", "corp/team"]
            .map(|g| id_of(&server, &root, "groups", g).to_string())
            .to_vec(),
        projects: ["carolgrp/side", "carolgrp/other", "corp/app"]
            .map(|p| id_of(&server, &root, "projects", p).to_string())
            .to_vec(),
        places,
        token_ids,
        server,
        root,
    };
    (world, carol)
}

/// Every member's effective role on each of alice's places: (place, user id) → level.
fn roles(w: &World) -> BTreeMap<(i64, i64), i64> {
    let mut roles = BTreeMap::new();
    for &(kind, id) in &w.places {
        let url = w.server.url(&format!("/api/v4/{kind}/{id}/members/all"));
        let (status, body) = send("GET", &url, &w.root, None);
        assert_eq!(status, 200, "{url}");
        for member in serde_json::from_slice::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
        {
            let user = member["id"].as_i64().unwrap();
            let level = member["access_level"].as_i64().unwrap();
            roles.insert((id, user), level);
        }
    }
    roles
}

/// What each of alice's group indexes serves: (index, filename) → sha256 of the bytes
/// downloaded, checked against the page's own digest.
fn served(w: &World) -> BTreeMap<(String, String), String> {
    let mut served = BTreeMap::new();
    for index in &w.group_indexes {
        for name in NAMES {
            let (status, page) = send("GET", &format!("{index}/simple/{name}/"), &w.root, None);
            if status != 200 {
                continue;
            }
            let page: Value = serde_json::from_slice(&page).unwrap();
            for file in page["files"].as_array().unwrap() {
                let href = file["url"].as_str().unwrap().trim_start_matches("../");
                let (status, bytes) = send("GET", &format!("{index}/{href}"), &w.root, None);
                assert_eq!(status, 200, "{index}/{href}");
                let sha = sha256_hex(&bytes);
                assert_eq!(file["hashes"]["sha256"].as_str(), Some(sha.as_str()));
                let filename = file["filename"].as_str().unwrap().to_owned();
                served.insert((index.clone(), filename), sha);
            }
        }
    }
    served
}

/// A credential carol holds: her own token or a bot secret she got, with its user.
struct Held {
    secret: String,
    user_id: i64,
    how: String,
}

/// One random step by carol (or, now and then, the operator's import). Returns the status,
/// what was done, and a bot secret the answer handed out.
fn step(w: &mut World, held: &[Held], rng: &mut Rng, n: usize) -> (u16, String, Option<Held>) {
    let actor = &held[if rng.chance(60) {
        0
    } else {
        rng.below(held.len())
    }];
    let as_actor = |method: &str, path: &str, body: Option<Value>| {
        send(method, &w.server.url(path), &actor.secret, body.as_ref())
    };
    let who = format!("as {}", actor.how);
    let kind_id = |rng: &mut Rng| *rng.pick(&w.places);
    match rng.below(9) {
        0 => {
            let (kind, id) = kind_id(rng);
            let level = *rng.pick(&[30, 40, 50]);
            let path = format!("/api/v4/{kind}/{id}/access_tokens");
            let body = json!({"name": "mine", "scopes": ["api"], "access_level": level});
            let (status, answer) = as_actor("POST", &path, Some(body));
            let token = got_token(status, &answer, &format!("created at {level} on {path}"));
            if token.is_some() {
                let made = serde_json::from_slice::<Value>(&answer).unwrap()["id"].as_i64();
                w.token_ids.push((kind, id, made.unwrap()));
            }
            (status, format!("{who}: POST {path} level {level}"), token)
        }
        1 | 2 => {
            let &(kind, id, token) = rng.pick(&w.token_ids);
            let path = format!("/api/v4/{kind}/{id}/access_tokens/{token}/rotate");
            let (status, answer) = as_actor("POST", &path, Some(json!({})));
            let got = got_token(status, &answer, &format!("rotated {path}"));
            (status, format!("{who}: POST {path}"), got)
        }
        3 => {
            let &(kind, id, token) = rng.pick(&w.token_ids);
            let path = format!("/api/v4/{kind}/{id}/access_tokens/{token}");
            let (status, _) = as_actor("DELETE", &path, None);
            (status, format!("{who}: DELETE {path}"), None)
        }
        4 => {
            let project = rng.pick(&w.projects);
            let namespace = rng.pick(&w.namespaces);
            let path = format!("/api/v4/projects/{project}/transfer");
            let (status, _) = as_actor("PUT", &path, Some(json!({"namespace": namespace})));
            (status, format!("{who}: PUT {path} -> {namespace}"), None)
        }
        5 => {
            // A group into another (its new parent by path), or to the top level.
            let group = rng.pick(&w.groups);
            let path = format!("/api/v4/groups/{group}/transfer");
            let parent = rng.chance(80).then(|| rng.pick(&w.namespaces).clone());
            let body = match &parent {
                Some(parent) => json!({"group_id": parent}),
                None => json!({}),
            };
            let (status, _) = as_actor("POST", &path, Some(body));
            let to = parent.unwrap_or_else(|| "the top level".into());
            (status, format!("{who}: POST {path} -> {to}"), None)
        }
        8 => {
            let (kind, id) = kind_id(rng);
            let user = if rng.chance(50) { w.carol_id } else { w.bob_id };
            let level = *rng.pick(&[30, 40, 50]);
            let path = format!("/api/v4/{kind}/{id}/members");
            let body = json!({"user_id": user, "access_level": level});
            let (status, _) = as_actor("POST", &path, Some(body.clone()));
            let (status, method) = if status == 409 || status == 400 {
                let path = format!("{path}/{user}");
                (as_actor("PUT", &path, Some(body)).0, "PUT")
            } else {
                (status, "POST")
            };
            (
                status,
                format!("{who}: {method} {path} user {user} level {level}"),
                None,
            )
        }
        6 => {
            let project = rng.pick(&w.projects).clone();
            let name = *rng.pick(NAMES);
            let version = *rng.pick(&["1.0", "2.0", "3.0"]);
            let (filename, bytes) = wheel(name, version, &["evil"]);
            let api = w
                .server
                .url(&format!("/api/v4/projects/{project}/packages/pypi"));
            let auth = basic("__token__", &actor.secret);
            let r = upload(&api, Some(&auth), name, version, &filename, &bytes, &[]);
            (
                r.status,
                format!("{who}: upload {filename} to {project}"),
                None,
            )
        }
        _ => {
            // The operator imports a folder of backdated look-alikes into a new project of
            // alice's group: an import is a path into the group too.
            let folder = tempfile::tempdir().unwrap();
            for name in NAMES {
                let (filename, bytes) = wheel(name, "2.0", &["imported"]);
                let file = folder.path().join(&filename);
                std::fs::write(&file, bytes).unwrap();
                let old =
                    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1e9 as u64);
                std::fs::File::options()
                    .write(true)
                    .open(&file)
                    .unwrap()
                    .set_modified(old)
                    .unwrap();
            }
            let project = format!("corp/imported{n}");
            let dir = folder.path().to_str().unwrap();
            let out = w.server.cli_output(&["import", dir, "--project", &project]);
            let status = if out.status.success() { 201 } else { 400 };
            (status, format!("operator: import into {project}"), None)
        }
    }
}

/// The secret and bot of a created or rotated access token, when the answer holds one.
fn got_token(status: u16, answer: &[u8], how: &str) -> Option<Held> {
    if status >= 300 {
        return None;
    }
    let token: Value = serde_json::from_slice(answer).ok()?;
    Some(Held {
        secret: token["token"].as_str()?.to_owned(),
        user_id: token["user_id"].as_i64()?,
        how: format!("a bot whose token carol {how}"),
    })
}

/// The roles that grew past what an owner granted: a member of alice's places above their
/// start (a new member above carol's own role there), or a credential carol holds above hers.
fn escalations(
    start: &BTreeMap<(i64, i64), i64>,
    now: &BTreeMap<(i64, i64), i64>,
    held: &[Held],
    carol_id: i64,
) -> Vec<String> {
    let carol_on = |place: i64| start.get(&(place, carol_id)).copied().unwrap_or(0);
    let mut found = Vec::new();
    for (&(place, user), &level) in now {
        let bound = start
            .get(&(place, user))
            .copied()
            .unwrap_or(carol_on(place));
        if level > bound {
            found.push(format!(
                "user {user} has {level} on place {place} (bound {bound})"
            ));
        }
        if let Some(h) = held.iter().find(|h| h.user_id == user)
            && level > carol_on(place)
        {
            found.push(format!(
                "carol holds {} with {level} on place {place}, above her {}",
                h.how,
                carol_on(place)
            ));
        }
    }
    found
}

const MAX_STEPS: usize = 2_000;

#[test]
fn an_insider_derives_no_role_above_her_own_and_swaps_no_served_bytes() {
    let _heavy = crate::support::heavy();
    let (mut w, carol) = seed();
    let start_roles = roles(&w);
    let mut first_served = served(&w);
    assert!(
        first_served.len() >= 4,
        "alice's indexes serve too little: {first_served:?}"
    );
    let seed_value = Rng::seed();
    let mut rng = Rng(seed_value);
    let mut held = vec![Held {
        secret: carol,
        user_id: w.carol_id,
        how: "her own token".into(),
    }];
    let started = Instant::now();
    let mut log: Vec<String> = Vec::new();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let budget = budget() / 2;
    while started.elapsed() < budget && log.len() < MAX_STEPS {
        let (status, what, got) = step(&mut w, &held, &mut rng, log.len());
        *by_status.entry(status).or_default() += 1;
        log.push(format!("{status} {what}"));
        assert!(
            status < 500,
            "seed {seed_value}: {what}\n{}",
            log.join("\n")
        );
        held.extend(got);
        if status >= 400 && !log.len().is_multiple_of(4) {
            continue;
        }
        let grown = escalations(&start_roles, &roles(&w), &held, w.carol_id);
        assert!(
            grown.is_empty(),
            "seed {seed_value}: a role grew past its maker's:\n{}\nsteps:\n{}",
            grown.join("\n"),
            log.join("\n")
        );
        // A filename first served during the walk is held to its first bytes too.
        let mut swapped = Vec::new();
        for (key, sha) in served(&w) {
            match first_served.get(&key) {
                Some(first) if *first != sha => swapped.push(format!("{}: {}", key.0, key.1)),
                Some(_) => {}
                None => drop(first_served.insert(key, sha)),
            }
        }
        assert!(
            swapped.is_empty(),
            "seed {seed_value}: served bytes changed for {swapped:?}\nsteps:\n{}",
            log.join("\n")
        );
    }
    println!(
        "insider walk (seed {seed_value}): {} steps in {:?}, answers {by_status:?}, {} \
         credentials held; roles on {} places and {} served files unchanged past their makers",
        log.len(),
        started.elapsed(),
        held.len(),
        w.places.len(),
        first_served.len()
    );
    assert!(log.len() >= 30, "too few steps ran: {}", log.len());
}
