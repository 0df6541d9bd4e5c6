//! Two-tenant fuzzing: a signed-in stranger (tenant B) fires random management and package
//! requests at tenant A's seeded groups, projects, members, tokens and packages, and after every
//! step nothing that A can read has changed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, basic, sdist, sha256_hex, upload, wheel};

/// How long the random walk runs (the issue asks for a bounded run); `TENANT_FUZZ_SECONDS`
/// lengthens it by hand.
pub(crate) fn budget() -> Duration {
    let seconds = std::env::var("TENANT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// A small deterministic generator (xorshift64*): a failing run prints its seed, and
/// `TENANT_FUZZ_SEED=N` replays it.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// `TENANT_FUZZ_SEED` to replay a printed run, else a new seed from the clock.
    pub(crate) fn seed() -> u64 {
        std::env::var("TENANT_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            })
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One HTTP exchange with any method and an optional JSON body.
pub(crate) fn send(method: &str, url: &str, token: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
    // One agent for the run keeps connections alive: the walk is thousands of requests.
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    let agent = AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into()
    });
    let builder = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("PRIVATE-TOKEN", token)
        .header(
            "Accept",
            "application/vnd.pypi.simple.v1+json, application/json",
        );
    let response = match body {
        Some(body) => agent.run(
            builder
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).unwrap())
                .unwrap(),
        ),
        None => agent.run(builder.body(()).unwrap()),
    }
    .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().read_to_vec().unwrap_or_default();
    (status, body)
}

/// Tenant A's objects and the handles tenant B aims at.
struct Seeded {
    server: Server,
    alice: String,
    bob: String,
    /// A's groups and projects: (id, full path).
    a_groups: Vec<(i64, String)>,
    a_projects: Vec<(i64, String)>,
    /// Every id B might aim at, A's and B's own, plus ones that do not exist.
    group_ids: Vec<String>,
    project_ids: Vec<String>,
    user_ids: Vec<i64>,
    token_ids: Vec<i64>,
    deploy_token_ids: Vec<i64>,
    /// A's project and group access tokens: B must not see, revoke or rotate them.
    access_token_ids: Vec<i64>,
    package_ids: Vec<i64>,
    file_ids: Vec<i64>,
    upstream_ids: Vec<i64>,
    rule_ids: Vec<i64>,
    /// Package names A publishes, for B's look-alike uploads.
    a_names: Vec<&'static str>,
}

fn encoded(path: &str) -> String {
    path.replace('/', "%2F")
}

