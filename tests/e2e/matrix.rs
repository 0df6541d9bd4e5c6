//! The generated permission matrix: every route the server registers (from
//! `routes::inventory()`), for every kind of caller and every visibility, answers as the
//! permission table (`access::decide`) says, and a refused request changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wheelhouse::access::{Decision, Operation, Who, decide};
use wheelhouse::blobs::BlobStore;
use wheelhouse::model::{Role, Scope, Visibility};
use wheelhouse::routes::{RouteSpec, inventory};

use crate::s3_support::blobs;
use crate::support::{Server, basic, cli_output, multipart, sdist, upload, wheel};

const VISIBILITIES: [Visibility; 3] = [
    Visibility::Public,
    Visibility::Internal,
    Visibility::Private,
];

fn slug(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "mpub",
        Visibility::Internal => "mint",
        Visibility::Private => "mpriv",
    }
}

/// How a caller presents itself.
#[derive(Clone)]
pub(crate) enum Presents {
    Nothing,
    /// A personal access token (`PRIVATE-TOKEN` on the API, Basic on the package routes).
    Token(String),
    /// A deploy token: Basic with its own user name.
    Deploy(String, String),
    /// A web session: its cookie and the CSRF token of its forms.
    Session {
        cookie: String,
        csrf: String,
    },
}

/// What a caller is, to the table: its kind, and (for users) the role it holds on every
/// seeded group and project.
#[derive(Clone, Copy)]
enum Kind {
    Anonymous,
    User {
        role: Option<Role>,
        admin: bool,
    },
    /// A token that authentication refuses (expired, revoked, of a blocked user).
    Refused,
    /// A deploy token of the seeded group of this visibility (`own` there and below), or
    /// of another project entirely (`None`).
    Deploy {
        home: Option<Visibility>,
    },
}

struct Caller {
    label: String,
    kind: Kind,
    scopes: Vec<Scope>,
    presents: Presents,
}

/// What a route acts on, found from its template.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Group,
    Project,
}

/// The seeded registry and the handles the requests need.
struct Seeded {
    server: Server,
    /// Per visibility: (group id, project id, package id, file id, file sha256, filename,
    /// deploy token id of the project).
    targets: BTreeMap<&'static str, Target>,
    /// A reporter of every group and project: the member changed and removed.
    victim_id: i64,
    victim_token_id: i64,
    /// Nobody's member yet: the user added.
    newbie_id: i64,
    callers: Vec<Caller>,
}

#[derive(Clone)]
struct Target {
    group_id: i64,
    project_id: i64,
    package_id: i64,
    file_id: i64,
    sha256: String,
    filename: String,
    group_deploy_token: i64,
    project_deploy_token: i64,
    /// An access token (of a guest bot) of the group and of the project.
    group_access_token: i64,
    project_access_token: i64,
    /// An upstream and a name rule of the group.
    upstream_id: i64,
    rule_id: i64,
    /// An audit event of the group (its creation) and of the project.
    group_event: i64,
    project_event: i64,
}

fn db_path(server: &Server) -> PathBuf {
    server.data_dir().join("wheelhouse.db")
}

