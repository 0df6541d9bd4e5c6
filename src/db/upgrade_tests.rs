//! Upgrading a database written by the first released schema: every row and id survives, the
//! result has exactly the schema a fresh database gets, and ids are never handed out again.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Db, LATEST_VERSION, SCHEMA_VERSION};

/// schema.sql as released in version 1, verbatim.
const SCHEMA_V1: &str = include_str!("../../tests/fixtures/schema-v1.sql");

/// The tables whose ids the outside world holds (URLs, pip.conf, CI jobs): never reused.
const ID_TABLES: [&str; 8] = [
    "users",
    "namespaces",
    "projects",
    "personal_access_tokens",
    "deploy_tokens",
    "packages",
    "package_files",
    "audit_events",
];

/// A version-1 database with rows in every table, ids with gaps (deleted rows) and the newest
/// row of each id table present.
fn write_v1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         INSERT INTO users VALUES (1, 'root', 'root@example.com', '$argon2id$x', 1, 0, 1000);
         INSERT INTO users VALUES (2, 'gone', NULL, '$argon2id$y', 0, 0, 1001);
         INSERT INTO users VALUES (3, 'alice', 'a@example.com', '$argon2id$z', 0, 1, 1002);
         DELETE FROM users WHERE id = 2;
         INSERT INTO namespaces VALUES (1, 'user', 'root', 'root', NULL, 1, 'private', 1000);
         INSERT INTO namespaces VALUES (2, 'group', 'acme', 'acme', NULL, NULL, 'public', 1003);
         INSERT INTO namespaces VALUES (4, 'group', 'ml', 'acme/ml', 2, NULL, 'internal', 1004);
         INSERT INTO namespaces VALUES (5, 'user', 'alice', 'alice', NULL, 3, 'private', 1002);
         INSERT INTO projects VALUES (1, 2, 'tools', 'acme/tools', 'public', 0, 1005);
         INSERT INTO projects VALUES (7, 4, 'models', 'acme/ml/models', 'private', 1, 1006);
         INSERT INTO members VALUES (1, 3, 2, NULL, 50, 1007);
         INSERT INTO members VALUES (2, 1, NULL, 7, 30, 1008);
         INSERT INTO personal_access_tokens
             VALUES (3, 3, 'ci', 'digest-a', 'api,read_api', '2030-01-01', NULL, 1010, 1009);
         INSERT INTO deploy_tokens
             VALUES (1, 2, NULL, 'group', 'gitlab+deploy-token-1', 'digest-b', 'read_package_registry', NULL, NULL, NULL, 1011);
         INSERT INTO deploy_tokens
             VALUES (2, NULL, 7, 'proj', 'gitlab+deploy-token-2', 'digest-c', 'write_package_registry', NULL, 1013, NULL, 1012);
         INSERT INTO packages VALUES (1, 1, 'tool', 'Tool', '1.0', 'default', 1014);
         INSERT INTO packages VALUES (9, 7, 'model', 'Model', '2.0', 'default', 1015);
         INSERT INTO package_files VALUES (1, 1, 1, 'tool-1.0-py3-none-any.whl', 10,
             'aa', 'bb', 'cc', '>=3.8', 'bdist_wheel', 'py3', 'dd', 0, NULL, 3, NULL, 1016);
         INSERT INTO package_files VALUES (12, 9, 7, 'model-2.0.tar.gz', 20,
             'ee', 'ff', '00', NULL, 'sdist', 'source', NULL, 1, 'broken', NULL, 2, 1017);
         INSERT INTO deleted_files VALUES (7, 'model-1.0.tar.gz', 'ab', 1018);
         INSERT INTO package_metadata VALUES (9, '2.1', 'A model', '# Model', 'text/markdown',
             'ml', 'Alice', 'a@example.com', NULL, NULL, 'MIT', 'https://example.com', '>=3.9',
             '[\"Topic :: AI\"]', '[\"numpy\"]', '[\"Docs, https://example.com/docs\"]');
         INSERT INTO web_sessions VALUES (4, 3, 'session-digest', 'csrf', 99999, 1019);
         INSERT INTO audit_events VALUES (1, 'user:alice', 'upload', 'acme/tools/x', 1020);",
    )
    .unwrap();
    for table in tables(&conn) {
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert!(rows > 0, "the fixture leaves table {table} empty");
    }
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of every table, by table, with the columns version 1 had.
fn contents(
    conn: &Connection,
    v1_columns: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<Vec<Value>>> {
    v1_columns
        .iter()
        .map(|(table, columns)| {
            let sql = format!("SELECT {} FROM {table} ORDER BY rowid", columns.join(", "));
            let mut stmt = conn.prepare(&sql).unwrap();
            let rows = stmt
                .query_map([], |r| {
                    (0..columns.len()).map(|i| r.get::<_, Value>(i)).collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (table.clone(), rows)
        })
        .collect()
}

fn columns(conn: &Connection) -> BTreeMap<String, Vec<String>> {
    tables(conn)
        .into_iter()
        .map(|table| {
            let mut stmt = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap();
            let names = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (table, names)
        })
        .collect()
}

/// The schema as text that does not depend on how it was reached: every table, index and
/// trigger with its SQL stripped of comments, quotes and white space (a renamed table's SQL is
/// stored quoted; an added column's without the original layout).
fn schema(conn: &Connection) -> BTreeMap<String, String> {
    let mut stmt = conn
        .prepare(
            "SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_schema
             WHERE name NOT LIKE 'sqlite_autoindex_%'",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .map(|(name, sql)| {
            let text: String = sql
                .lines()
                .map(|line| line.split("--").next().unwrap_or_default())
                .collect::<String>()
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '"')
                .collect();
            (name, text)
        })
        .collect()
}

fn user_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn upgrading_keeps_every_row_and_id_and_reaches_the_fresh_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    write_v1(&old);
    let (v1_columns, before) = {
        let conn = Connection::open(&old).unwrap();
        assert_eq!(
            user_version(&conn),
            1,
            "the fixture is the version-1 schema"
        );
        let v1_columns = columns(&conn);
        let before = contents(&conn, &v1_columns);
        (v1_columns, before)
    };

    let db = Db::open(&old, 2).unwrap();
    let conn = db.get().unwrap();
    assert_eq!(user_version(&conn), LATEST_VERSION);
    assert_eq!(contents(&conn, &v1_columns), before, "rows or ids changed");
    let broken: Vec<String> = conn
        .prepare("SELECT \"table\" FROM pragma_foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(broken.is_empty(), "broken references in {broken:?}");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let foreign_keys: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        foreign_keys, 1,
        "foreign keys must be on again after the upgrade"
    );
    // Step 5: names uploaded before it are guarded from upstreams under their top-level group,
    // a subgroup's project's included.
    let published: Vec<(i64, String)> = conn
        .prepare("SELECT root_id, name FROM published_names ORDER BY root_id, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        published,
        [(2, "model".to_string()), (2, "tool".to_string())]
    );

    // Step 8: an event recorded before it reads back with no author, entity or address.
    let (events, total) = super::audit::list(
        &conn,
        &super::audit::Scope::Everything,
        &super::audit::Filter::default(),
        10,
        0,
    )
    .unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        (
            events[0].id,
            events[0].actor.as_str(),
            events[0].target.as_str()
        ),
        (1, "user:alice", "acme/tools/x")
    );
    assert_eq!((events[0].entity, events[0].author_id), (None, None));
    assert_eq!(events[0].ip_address, None);

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Db::open(&fresh_dir.path().join("fresh.db"), 1).unwrap();
    let fresh_conn = fresh.get().unwrap();
    assert_eq!(user_version(&fresh_conn), SCHEMA_VERSION);
    let (upgraded, created) = (schema(&conn), schema(&fresh_conn));
    for (name, sql) in &created {
        if name != "table sqlite_sequence" {
            assert_eq!(
                upgraded.get(name),
                Some(sql),
                "{name} differs after the upgrade"
            );
        }
    }
    assert_eq!(
        upgraded.keys().collect::<Vec<_>>(),
        created.keys().collect::<Vec<_>>()
    );

    drop(conn);
    drop(db);
    Db::open(&old, 1).unwrap();
}