fn seed() -> Seeded {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    server.user_with_token("carol", "api");
    // A second, read-only token of A's: B must not be able to revoke or rotate it either.
    server.cli(&[
        "token", "add", "alice", "--name", "ro", "--scopes", "read_api",
    ]);
    for (path, visibility) in [
        ("acme", "private"),
        ("acme/ml", "private"),
        ("acmepub", "public"),
        ("acmeint", "internal"),
        ("bobco", "private"),
    ] {
        server.cli(&["group", "add", path, "--visibility", visibility]);
    }
    for (path, visibility) in [
        ("acme/models", "private"),
        ("acme/ml/nets", "private"),
        ("acmepub/tools", "public"),
        ("acmeint/web", "internal"),
        ("bobco/app", "private"),
    ] {
        server.cli(&["project", "add", path, "--visibility", visibility]);
    }
    for group in ["acme", "acmepub", "acmeint"] {
        server.cli(&["member", "add", group, "alice", "--role", "owner"]);
    }
    server.cli(&[
        "member",
        "add",
        "acme/models",
        "carol",
        "--role",
        "maintainer",
    ]);
    // B's foothold: its own group, a guest seat on A's public project and a reporter seat on
    // A's internal one — enough to be a member, never enough to change anything of A's.
    server.cli(&["member", "add", "bobco", "bob", "--role", "owner"]);
    server.cli(&["member", "add", "acmepub/tools", "bob", "--role", "guest"]);
    server.cli(&["member", "add", "acmeint/web", "bob", "--role", "reporter"]);
    for path in ["acme", "acme/models", "acmepub/tools"] {
        server.cli(&[
            "deploy-token",
            "add",
            path,
            "--name",
            "ci",
            "--scopes",
            "read_package_registry,write_package_registry",
        ]);
    }
    // A's upstream; its deny-all rule keeps A's indexes from asking it anything.
    let upstream = server.cli(&["group", "upstream", "add", "acme", "http://127.0.0.1:9/a/"]);
    let rule = server.cli(&["group", "upstream", "rule", "add", "acme", "deny", "*"]);
    let upstream_ids = vec![upstream.parse().unwrap(), 999];
    let rule_ids = vec![rule.parse().unwrap(), 999];
    let alice_auth = basic("__token__", &alice);
    let a_names = vec!["secretpkg", "mlnet", "toolkit", "webapp"];
    for (project, name) in [
        ("acme/models", "secretpkg"),
        ("acme/ml/nets", "mlnet"),
        ("acmepub/tools", "toolkit"),
        ("acmeint/web", "webapp"),
    ] {
        for (filename, bytes) in [wheel(name, "1.0", &[]), sdist(name, "1.0")] {
            let r = upload(
                &server.project_api(project),
                Some(&alice_auth),
                name,
                "1.0",
                &filename,
                &bytes,
                &[],
            );
            assert_eq!(r.status, 201, "{}", r.text());
        }
    }
    let bob_auth = basic("__token__", &bob);
    let (filename, bytes) = wheel("bobtool", "1.0", &[]);
    let r = upload(
        &server.project_api("bobco/app"),
        Some(&bob_auth),
        "bobtool",
        "1.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let api = |path: &str| -> Value {
        let (status, body) = send("GET", &server.url(path), &root, None);
        assert_eq!(status, 200, "{path}");
        serde_json::from_slice(&body).unwrap()
    };
    let id_of = |v: &Value| v["id"].as_i64().unwrap();
    let mut a_groups = Vec::new();
    let mut group_ids = Vec::new();
    for path in ["acme", "acme/ml", "acmepub", "acmeint", "bobco"] {
        let id = id_of(&api(&format!("/api/v4/groups/{}", encoded(path))));
        if !path.starts_with("bob") {
            a_groups.push((id, path.to_string()));
        }
        group_ids.push(id.to_string());
        group_ids.push(encoded(path));
    }
    let mut a_projects = Vec::new();
    let mut project_ids = Vec::new();
    let mut package_ids = Vec::new();
    let mut file_ids = Vec::new();
    for path in [
        "acme/models",
        "acme/ml/nets",
        "acmepub/tools",
        "acmeint/web",
        "bobco/app",
    ] {
        let id = id_of(&api(&format!("/api/v4/projects/{}", encoded(path))));
        if !path.starts_with("bob") {
            a_projects.push((id, path.to_string()));
        }
        project_ids.push(id.to_string());
        project_ids.push(encoded(path));
        for package in api(&format!("/api/v4/projects/{id}/packages"))
            .as_array()
            .unwrap()
        {
            let package_id = id_of(package);
            package_ids.push(package_id);
            let files = api(&format!(
                "/api/v4/projects/{id}/packages/{package_id}/package_files"
            ));
            file_ids.extend(files.as_array().unwrap().iter().map(id_of));
        }
    }
    // Ids nobody holds, and one past the end, so B also probes the missing.
    group_ids.extend(["999".to_string(), "nosuch".to_string()]);
    project_ids.extend(["999".to_string(), "nosuch%2Fthing".to_string()]);
    let user_ids = api("/api/v4/users?per_page=100")
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let mut token_ids = Vec::new();
    for user in ["alice", "carol", "root"] {
        let uid = id_of(&api(&format!("/api/v4/users?username={user}"))[0]);
        let tokens = api(&format!("/api/v4/personal_access_tokens?user_id={uid}"));
        token_ids.extend(tokens.as_array().unwrap().iter().map(id_of));
    }
    let mut deploy_token_ids = Vec::new();
    for (kind, path) in [
        ("groups", "acme"),
        ("projects", "acme/models"),
        ("projects", "acmepub/tools"),
    ] {
        let tokens = api(&format!("/api/v4/{kind}/{}/deploy_tokens", encoded(path)));
        deploy_token_ids.extend(tokens.as_array().unwrap().iter().map(id_of));
    }
    let mut access_token_ids = Vec::new();
    for (kind, path) in [("groups", "acme"), ("projects", "acme%2Fmodels")] {
        let body = serde_json::json!({"name": "ci", "scopes": ["api"], "access_level": 30});
        let url = server.url(&format!("/api/v4/{kind}/{path}/access_tokens"));
        let (status, answer) = send("POST", &url, &alice, Some(&body));
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
        access_token_ids.push(id_of(&serde_json::from_slice(&answer).unwrap()));
    }
    Seeded {
        server,
        alice,
        bob,
        a_groups,
        a_projects,
        group_ids,
        project_ids,
        user_ids,
        token_ids,
        deploy_token_ids,
        access_token_ids,
        package_ids,
        file_ids,
        upstream_ids,
        rule_ids,
        a_names,
    }
}

