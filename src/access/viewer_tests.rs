//! The viewer's path logic, and its agreement with the per-item checks on a seeded database.

use super::*;
use crate::auth::UserCaller;
use crate::db::{self, Db};
use crate::model::{DeployToken, NamespaceKind, Scope};

fn member(path: &str, held: Held, role: Role) -> Membership {
    Membership {
        full_path: path.to_string(),
        held,
        role,
    }
}

fn group(path: &str, visibility: Visibility) -> Namespace {
    Namespace {
        id: 1,
        kind: NamespaceKind::Group,
        full_path: path.to_string(),
        parent_id: None,
        owner_user_id: None,
        visibility,
        name: path.to_string(),
        description: String::new(),
    }
}

fn project(id: i64, path: &str, visibility: Visibility) -> Project {
    Project {
        id,
        namespace_id: 1,
        full_path: path.to_string(),
        visibility,
        allow_file_replace: false,
        name: path.to_string(),
        description: String::new(),
    }
}

#[test]
fn paths_nest_only_at_slashes() {
    assert!(within("acme", "acme"));
    assert!(within("acme/x", "acme"));
    assert!(within("acme/x/y", "acme"));
    assert!(!within("acme2", "acme"));
    assert!(!within("acme2/x", "acme"));
    assert!(!within("acm", "acme"));
    assert!(!within("acme", "acme/x"));
    assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a"]);
    assert_eq!(ancestors("a").count(), 0);
}

#[test]
fn roles_inherit_down_never_across() {
    let viewer = Viewer::user(
        false,
        Via::Session,
        vec![
            member("acme", Held::Namespace, Role::Reporter),
            member("acme/ml", Held::Namespace, Role::Maintainer),
            member("other/p", Held::Project, Role::Developer),
        ],
    );
    assert_eq!(viewer.group_role("acme"), Some(Role::Reporter));
    assert_eq!(viewer.group_role("acme/ml/deep"), Some(Role::Maintainer));
    assert_eq!(viewer.group_role("acme2"), None);
    assert_eq!(viewer.project_role("acme/p"), Some(Role::Reporter));
    assert_eq!(viewer.project_role("acme/ml/p"), Some(Role::Maintainer));
    assert_eq!(viewer.project_role("acme2/p"), None);
    // A project membership is that project's only: not its group, not a sibling.
    assert_eq!(viewer.project_role("other/p"), Some(Role::Developer));
    assert_eq!(viewer.project_role("other/p2"), None);
    assert_eq!(viewer.group_role("other"), None);
    assert!(viewer.member_inside("other"));
    assert!(viewer.member_inside("acme"));
    assert!(
        !viewer.member_inside("acme/ml"),
        "a membership on it is not inside it"
    );
    assert!(!viewer.member_inside("oth"));
    assert!(viewer.sees_group_itself(&group("other", Visibility::Private)));
    assert!(!viewer.sees_group_itself(&group("acme2", Visibility::Private)));
    assert!(!viewer.sees_project(&project(9, "other/p2", Visibility::Private)));
    assert!(viewer.sees_project(&project(9, "acme2/p", Visibility::Internal)));
}

#[test]
fn admins_anonymous_and_deploy_tokens() {
    let admin = Viewer::user(true, Via::Session, vec![]);
    assert!(admin.sees_group_itself(&group("any", Visibility::Private)));
    assert_eq!(
        admin.group_role("any"),
        None,
        "admins are owners only as members"
    );
    let anonymous = Viewer::anonymous();
    assert!(anonymous.sees_project(&project(1, "g/p", Visibility::Public)));
    assert!(!anonymous.sees_project(&project(1, "g/p", Visibility::Internal)));
    // A deploy token is at home in its project, or its group and below (never `acme2`).
    let scopes = Scopes::of(&[Scope::ReadPackageRegistry]);
    let own = |who: Who| matches!(who, Who::DeployToken { own: true, .. });
    let of_group = Viewer::deploy_token(Home::Group("acme".into()), scopes.clone());
    assert!(own(of_group.on_group(&group("acme", Visibility::Private))));
    assert!(own(of_group.on_group(&group("acme/x", Visibility::Private))));
    assert!(own(of_group.on_project(&project(
        1,
        "acme/x/p",
        Visibility::Private
    ))));
    assert!(!own(of_group.on_group(&group("acme2", Visibility::Private))));
    assert!(!own(of_group.on_project(&project(
        1,
        "acme2/p",
        Visibility::Private
    ))));
    let of_project = Viewer::deploy_token(Home::Project(7), scopes);
    assert!(own(of_project.on_project(&project(
        7,
        "acme/p",
        Visibility::Private
    ))));
    assert!(!own(of_project.on_project(&project(
        8,
        "acme/q",
        Visibility::Private
    ))));
    assert!(!own(
        of_project.on_group(&group("acme", Visibility::Private))
    ));
    let alice = Viewer::user(
        false,
        Via::Session,
        vec![member("acme/p", Held::Project, Role::Guest)],
    );
    // A group is known through a project inside that the caller sees.
    let shown = alice.seen_groups(
        vec![
            group("acme", Visibility::Private),
            group("acme2", Visibility::Private),
        ],
        &[project(7, "acme/p", Visibility::Private)],
    );
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].full_path, "acme");
}