#[test]
fn an_upgraded_database_never_hands_out_an_id_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    write_v1(&path);
    let db = Db::open(&path, 1).unwrap();
    let conn = db.get().unwrap();
    // Children first, so each newest row still has the parents it refers to.
    for table in ID_TABLES.iter().rev() {
        let max: i64 = conn
            .query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        let unique_free = match *table {
            "users" => "username = username || '-copy'",
            "namespaces" => "full_path = full_path || '-copy', owner_user_id = NULL",
            "projects" => "full_path = full_path || '-copy'",
            "personal_access_tokens" => "token_digest = token_digest || '-copy'",
            "deploy_tokens" => {
                "token_digest = token_digest || '-copy', username = username || '-copy'"
            }
            "packages" => "version = version || '.1'",
            "audit_events" => "target = target || '.copy'",
            _ => "filename = filename || '.copy'",
        };
        let cols = columns(&conn)[*table]
            .iter()
            .filter(|c| *c != "id")
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        // Deleting the newest row is what let a plain INTEGER PRIMARY KEY hand its id out
        // again; a new row made like it must get a fresh id.
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE template AS SELECT * FROM {table} WHERE id = {max};
             UPDATE template SET {unique_free};
             DELETE FROM {table} WHERE id = {max};
             INSERT INTO {table} ({cols}) SELECT {cols} FROM template;
             DROP TABLE template;"
        ))
        .unwrap();
        let new_id: i64 = conn
            .query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert!(
            new_id > max,
            "{table}: id {new_id} handed out again (the newest was {max})"
        );
    }
}