/// Fields whose value moves with every read (A's own reads update its token's last use).
const VOLATILE: &[&str] = &["last_used_at"];

fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in VOLATILE {
                map.remove(*key);
            }
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// Everything A can read about its own objects: details, lists, members, deploy tokens,
/// packages, both index kinds, and the bytes behind every file link.
fn view_of_a(s: &Seeded) -> BTreeMap<String, String> {
    let mut view = BTreeMap::new();
    let mut read = |path: String| {
        let (status, body) = send("GET", &s.server.url(&path), &s.alice, None);
        let text = match serde_json::from_slice::<Value>(&body) {
            Ok(mut json) => {
                scrub(&mut json);
                json.to_string()
            }
            Err(_) => String::from_utf8_lossy(&body).into_owned(),
        };
        view.insert(path, format!("{status} {text}"));
    };
    read("/api/v4/user".into());
    read("/api/v4/personal_access_tokens".into());
    for (id, _) in &s.a_groups {
        read(format!("/api/v4/groups/{id}"));
        read(format!("/api/v4/groups/{id}/subgroups"));
        read(format!(
            "/api/v4/groups/{id}/projects?include_subgroups=true"
        ));
        read(format!("/api/v4/groups/{id}/members"));
        read(format!("/api/v4/groups/{id}/deploy_tokens"));
        read(format!("/api/v4/groups/{id}/access_tokens"));
        read(format!("/api/v4/groups/{id}/packages"));
        read(format!("/api/v4/groups/{id}/upstreams"));
        read(format!("/api/v4/groups/{id}/upstream_rules"));
    }
    for (id, _) in &s.a_projects {
        read(format!("/api/v4/projects/{id}"));
        read(format!("/api/v4/projects/{id}/members/all"));
        read(format!("/api/v4/projects/{id}/deploy_tokens"));
        read(format!("/api/v4/projects/{id}/access_tokens"));
        read(format!("/api/v4/projects/{id}/packages"));
    }
    // The indexes pip reads, and the bytes behind each link.
    let mut indexes: Vec<String> = Vec::new();
    for (_, path) in &s.a_groups {
        indexes.push(s.server.group_api(path));
    }
    for (_, path) in &s.a_projects {
        indexes.push(s.server.project_api(path));
    }
    for index in indexes {
        for name in &s.a_names {
            let url = format!("{index}/simple/{name}/");
            let (status, page) = send("GET", &url, &s.alice, None);
            let mut entry = format!("{status} {}", String::from_utf8_lossy(&page));
            if status == 200 {
                let page: Value = serde_json::from_slice(&page).unwrap();
                for file in page["files"].as_array().unwrap() {
                    // Links are relative to the page: `../../files/SHA/NAME`.
                    let href = file["url"].as_str().unwrap().trim_start_matches("../");
                    let (status, bytes) = send("GET", &format!("{index}/{href}"), &s.alice, None);
                    entry.push_str(&format!(" {status}={}", sha256_hex(&bytes)));
                }
            }
            view.insert(url, entry);
        }
    }
    view
}