fn query_i64(server: &Server, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(db_path(server)).unwrap();
    db.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub(crate) fn password_user(server: &Server, name: &str, admin: bool) {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    if admin {
        args.push("--admin");
    }
    let out = cli_output(server.data_dir(), &args, Some("matrix-password-1\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn sign_in(server: &Server, name: &str) -> Presents {
    let page = crate::support::get(&server.url("/users/sign_in"), None);
    let pre_cookie = cookie_of(&page).unwrap_or_default();
    let csrf = csrf_of(&page.text());
    let body = serde_urlencoded::to_string([
        ("csrf_token", csrf.as_str()),
        ("username", name),
        ("password", "matrix-password-1"),
    ])
    .unwrap();
    let answer = crate::support::post(
        &server.url("/users/sign_in"),
        &[
            ("Cookie", &pre_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.into_bytes(),
    );
    assert_eq!(answer.status, 303, "sign-in of {name}: {}", answer.text());
    let cookie = cookie_of(&answer).expect("a session cookie");
    let page = crate::support::request(
        "GET",
        &server.url("/-/user_settings/password"),
        &[("Cookie", &cookie)],
    );
    Presents::Session {
        csrf: csrf_of(&page.text()),
        cookie,
    }
}

fn cookie_of(resp: &crate::support::Response) -> Option<String> {
    resp.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .find(|c| !c.ends_with('='))
}

fn csrf_of(text: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF token on the page: {text}"))
        + marker.len();
    text[at..at + text[at..].find('"').unwrap()].to_owned()
}

fn seed() -> Seeded {
    let server = Server::start();
    let roles = [
        ("guest", Role::Guest),
        ("reporter", Role::Reporter),
        ("developer", Role::Developer),
        ("maintainer", Role::Maintainer),
        ("owner", Role::Owner),
    ];
    password_user(&server, "root", true);
    for name in [
        "stranger", "victim", "newbie", "blocked", "readonly", "pkgonly",
    ] {
        password_user(&server, name, false);
    }
    for (name, _) in roles {
        password_user(&server, name, false);
    }
    server.cli(&["group", "add", "other", "--visibility", "private"]);
    server.cli(&["project", "add", "other/p", "--visibility", "private"]);
    let mut targets = BTreeMap::new();
    for visibility in VISIBILITIES {
        let group = slug(visibility);
        let project = format!("{group}/p");
        let vis = visibility.to_string();
        server.cli(&["group", "add", group, "--visibility", &vis]);
        server.cli(&["project", "add", &project, "--visibility", &vis]);
        for (name, role) in roles {
            server.cli(&["member", "add", group, name, "--role", role_name(role)]);
        }
        for name in ["blocked", "readonly", "pkgonly"] {
            server.cli(&["member", "add", group, name, "--role", "developer"]);
        }
        server.cli(&["member", "add", group, "victim", "--role", "reporter"]);
        server.cli(&["member", "add", &project, "victim", "--role", "reporter"]);
        for place in [group, project.as_str()] {
            for scopes in ["read_package_registry", "write_package_registry"] {
                server.cli(&[
                    "deploy-token",
                    "add",
                    place,
                    "--name",
                    scopes,
                    "--scopes",
                    scopes,
                ]);
            }
        }
        let owner = server.cli(&["token", "add", "owner", "--name", &vis, "--scopes", "api"]);
        let auth = basic("__token__", &owner);
        let name = format!("pkg-{group}");
        for (filename, bytes) in [wheel(&name, "1.0", &[]), sdist(&name, "1.0")] {
            let r = upload(
                &server.project_api(&project),
                Some(&auth),
                &name,
                "1.0",
                &filename,
                &bytes,
                &[],
            );
            assert_eq!(r.status, 201, "{}", r.text());
        }
        let project_id = query_i64(
            &server,
            &format!("SELECT id FROM projects WHERE full_path = '{project}'"),
        );
        let (file_id, sha256, filename): (i64, String, String) = {
            let db = rusqlite::Connection::open(db_path(&server)).unwrap();
            db.query_row(
                "SELECT f.id, f.sha256, f.filename FROM package_files f
                 JOIN packages p ON p.id = f.package_id
                 WHERE p.project_id = ?1 AND f.filename LIKE '%.whl'",
                [project_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        };
        let deploy_token = |column: &str, id: i64| {
            query_i64(
                &server,
                &format!(
                    "SELECT id FROM deploy_tokens WHERE {column} = {id} \
                     AND name = 'write_package_registry'"
                ),
            )
        };
        let group_id = query_i64(
            &server,
            &format!("SELECT id FROM namespaces WHERE full_path = '{group}'"),
        );
        let upstream_id = server.cli(&[
            "group",
            "upstream",
            "add",
            group,
            "http://127.0.0.1:9/simple/",
        ]);
        let rule_id = server.cli(&["group", "upstream", "rule", "add", group, "deny", "evil-*"]);
        let audit_event = |kind: &str, id: i64| {
            query_i64(
                &server,
                &format!(
                    "SELECT max(id) FROM audit_events WHERE entity_type = '{kind}' \
                     AND entity_id = {id}"
                ),
            )
        };
        let access_token = |kind: &str, id: i64| {
            let r = crate::support::send(
                "POST",
                &server.url(&format!("/api/v4/{kind}/{id}/access_tokens")),
                &[
                    ("PRIVATE-TOKEN", owner.as_str()),
                    ("Content-Type", "application/json"),
                ],
                br#"{"name": "seed", "scopes": ["read_api"], "access_level": 10}"#.to_vec(),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        };
        targets.insert(
            group,
            Target {
                group_id,
                project_id,
                package_id: query_i64(
                    &server,
                    &format!("SELECT id FROM packages WHERE project_id = {project_id}"),
                ),
                file_id,
                sha256,
                filename,
                group_deploy_token: deploy_token("namespace_id", group_id),
                project_deploy_token: deploy_token("project_id", project_id),
                group_access_token: access_token("groups", group_id),
                project_access_token: access_token("projects", project_id),
                upstream_id: upstream_id.parse().unwrap(),
                rule_id: rule_id.parse().unwrap(),
                group_event: audit_event("Group", group_id),
                project_event: audit_event("Project", project_id),
            },
        );
    }
    let victim_token = server.cli(&["token", "add", "victim", "--name", "v", "--scopes", "api"]);
    drop(victim_token);
    let user_id = |name: &str| {
        query_i64(
            &server,
            &format!("SELECT id FROM users WHERE username = '{name}'"),
        )
    };

    let mut callers = vec![Caller {
        label: "anonymous".into(),
        kind: Kind::Anonymous,
        scopes: vec![],
        presents: Presents::Nothing,
    }];
    let api = [Scope::Api];
    let mut person = |label: &str, name: &str, role: Option<Role>, admin: bool| {
        let token = server.cli(&["token", "add", name, "--name", "m", "--scopes", "api"]);
        callers.push(Caller {
            label: format!("{label} (api token)"),
            kind: Kind::User { role, admin },
            scopes: api.to_vec(),
            presents: Presents::Token(token),
        });
        callers.push(Caller {
            label: format!("{label} (web session)"),
            kind: Kind::User { role, admin },
            scopes: vec![],
            presents: sign_in(&server, name),
        });
    };
    person("admin", "root", None, true);
    person("non-member", "stranger", None, false);
    for (name, role) in roles {
        person(name, name, Some(role), false);
    }
    for (name, scope) in [
        ("readonly", Scope::ReadApi),
        ("pkgonly", Scope::ReadPackageRegistry),
    ] {
        let token = server.cli(&[
            "token",
            "add",
            name,
            "--name",
            "m",
            "--scopes",
            scope_name(scope),
        ]);
        callers.push(Caller {
            label: format!("developer ({} token)", scope_name(scope)),
            kind: Kind::User {
                role: Some(Role::Developer),
                admin: false,
            },
            scopes: vec![scope],
            presents: Presents::Token(token),
        });
    }
    // Credentials authentication refuses: a blocked user's, an expired and a revoked token.
    let blocked = server.cli(&["token", "add", "blocked", "--name", "m", "--scopes", "api"]);
    server.cli(&["user", "block", "blocked"]);
    let expired = server.cli(&[
        "token", "add", "readonly", "--name", "old", "--scopes", "api",
    ]);
    let revoked = server.cli(&[
        "token", "add", "readonly", "--name", "gone", "--scopes", "api",
    ]);
    {
        let db = rusqlite::Connection::open(db_path(&server)).unwrap();
        db.execute(
            "UPDATE personal_access_tokens SET expires_on = '2000-01-01' WHERE name = 'old'",
            [],
        )
        .unwrap();
    }
    let revoked_id = query_i64(
        &server,
        "SELECT id FROM personal_access_tokens WHERE name = 'gone'",
    );
    server.cli(&["token", "revoke", &revoked_id.to_string()]);
    for (label, token) in [
        ("blocked user", blocked),
        ("expired token", expired),
        ("revoked token", revoked),
    ] {
        callers.push(Caller {
            label: label.into(),
            kind: Kind::Refused,
            scopes: api.to_vec(),
            presents: Presents::Token(token),
        });
    }
    // Deploy tokens: of each seeded group (reaching its project too), and of another project.
    for visibility in VISIBILITIES {
        for scope in [Scope::ReadPackageRegistry, Scope::WritePackageRegistry] {
            let line = server.cli(&[
                "deploy-token",
                "add",
                slug(visibility),
                "--name",
                "matrix",
                "--scopes",
                scope_name(scope),
            ]);
            let (user, secret) = line.split_once(' ').unwrap();
            callers.push(Caller {
                label: format!(
                    "deploy token of {} ({})",
                    slug(visibility),
                    scope_name(scope)
                ),
                kind: Kind::Deploy {
                    home: Some(visibility),
                },
                scopes: vec![scope],
                presents: Presents::Deploy(user.into(), secret.into()),
            });
        }
    }
    let line = server.cli(&[
        "deploy-token",
        "add",
        "other/p",
        "--name",
        "matrix",
        "--scopes",
        "read_package_registry,write_package_registry",
    ]);
    let (user, secret) = line.split_once(' ').unwrap();
    callers.push(Caller {
        label: "deploy token of another project".into(),
        kind: Kind::Deploy { home: None },
        scopes: vec![Scope::ReadPackageRegistry, Scope::WritePackageRegistry],
        presents: Presents::Deploy(user.into(), secret.into()),
    });
    Seeded {
        victim_id: user_id("victim"),
        victim_token_id: query_i64(
            &server,
            "SELECT t.id FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
             WHERE u.username = 'victim'",
        ),
        newbie_id: user_id("newbie"),
        server,
        targets,
        callers,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Guest => "guest",
        Role::Reporter => "reporter",
        Role::Developer => "developer",
        Role::Maintainer => "maintainer",
        Role::Owner => "owner",
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Api => "api",
        Scope::ReadApi => "read_api",
        Scope::ReadPackageRegistry => "read_package_registry",
        Scope::WritePackageRegistry => "write_package_registry",
        Scope::ReadRegistry => "read_registry",
        Scope::WriteRegistry => "write_registry",
        Scope::ReadRepository => "read_repository",
        Scope::WriteRepository => "write_repository",
    }
}

/// A digest of everything a request could change: every table's rows (but the columns that
/// record a token's or session's last use, which reads update) and the stored blobs.
fn state_digest(data_dir: &Path, store: &BlobStore) -> String {
    let db = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut hasher = Sha256::new();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = statement
            .column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let mut rows = statement.query([]).unwrap();
        let mut lines = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let mut line = String::new();
            for (i, column) in columns.iter().enumerate() {
                if column.starts_with("last_used") || column.starts_with("last_seen") {
                    continue;
                }
                let value: rusqlite::types::Value = row.get(i).unwrap();
                line.push_str(&format!("{column}={value:?};"));
            }
            lines.push(line);
        }
        lines.sort();
        hasher.update(format!("{table}:{}\n", lines.join("\n")));
    }
    for blob in stored_blobs(store) {
        hasher.update(blob.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The digests of the blobs the store holds, sorted.
fn stored_blobs(store: &BlobStore) -> BTreeSet<String> {
    store
        .list()
        .unwrap()
        .into_iter()
        .map(|(sha, _)| sha.as_str().to_string())
        .collect()
}

/// A copy of the data directory's database and of the store's blobs (a local directory or a
/// bucket prefix), put back after every allowed change so each cell starts from the same
/// seeded registry.
struct Snapshot {
    db: PathBuf,
    blobs: PathBuf,
    store: BlobStore,
    _holder: tempfile::TempDir,
}

impl Snapshot {
    fn take(data_dir: &Path, store: BlobStore) -> Snapshot {
        let holder = tempfile::tempdir().unwrap();
        let db = holder.path().join("snapshot.db");
        let live = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
        live.execute("VACUUM INTO ?1", [db.to_str().unwrap()])
            .unwrap();
        let blobs = holder.path().join("blobs");
        std::fs::create_dir(&blobs).unwrap();
        for (sha, _) in store.list().unwrap() {
            store.get_to_file(&sha, &blobs.join(sha.as_str())).unwrap();
        }
        Snapshot {
            db,
            blobs,
            store,
            _holder: holder,
        }
    }

    fn restore(&self, data_dir: &Path) {
        let mut live = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
        live.busy_timeout(std::time::Duration::from_secs(15))
            .unwrap();
        live.restore(
            rusqlite::MAIN_DB,
            &self.db,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .unwrap();
        // Blobs never change in place: put back the removed ones, drop the added ones.
        let kept: BTreeSet<String> = std::fs::read_dir(&self.blobs)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let now = stored_blobs(&self.store);
        for gone in kept.difference(&now) {
            let bytes = std::fs::read(self.blobs.join(gone)).unwrap();
            blobs::put_in(&self.store, gone, &bytes, std::time::Duration::ZERO);
        }
        for added in now.difference(&kept) {
            blobs::remove_in(&self.store, added);
        }
    }
}

/// Which group or project a route acts on, from its template.
fn places(route: &RouteSpec) -> Vec<Option<Place>> {
    let path = route.path.as_str();
    // Creations name their place in the body: none (a top-level group, a project in the
    // caller's own namespace), or a group of each visibility.
    if route.method == actix_web::http::Method::POST
        && matches!(
            path,
            "/api/v4/groups" | "/api/v4/projects" | "/groups/new" | "/projects/new"
        )
    {
        return vec![None, Some(Place::Group)];
    }
    // What a group holds from its upstreams has a page on groups only.
    let group_only_page = path.starts_with("/{place}/-/upstream/");
    let found = if group_only_page {
        vec![Place::Group]
    } else if path.contains("{kind") || (path.starts_with("/{place}") && !path.contains("package"))
    {
        vec![Place::Group, Place::Project]
    } else if path.starts_with("/{place}") || path.contains("/projects/{id}") {
        vec![Place::Project]
    } else if path.contains("/groups/{id}") {
        vec![Place::Group]
    } else {
        vec![]
    };
    if found.is_empty() {
        vec![None]
    } else {
        found.into_iter().map(Some).collect()
    }
}

/// A request for one cell: method, path and query, headers, body.
struct Request {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
    /// The operation the table judges, when the body makes a route do another one (a
    /// `parent_id` makes a group a subgroup).
    operation: Operation,
    /// Whether the route's target is another user's account (tokens, users).
    others_account: bool,
}

/// Fills the route's template and builds a body that the operation accepts when allowed.
fn build(s: &Seeded, route: &RouteSpec, place: Option<Place>, t: &Target, n: usize) -> Request {
    let path = &route.path;
    let is_group = place == Some(Place::Group);
    let mut out = String::new();
    let mut rest = path.as_str();
    let mut others_account = false;
    let package = format!(
        "pkg-{}",
        s.targets
            .iter()
            .find(|(_, v)| v.group_id == t.group_id)
            .unwrap()
            .0
    );
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        let name = &rest[start + 1..end];
        let name = name.split(':').next().unwrap();
        let value = match name {
            "kind" => (if is_group { "groups" } else { "projects" }).to_string(),
            "place" => {
                let group = s.targets.iter().find(|(_, v)| v.group_id == t.group_id);
                let group = group.unwrap().0.to_string();
                if is_group {
                    group
                } else {
                    format!("{group}/p")
                }
            }
            "id" if out.ends_with("/personal_access_tokens/") => {
                others_account = true;
                s.victim_token_id.to_string()
            }
            "id" if out.starts_with("/admin/users/") => {
                others_account = true;
                s.victim_id.to_string()
            }
            "id" if is_group || out.ends_with("/groups/") || out.ends_with("/namespaces/") => {
                t.group_id.to_string()
            }
            "id" => t.project_id.to_string(),
            "user_id" => {
                others_account = true;
                s.victim_id.to_string()
            }
            "token" => {
                others_account = true;
                s.victim_token_id.to_string()
            }
            "token_id" => (if is_group {
                t.group_deploy_token
            } else {
                t.project_deploy_token
            })
            .to_string(),
            "access_token_id" => (if is_group {
                t.group_access_token
            } else {
                t.project_access_token
            })
            .to_string(),
            "package_id" => t.package_id.to_string(),
            "upstream_id" => t.upstream_id.to_string(),
            "rule_id" => t.rule_id.to_string(),
            "event_id" if is_group || out.starts_with("/api/v4/audit_events/") => {
                t.group_event.to_string()
            }
            "event_id" => t.project_event.to_string(),
            "file_id" => t.file_id.to_string(),
            "name" | "project" | "package" => package.clone(),
            "sha256" => t.sha256.clone(),
            "filename" => t.filename.clone(),
            "file" => "style.css".to_string(),
            "action" => "block".to_string(),
            "version" => "1.0".to_string(),
            "rest" => "audience".to_string(),
            other => panic!(
                "the matrix has no value for {{{other}}} in {} {}: add one",
                route.method, route.path
            ),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    // Routes that end with a file name of another kind (`.metadata`) keep their literal tail.
    let mut operation = route.operation;
    let method = route.method.as_str().to_string();
    let unique = format!("m{n}");
    let (content_type, body) =
        if route.path.starts_with("/api/") && operation == Operation::PackagesUpload {
            let name = package.clone();
            let version = format!("2.{n}");
            let (filename, bytes) = wheel(&name, &version, &[]);
            let fields = [
                (":action", "file_upload"),
                ("protocol_version", "1"),
                ("name", name.as_str()),
                ("version", version.as_str()),
            ];
            let (content_type, body) = multipart(&fields, Some((&filename, &bytes)));
            (Some(content_type), body)
        } else if route.path.starts_with("/api/") && matches!(method.as_str(), "POST" | "PUT") {
            let json = match operation {
                Operation::GroupCreate if place.is_some() => {
                    operation = Operation::SubgroupCreate;
                    serde_json::json!({"path": unique, "name": unique, "parent_id": t.group_id})
                }
                Operation::GroupCreate => serde_json::json!({"path": unique, "name": unique}),
                Operation::ProjectCreate if place.is_some() => {
                    serde_json::json!({"path": unique, "name": unique, "namespace_id": t.group_id})
                }
                // No place: the project goes into the caller's own namespace.
                Operation::ProjectCreate => serde_json::json!({"path": unique, "name": unique}),
                Operation::PlaceUpdate => serde_json::json!({"description": "x"}),
                Operation::MembersAdd => {
                    serde_json::json!({"user_id": s.newbie_id, "access_level": 10})
                }
                Operation::MembersChange => serde_json::json!({"access_level": 20}),
                _ if route.path.ends_with("/personal_access_tokens") => {
                    serde_json::json!({"name": unique, "scopes": ["read_package_registry"]})
                }
                Operation::AccessTokensRevoke if route.path.ends_with("/rotate") => {
                    serde_json::json!({})
                }
                Operation::AccessTokensCreate => serde_json::json!({
                    "name": unique, "scopes": ["read_api"], "access_level": 10
                }),
                Operation::DeployTokensCreate | Operation::TokensCreate => {
                    serde_json::json!({"name": unique, "scopes": ["read_package_registry"]})
                }
                Operation::UsersAdmin if route.path == "/api/v4/users" => serde_json::json!({
                    "username": unique, "email": format!("{unique}@example.org"),
                    "password": "matrix-password-2"
                }),
                Operation::UsersAdmin => serde_json::json!({"email": "victim@example.org"}),
                Operation::UpstreamsManage if route.path.ends_with("/upstreams") => {
                    serde_json::json!({"url": format!("http://127.0.0.1:9/{unique}/")})
                }
                Operation::UpstreamsManage if route.path.ends_with("/upstream_rules") => {
                    serde_json::json!({"kind": "reserve", "pattern": unique})
                }
                Operation::UpstreamsManage => serde_json::json!({"cache_validity_hours": 1}),
                _ => serde_json::json!({}),
            };
            (
                Some("application/json".to_string()),
                serde_json::to_vec(&json).unwrap(),
            )
        } else if method == "POST" {
            let upstream_url = format!("http://127.0.0.1:9/{unique}/");
            // Web forms: every field any form reads, with values each accepts.
            let fields = [
                ("visibility", "private"),
                ("username", "newbie"),
                ("access_level", "20"),
                ("name", unique.as_str()),
                ("scope", "read_package_registry"),
                ("reason", "matrix"),
                ("confirm", "on"),
                ("current_password", "matrix-password-1"),
                ("new_password", "matrix-password-1"),
                ("password", "matrix-password-3"),
                ("email", "x@example.org"),
                ("url", &upstream_url),
                ("cache_hours", "12"),
                ("kind", "allow"),
                ("pattern", unique.as_str()),
            ];
            let mut fields: Vec<(&str, &str)> = fields.to_vec();
            // The "New group" and "New project" forms name their place as the API's bodies do.
            let group_id = t.group_id.to_string();
            match operation {
                Operation::GroupCreate if place.is_some() => {
                    operation = Operation::SubgroupCreate;
                    fields.push(("parent_id", &group_id));
                }
                Operation::ProjectCreate if place.is_some() => {
                    fields.push(("namespace_id", &group_id));
                }
                _ => {}
            }
            if operation == Operation::PublicSignIn {
                fields = vec![("username", "nobody"), ("password", "wrong")];
            }
            (
                Some("application/x-www-form-urlencoded".to_string()),
                serde_urlencoded::to_string(&fields).unwrap().into_bytes(),
            )
        } else {
            (None, Vec::new())
        };
    if operation == Operation::UsersAdmin && route.path.starts_with("/admin/users") {
        others_account = true;
    }
    Request {
        method,
        path: out,
        content_type,
        body,
        operation,
        others_account,
    }
}

/// The table's view of a caller on one cell.
fn who(caller: &Caller, place: Option<Place>, visibility: Visibility, own_account: bool) -> Who {
    match caller.kind {
        Kind::Anonymous | Kind::Refused => Who::Anonymous,
        Kind::User { role, admin } => {
            // Account operations: the caller's own account, or someone else's.
            let role = if place.is_none() {
                own_account.then_some(Role::Owner)
            } else {
                role
            };
            let mut who = match &caller.presents {
                Presents::Session { .. } => Who::session(role),
                _ => Who::token(role, &caller.scopes),
            };
            if admin && let Who::User { admin, .. } = &mut who {
                *admin = true;
            }
            who
        }
        Kind::Deploy { home } => Who::DeployToken {
            own: place.is_some() && home == Some(visibility),
            scopes: wheelhouse::model::Scopes::of(&caller.scopes),
        },
    }
}

/// Sends one cell's request as the caller presents itself.
fn send(s: &Seeded, caller: &Caller, request: &Request) -> (u16, String) {
    let url = s.server.url(&request.path);
    let mut headers: Vec<(String, String)> = Vec::new();
    let api_route = request.path.starts_with("/api/");
    let package_route = request.path.contains("/packages/pypi");
    let mut body = request.body.clone();
    match &caller.presents {
        // A stranger's form carries a made-up CSRF token, as a forged one would.
        Presents::Nothing if !api_route && request.method == "POST" => {
            let mut forged = b"csrf_token=forged&".to_vec();
            forged.extend_from_slice(&body);
            body = forged;
        }
        Presents::Nothing => {}
        Presents::Token(token) if package_route => {
            headers.push(("Authorization".into(), basic("__token__", token)))
        }
        Presents::Token(token) => headers.push(("PRIVATE-TOKEN".into(), token.clone())),
        Presents::Deploy(user, secret) => {
            headers.push(("Authorization".into(), basic(user, secret)))
        }
        Presents::Session { cookie, csrf } => {
            headers.push(("Cookie".into(), cookie.clone()));
            if !api_route && request.method == "POST" {
                let mut with_csrf = format!("csrf_token={csrf}&").into_bytes();
                with_csrf.extend_from_slice(&body);
                body = with_csrf;
            }
        }
    }
    if let Some(content_type) = &request.content_type {
        headers.push(("Content-Type".into(), content_type.clone()));
    }
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(&url);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent.run(builder.body(body).unwrap()).unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response
        .into_body()
        .read_to_string()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect::<String>();
    (status, format!("{location} {text}"))
}

/// Operations whose routes never look at credentials (static files, health, sign-in).
fn status_of_anonymous(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::PublicHealth
            | Operation::PublicStatic
            | Operation::PublicSignIn
            | Operation::PublicApiInfo
    )
}

/// Whether the answer is what the decision promises, for this kind of route.
fn conforms(
    decision: Decision,
    status: u16,
    web: bool,
    location: &str,
    operation: Operation,
) -> bool {
    let to_sign_in = status == 303 && location.starts_with("/users/sign_in");
    match decision {
        // The sign-in and sign-out forms check their own CSRF token first (a session's
        // form token is not the sign-in page's): refused or answered, never a server error.
        Decision::Allow if operation == Operation::PublicSignIn => status < 500,
        Decision::Allow => !matches!(status, 401 | 403 | 404) && !to_sign_in,
        Decision::Unauthorized if web => to_sign_in || status == 401,
        Decision::Unauthorized => status == 401,
        Decision::Hidden => status == 404,
        Decision::Forbidden => status == 403,
    }
}

#[test]
fn every_route_answers_every_caller_as_the_permission_table_says() {
    let _heavy = crate::support::heavy();
    let s = seed();
    let routes = inventory();
    assert!(routes.len() > 60, "only {} routes", routes.len());
    let snapshot = Snapshot::take(s.server.data_dir(), s.server.store());
    let baseline = state_digest(s.server.data_dir(), &snapshot.store);
    let mut cells = 0usize;
    let mut allowed_ok = 0usize;
    let mut failures = Vec::new();
    let mut per_operation: BTreeMap<String, usize> = BTreeMap::new();
    for route in &routes {
        let web = !route.path.starts_with("/api/");
        for place in places(route) {
            // Without a target the visibility does not matter: one column is enough.
            let visibilities: &[Visibility] = if place.is_some() {
                &VISIBILITIES
            } else {
                &VISIBILITIES[..1]
            };
            for &visibility in visibilities {
                let target = &s.targets[slug(visibility)];
                for caller in &s.callers {
                    // Pages and forms know sessions; the API and package routes know tokens.
                    let session = matches!(caller.presents, Presents::Session { .. });
                    if web
                        && !session
                        && !matches!(caller.kind, Kind::Anonymous)
                        && !route.path.contains("/packages/pypi")
                    {
                        continue;
                    }
                    if !web && session {
                        continue;
                    }
                    cells += 1;
                    let request = build(&s, route, place, target, cells);
                    let open_to_all = decide(request.operation, &Who::Anonymous, visibility)
                        == Decision::Allow
                        && !request.operation.has_target();
                    let expected = match caller.kind {
                        // PyPI's trusted-publishing addresses exist only to say "not here".
                        _ if route.path.starts_with("/_/oidc/") => Decision::Hidden,
                        // Refused credentials are answered 401 before any operation (what is
                        // open to everyone may also answer as to a stranger).
                        Kind::Refused
                            if open_to_all && (status_of_anonymous(request.operation)) =>
                        {
                            Decision::Allow
                        }
                        Kind::Refused => Decision::Unauthorized,
                        _ => decide(
                            request.operation,
                            &who(caller, place, visibility, !request.others_account),
                            visibility,
                        ),
                    };
                    let changes = !matches!(request.method.as_str(), "GET" | "HEAD");
                    let (status, answer) = send(&s, caller, &request);
                    *per_operation
                        .entry(format!("{:?}", request.operation))
                        .or_default() += 1;
                    let location = answer.split(' ').next().unwrap_or_default();
                    let cell = format!(
                        "{} {} as {} on {visibility} {place:?}: table says {expected:?}, \
                         server answered {status} {answer}",
                        request.method, request.path, caller.label
                    );
                    // `/-/metrics` answers only to the metrics token, which no caller here
                    // holds (and this server has none configured): the same 404 for all.
                    let conforming = if request.path == "/-/metrics" {
                        status == 404
                    } else {
                        conforms(expected, status, web, location, request.operation)
                    };
                    if !conforming {
                        failures.push(cell.clone());
                    }
                    if status >= 500 {
                        failures.push(format!("server error: {cell}"));
                    }
                    if expected == Decision::Allow && status < 400 {
                        allowed_ok += 1;
                    }
                    if changes {
                        let now = state_digest(s.server.data_dir(), &snapshot.store);
                        if now != baseline {
                            if expected != Decision::Allow || status >= 400 {
                                failures.push(format!("refused, yet changed the registry: {cell}"));
                            }
                            snapshot.restore(s.server.data_dir());
                            assert_eq!(
                                state_digest(s.server.data_dir(), &snapshot.store),
                                baseline,
                                "the snapshot did not restore after {cell}"
                            );
                        }
                    }
                }
            }
        }
    }
    println!(
        "permission matrix: {} routes, {} callers, {cells} cells checked ({allowed_ok} allowed \
         and answered 2xx/3xx); cells per operation: {per_operation:?}",
        routes.len(),
        s.callers.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells disagree with the permission table:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cells > 2_000, "only {cells} cells");
}