/// Step 6 rebuilds deploy_tokens: a token deleted just before it (the newest id, gone) must
/// not have its id handed out after it, and two tokens may then share a username.
#[test]
fn rebuilding_deploy_tokens_keeps_their_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    write_v1(&path);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for step in &super::UPGRADES[..4] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 5;
             UPDATE package_files SET uploader_deploy_token_id = NULL;
             DELETE FROM deploy_tokens WHERE id = 2;",
        )
        .unwrap();
    }
    let db = Db::open(&path, 1).unwrap();
    let conn = db.get().unwrap();
    assert_eq!(user_version(&conn), LATEST_VERSION);
    conn.execute_batch(
        "INSERT INTO deploy_tokens (namespace_id, name, username, token_digest, scopes, created_at)
         VALUES (2, 'again', 'gitlab+deploy-token-1', 'digest-new', 'read_package_registry', 2000)",
    )
    .unwrap();
    let id: i64 = conn
        .query_row(
            "SELECT id FROM deploy_tokens WHERE token_digest = 'digest-new'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(id > 2, "deploy token id {id} handed out again");
}

/// Step 10 cuts the descriptions stored before uploads were bounded, as an upload cuts one
/// today: at most `MAX_STORED_BYTES`, ended by the same note; shorter ones are left alone.
#[test]
fn descriptions_stored_whole_are_cut_to_the_stored_bound() {
    use crate::registry::description::{CUT_NOTE, MAX_STORED_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v-before.db");
    write_v1(&path);
    // The database as it was just before `010_bounded_descriptions.sql` (which takes version 9
    // to 10): the steps before it applied.
    let last = (9 - super::FIRST_VERSION) as usize;
    let cases = [
        ("ascii", "a line of plain words\n".repeat(700_000)),
        // Wide characters first, narrow after: the average width undercounts the head.
        ("wide", "😀".repeat(600_000) + &"a".repeat(4_000_000)),
        ("short", "# Model".to_owned()),
    ];
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for step in &super::UPGRADES[..last] {
            conn.execute_batch(step).unwrap();
        }
        let version = super::FIRST_VERSION + last as i64;
        conn.execute_batch(&format!("PRAGMA user_version = {version}"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO packages (project_id, name, display_name, version, created_at)
             SELECT project_id, name, display_name, '9.9', created_at FROM packages WHERE id = 9",
        )
        .unwrap();
        for (i, (_, text)) in cases.iter().enumerate() {
            conn.execute(
                "INSERT OR REPLACE INTO package_metadata (package_id, metadata_version, summary,
                     description, classifiers, requires_dist, project_urls)
                 SELECT id, '2.1', ?2, ?3, '[]', '[]', '[]' FROM packages
                 ORDER BY id LIMIT 1 OFFSET ?1",
                rusqlite::params![i as i64, format!("case {i}"), text],
            )
            .unwrap();
        }
    }
    let db = Db::open(&path, 1).unwrap();
    let conn = db.get().unwrap();
    for (i, (name, text)) in cases.iter().enumerate() {
        let stored: String = conn
            .query_row(
                "SELECT description FROM package_metadata WHERE summary = ?1",
                [format!("case {i}")],
                |r| r.get(0),
            )
            .unwrap();
        if text.len() <= MAX_STORED_BYTES {
            assert_eq!(&stored, text, "{name}");
            continue;
        }
        assert!(stored.len() <= MAX_STORED_BYTES, "{name}: {}", stored.len());
        let kept = stored.strip_suffix(CUT_NOTE).expect("the upload's note");
        assert!(text.starts_with(kept), "{name}");
    }
}

/// Step 11 records, for every group above a stored file, the bytes its index serves under the
/// file's filename (the first to enter the root), and nothing for a user's namespace.
#[test]
fn groups_record_the_bytes_they_serve_today() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    write_v1(&path);
    {
        // A sibling of acme/tools holding the same filename with other bytes, entered later.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO projects VALUES (8, 2, 'fork', 'acme/fork', 'public', 0, 1020);
             INSERT INTO packages VALUES (10, 8, 'tool', 'Tool', '1.0', 'default', 1021);
             INSERT INTO package_files VALUES (13, 10, 8, 'tool-1.0-py3-none-any.whl', 10,
                 'other', 'bb', 'cc', '>=3.8', 'bdist_wheel', 'py3', 'dd', 0, NULL, 3, NULL, 1022);",
        )
        .unwrap();
    }
    let db = Db::open(&path, 1).unwrap();
    let conn = db.get().unwrap();
    let recorded: Vec<(i64, String, String)> = conn
        .prepare("SELECT group_id, filename, sha256 FROM group_filenames ORDER BY 1, 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let row = |g: i64, f: &str, s: &str| (g, f.to_owned(), s.to_owned());
    assert_eq!(
        recorded,
        vec![
            row(2, "model-2.0.tar.gz", "ee"),
            row(2, "tool-1.0-py3-none-any.whl", "aa"),
            row(4, "model-2.0.tar.gz", "ee"),
        ]
    );
}