/// A registry with nesting, prefix traps, project-only members, a public project in a
/// private group and a personal namespace.
fn seeded() -> (tempfile::TempDir, Db, Vec<Caller>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("w.db"), 2).unwrap();
    let conn = db.get().unwrap();
    let user =
        |name: &str, admin: bool| db::users::insert(&conn, name, None, "x", admin, 0).unwrap();
    let ids: Vec<i64> = ["root", "alice", "bob", "carol", "dave"]
        .iter()
        .enumerate()
        .map(|(i, name)| user(name, i == 0))
        .collect();
    let mut paths = std::collections::HashMap::new();
    let mut ns = |path: &str, visibility: Visibility, owner: Option<i64>| {
        let parent = path.rsplit_once('/').map(|(p, _)| paths[p]);
        let new = db::namespaces::NewNamespace {
            kind: if owner.is_some() {
                NamespaceKind::User
            } else {
                NamespaceKind::Group
            },
            path: path.rsplit('/').next().unwrap(),
            full_path: path,
            parent_id: parent,
            owner_user_id: owner,
            visibility,
        };
        let id = db::namespaces::insert(&conn, &new, 0).unwrap();
        paths.insert(path.to_string(), id);
        id
    };
    use Visibility::*;
    let acme = ns("acme", Private, None);
    let inner = ns("acme/inner", Private, None);
    ns("acme/inner/deep", Internal, None);
    let acme2 = ns("acme2", Private, None);
    ns("open", Public, None);
    ns("open/priv", Private, None);
    ns("lab", Private, None);
    ns("empty", Private, None);
    let sub = ns("empty/sub", Private, None);
    ns("alice", Private, Some(ids[1]));
    let mut projects = std::collections::HashMap::new();
    for (path, visibility) in [
        ("acme/inner/models", Private),
        ("acme/inner/deep/p", Internal),
        ("acme2/tools", Private),
        ("open/lib", Public),
        ("open/priv/x", Private),
        ("open/priv/pub", Public),
        ("lab/shared", Private),
        ("lab/hidden", Private),
        ("alice/mine", Private),
    ] {
        let (parent, name) = path.rsplit_once('/').unwrap();
        let id = db::projects::insert(&conn, paths[parent], name, path, visibility, 0).unwrap();
        projects.insert(path, id);
    }
    use db::members::{Source, upsert};
    upsert(&conn, Source::Namespace(acme), ids[1], Role::Owner, 0).unwrap();
    upsert(&conn, Source::Namespace(acme2), ids[2], Role::Developer, 0).unwrap();
    upsert(
        &conn,
        Source::Project(projects["lab/shared"]),
        ids[2],
        Role::Reporter,
        0,
    )
    .unwrap();
    upsert(&conn, Source::Namespace(inner), ids[3], Role::Guest, 0).unwrap();
    upsert(&conn, Source::Namespace(sub), ids[3], Role::Developer, 0).unwrap();
    drop(conn);
    let as_user = |i: usize, name: &str, token: Option<i64>| {
        Caller::User(UserCaller {
            user_id: ids[i],
            token_id: token,
            username: name.to_string(),
            is_admin: i == 0,
            scopes: Scopes::of(&[Scope::ReadApi]),
        })
    };
    let deploy = |namespace_id: Option<i64>, project_id: Option<i64>| {
        Caller::DeployToken(DeployToken {
            id: 1,
            namespace_id,
            project_id,
            name: "d".into(),
            username: "d".into(),
            scopes: Scopes::of(&[Scope::ReadPackageRegistry]),
            expires_on: None,
            revoked: false,
            created_at: 0,
        })
    };
    let callers = vec![
        Caller::Anonymous,
        Caller::Operator,
        as_user(0, "root", None),
        as_user(1, "alice", Some(1)),
        as_user(2, "bob", None),
        as_user(3, "carol", Some(2)),
        as_user(4, "dave", None),
        deploy(None, Some(projects["acme2/tools"])),
        deploy(Some(acme), None),
        deploy(Some(inner), None),
    ];
    (dir, db, callers)
}