/// Values B tries in bodies: legal ones, A's names, and paths that reach into A's groups.
const PATHS: &[&str] = &[
    "acme/evil",
    "acme/ml/evil",
    "acmepub/evil",
    "acme",
    "evil",
    "acme%2Fevil",
    "../acme",
    "acme/models",
    "bobco/x",
    "x",
];

/// A JSON body for one of the API's request schemas, filled with hostile but well-typed values.
fn body_for(schema: &Value, components: &Value, s: &Seeded, rng: &mut Rng) -> Value {
    let schema = resolve(schema, components);
    let mut body = serde_json::Map::new();
    let Some(properties) = schema["properties"].as_object() else {
        return json!({});
    };
    for (name, property) in properties {
        if !rng.chance(70) {
            continue;
        }
        let value = match name.as_str() {
            "path" | "name" => json!(rng.pick(PATHS)),
            "parent_id" | "namespace_id" => {
                json!(rng.pick(&s.group_ids).parse::<i64>().unwrap_or(999))
            }
            "user_id" => json!(rng.pick(&s.user_ids)),
            "access_level" => json!(rng.pick(&[10, 20, 30, 40, 50])),
            "visibility" => json!(rng.pick(&["private", "internal", "public"])),
            "scopes" => json!(rng.pick(&[
                vec!["api"],
                vec!["read_package_registry", "write_package_registry"],
                vec!["read_api"],
            ])),
            "expires_at" => json!("2099-01-01"),
            "admin" | "is_admin" => json!(true),
            "username" => json!(rng.pick(&["alice", "bob", "evil"])),
            "email" => json!("bob@evil.example"),
            "password" => json!("bob-owns-you-now"),
            "url" => json!(rng.pick(&["http://127.0.0.1:9/evil/", "ftp://evil/", "evil"])),
            "kind" => json!(rng.pick(&["reserve", "allow", "deny"])),
            "pattern" => json!(rng.pick(&["secretpkg", "*", "acme-*"])),
            _ => match property["type"].as_str().or(property["type"][0].as_str()) {
                Some("boolean") => json!(rng.chance(50)),
                Some("integer") => json!(rng.below(100)),
                _ => json!("evil"),
            },
        };
        body.insert(name.clone(), value);
    }
    Value::Object(body)
}

fn resolve<'a>(schema: &'a Value, components: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return &components["schemas"][name];
    }
    if let Some(choices) = schema["oneOf"].as_array()
        && let Some(object) = choices.iter().find(|c| c.get("$ref").is_some())
    {
        return resolve(object, components);
    }
    schema
}