#[test]
fn agrees_with_the_per_item_checks() {
    let (_dir, db, callers) = seeded();
    let conn = db.get().unwrap();
    let groups = db::namespaces::list_groups(&conn).unwrap();
    let projects = db::projects::list(&conn).unwrap();
    let mut checked = 0;
    for caller in &callers {
        let viewer = Viewer::load(&conn, caller).unwrap();
        let expected: Vec<&str> = groups
            .iter()
            .filter(|g| super::super::sees_group(&conn, caller, g).unwrap())
            .map(|g| g.full_path.as_str())
            .collect();
        let shown = viewer.seen_groups(groups.clone(), &projects);
        let shown: Vec<&str> = shown.iter().map(|g| g.full_path.as_str()).collect();
        assert_eq!(shown, expected, "groups for {caller:?}");
        for group in &groups {
            let role = super::super::role_of(&conn, caller, group.id, None).unwrap();
            assert_eq!(
                viewer.group_role(&group.full_path),
                role,
                "{caller:?} on {group:?}"
            );
            checked += 1;
        }
        for project in &projects {
            let reads = super::super::allowed(
                &conn,
                caller,
                Operation::PackagesRead,
                super::super::On::Project(project),
            )
            .unwrap();
            assert_eq!(
                viewer.allows_on_project(Operation::PackagesRead, project),
                reads,
                "{caller:?} reading {project:?}"
            );
            let sees = super::super::sees_project(&conn, caller, project).unwrap();
            assert_eq!(
                viewer.sees_project(project),
                sees,
                "{caller:?} on {project:?}"
            );
            let role = super::super::role_of(&conn, caller, project.namespace_id, Some(project.id))
                .unwrap();
            assert_eq!(
                viewer.project_role(&project.full_path),
                role,
                "{caller:?} on {project:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn seeded_cases_read_as_intended() {
    let (_dir, db, callers) = seeded();
    let conn = db.get().unwrap();
    let groups = db::namespaces::list_groups(&conn).unwrap();
    let projects = db::projects::list(&conn).unwrap();
    let shown = |caller: &Caller| -> Vec<String> {
        Viewer::load(&conn, caller)
            .unwrap()
            .seen_groups(groups.clone(), &projects)
            .into_iter()
            .map(|g| g.full_path)
            .collect()
    };
    // Anonymous: public groups, and the private one holding a public project.
    assert_eq!(shown(&callers[0]), ["open", "open/priv"]);
    // Bob: his group, `lab` through his project there (not its sibling), and the groups
    // above the internal project; Dave, a member of nothing, not `acme2` nor `lab`.
    let everyone = ["acme", "acme/inner", "acme/inner/deep", "open", "open/priv"];
    assert_eq!(
        shown(&callers[4]),
        [
            "acme",
            "acme/inner",
            "acme/inner/deep",
            "acme2",
            "lab",
            "open",
            "open/priv"
        ]
    );
    assert_eq!(shown(&callers[6]), everyone);
    // Carol: `acme` above her membership, and `empty` above her subgroup.
    assert!(shown(&callers[5]).starts_with(&["acme".into(), "acme/inner".into()]));
    assert!(shown(&callers[5]).contains(&"empty".to_string()));
}

/// `seen()` applied by the database gives, page by page and with every filter, what the
/// table gives one group at a time.
#[test]
fn the_database_shows_what_the_table_shows() {
    use crate::registry::directory::{self, Filters, Window};
    let (_dir, db, callers) = seeded();
    let conn = db.get().unwrap();
    let filters = [
        Filters::default(),
        Filters {
            search: Some("In".into()),
            ..Filters::default()
        },
        Filters {
            membership: true,
            ..Filters::default()
        },
        Filters {
            owned: true,
            ..Filters::default()
        },
        Filters {
            visibility: Some("private".into()),
            ..Filters::default()
        },
    ];
    let mut checked = 0;
    for caller in &callers {
        for filter in &filters {
            let expected: Vec<String> = directory::groups(&conn, caller, filter)
                .unwrap()
                .into_iter()
                .map(|g| g.full_path)
                .collect();
            let all = Window {
                limit: 100,
                offset: 0,
            };
            let (total, page) = directory::groups_page(&conn, caller, filter, vec![], all).unwrap();
            let shown: Vec<String> = page.into_iter().map(|g| g.full_path).collect();
            assert_eq!(shown, expected, "{caller:?} {filter:?}");
            assert_eq!(total, expected.len());
            // Pages of two, one after the other, give the same list.
            let mut paged = Vec::new();
            for offset in (0..expected.len()).step_by(2) {
                let window = Window { limit: 2, offset };
                let (total, page) =
                    directory::groups_page(&conn, caller, filter, vec![], window).unwrap();
                assert_eq!(total, expected.len());
                paged.extend(page.into_iter().map(|g| g.full_path));
            }
            assert_eq!(paged, expected, "{caller:?} {filter:?} in pages");
            checked += 1;
        }
    }
    assert_eq!(checked, callers.len() * filters.len());
}

/// Subgroups and descendants, paged by the database, are the ones the table shows.
#[test]
fn subgroups_and_descendants_from_the_database_agree() {
    use crate::registry::directory::{self, Filters, Window};
    let (_dir, db, callers) = seeded();
    let conn = db.get().unwrap();
    let all = Window {
        limit: 100,
        offset: 0,
    };
    let paths = |found: crate::error::Result<Vec<Namespace>>| {
        found.map(|gs| gs.into_iter().map(|g| g.full_path).collect::<Vec<_>>())
    };
    for caller in &callers {
        for group in ["acme", "acme/inner", "open", "empty", "lab"] {
            // What the old per-group walk gave: the visible children of a visible group.
            let expected = directory::group(&conn, caller, group).map(|parent| {
                let every = directory::groups(&conn, caller, &Filters::default()).unwrap();
                every
                    .into_iter()
                    .filter(|g| g.parent_id == Some(parent.id))
                    .map(|g| g.full_path)
                    .collect::<Vec<_>>()
            });
            let filters = Filters::default();
            let shown = paths(
                directory::subgroups_page(&conn, caller, group, &filters, all).map(|(_, g)| g),
            );
            assert_eq!(shown.ok(), expected.ok(), "{caller:?} below {group}");
            // What the old per-group walk gave: the visible groups under a visible group.
            let expected = directory::group(&conn, caller, group).map(|_| {
                let every = directory::groups(&conn, caller, &Filters::default()).unwrap();
                let prefix = format!("{group}/");
                every
                    .into_iter()
                    .map(|g| g.full_path)
                    .filter(|p| p.starts_with(&prefix))
                    .collect::<Vec<_>>()
            });
            let shown =
                paths(directory::descendants_page(&conn, caller, group, None, all).map(|(_, g)| g));
            assert_eq!(shown.ok(), expected.ok(), "{caller:?} under {group}");
        }
    }
}

/// The explore page's groups, paged by the database: the caller's own first, then the rest,
/// each by path, as the page sorted them in memory.
#[test]
fn explore_groups_put_the_callers_own_first() {
    use crate::registry::directory::{self, Filters, Window};
    let (_dir, db, callers) = seeded();
    let conn = db.get().unwrap();
    for caller in &callers {
        let viewer = Viewer::load(&conn, caller).unwrap();
        let mut expected: Vec<String> = directory::groups(&conn, caller, &Filters::default())
            .unwrap()
            .into_iter()
            .map(|g| g.full_path)
            .collect();
        expected.sort_by_key(|p| (viewer.group_role(p).is_none(), p.to_lowercase()));
        let mut shown = Vec::new();
        for offset in (0..expected.len() + 3).step_by(3) {
            let window = Window { limit: 3, offset };
            let (total, page) = directory::explore_groups(&conn, caller, window).unwrap();
            assert_eq!(total, expected.len(), "{caller:?}");
            shown.extend(page.into_iter().map(|g| g.full_path));
        }
        assert_eq!(shown, expected, "{caller:?}");
    }
}