/// A concrete path for an OpenAPI template, with every parameter drawn from the seeded pools.
fn fill(template: &str, s: &Seeded, rng: &mut Rng) -> String {
    let kind = *rng.pick(&["projects", "groups"]);
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let value = match &rest[start + 1..end] {
            "kind" => kind.to_string(),
            // `/groups/{id}`, `/projects/{id}`, or `/{kind}/{id}` with the kind just drawn.
            "id" if out.ends_with("/groups/") => rng.pick(&s.group_ids).clone(),
            "id" => rng.pick(&s.project_ids).clone(),
            "user_id" => rng.pick(&s.user_ids).to_string(),
            "token" => rng.pick(&s.token_ids).to_string(),
            "token_id" => rng.pick(&s.deploy_token_ids).to_string(),
            "access_token_id" => rng.pick(&s.access_token_ids).to_string(),
            "package_id" => rng.pick(&s.package_ids).to_string(),
            "file_id" => rng.pick(&s.file_ids).to_string(),
            "upstream_id" => rng.pick(&s.upstream_ids).to_string(),
            "rule_id" => rng.pick(&s.rule_ids).to_string(),
            other => panic!("no pool for the path parameter {other} of {template}"),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The resources whose answer differs between two views, with both answers.
fn differences(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}\n  before: {}\n  after:  {v}", before[k]))
        .collect()
}

/// An upper bound on the walk besides its time.
const MAX_STEPS: usize = 20_000;

#[test]
fn a_stranger_changes_nothing_another_tenant_can_read() {
    let _heavy = crate::support::heavy();
    let s = seed();
    let description = {
        let (status, body) = send("GET", &s.server.url("/api/v4/openapi.json"), &s.bob, None);
        assert_eq!(status, 200);
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let components = &description["components"];
    // Every operation the API describes that could change something.
    let mut operations = Vec::new();
    for (template, methods) in description["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            if matches!(method.as_str(), "post" | "put" | "delete" | "patch") {
                // Creations name their place in the body, the likeliest way into A's groups:
                // they get a larger share of the walk.
                let weight = if template.contains('{') { 1 } else { 4 };
                for _ in 0..weight {
                    operations.push((
                        method.to_uppercase(),
                        template.clone(),
                        operation["requestBody"]["content"]["application/json"]["schema"].clone(),
                    ));
                }
            }
        }
    }
    assert!(
        operations.len() > 20,
        "only {} operations",
        operations.len()
    );

    let baseline = view_of_a(&s);
    let seed_value = Rng::seed();
    let mut rng = Rng(seed_value);
    let bob_auth = basic("__token__", &s.bob);
    let started = Instant::now();
    let mut log: Vec<String> = Vec::new();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut full_views = 0;
    while started.elapsed() < budget() && log.len() < MAX_STEPS {
        let step = if rng.chance(15) {
            // Uploads: into A's projects, and A's names into B's own project (legal: it must
            // still not reach A's indexes).
            let (_, project) = rng.pick(&s.a_projects);
            let target = if rng.chance(50) {
                project.as_str()
            } else {
                "bobco/app"
            };
            let name = *rng.pick(&s.a_names);
            let version = *rng.pick(&["1.0", "99.0"]);
            let (filename, bytes) = wheel(name, version, &["evil"]);
            let r = upload(
                &s.server.project_api(target),
                Some(&bob_auth),
                name,
                version,
                &filename,
                &bytes,
                &[],
            );
            (r.status, format!("upload {filename} to {target}"), r.text())
        } else {
            let (method, template, schema) = rng.pick(&operations).clone();
            let path = fill(&template, &s, &mut rng);
            let body = (!schema.is_null()).then(|| body_for(&schema, components, &s, &mut rng));
            let (status, answer) = send(&method, &s.server.url(&path), &s.bob, body.as_ref());
            let shown = body.map(|b| b.to_string()).unwrap_or_default();
            (
                status,
                format!("{method} {path} {shown}"),
                String::from_utf8_lossy(&answer).into_owned(),
            )
        };
        let (status, request, answer) = step;
        *by_status.entry(status).or_default() += 1;
        log.push(format!("{status} {request}"));
        assert!(
            status < 500,
            "seed {seed_value}: a server error for {request}: {answer}\nsteps:\n{}",
            log.join("\n")
        );
        // A's whole view is read after every answer that claims a change, and after every
        // fifth refusal (a refusal must not have changed anything either).
        // The walk's last step is always followed by a full read.
        let last = started.elapsed() >= budget() || log.len() >= MAX_STEPS;
        if status >= 400 && !log.len().is_multiple_of(5) && !last {
            continue;
        }
        full_views += 1;
        let changed = differences(&baseline, &view_of_a(&s));
        assert!(
            changed.is_empty(),
            "seed {seed_value}: tenant B changed what A reads, by {request} or a refusal \
             before it (answered {status}: {answer})\n{}\nsteps:\n{}",
            changed.join("\n"),
            log.join("\n")
        );
    }
    println!(
        "two-tenant fuzz (seed {seed_value}): {} steps by B in {:?}, answers {by_status:?}; \
         A's view of {} resources read {full_views} times, unchanged",
        log.len(),
        started.elapsed(),
        baseline.len()
    );
    assert!(log.len() >= 50, "too few steps ran: {}", log.len());
}
