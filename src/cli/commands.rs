//! Carrying out the provisioning and maintenance commands against the data directory.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::provision;
use super::{AuditCommand, Command, MetadataCommand, PackageTarget};
use crate::blobs::BlobStore;
use crate::db::Db;
use crate::python::archive::Limits;
use crate::registry::manage::{self, FileRef, PackageRef};
use crate::registry::{audit, backup, integrity};

/// Fills a new data directory from a backup, then checks what arrived.
pub(super) fn restore(
    source: &Path,
    data_dir: &Path,
    storage: &crate::config::StorageConfig,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let to = BlobStore::open_configured(data_dir, storage)?;
    let report = backup::restore(source, data_dir, &to)?;
    let config = crate::config::Config {
        storage: storage.clone(),
        ..crate::config::Config::for_data_dir(data_dir.to_path_buf())
    };
    let (db, blobs) = crate::server::open_data(&config)?;
    let check = integrity::fsck(&*db.get()?, &blobs, false)?;
    if check.damaged() {
        anyhow::bail!("the restored copy is damaged: run `wheelhouse fsck` on it");
    }
    println!(
        "restored {} files ({} blobs) into {}",
        report.files,
        report.blobs_copied,
        data_dir.display()
    );
    Ok(())
}

pub(super) fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs a maintainer's operation as the operator, who owns the data directory.
fn as_operator(
    conn: &mut rusqlite::Connection,
    target: &PackageTarget,
    operation: impl FnOnce(
        &mut rusqlite::Connection,
        &crate::access::ProjectMaintainer,
        &PackageRef,
        &FileRef,
    ) -> crate::error::Result<Vec<crate::db::packages::StoredFile>>,
) -> anyhow::Result<()> {
    let project = crate::access::find_project(conn, &target.project)?;
    let maintainer =
        crate::access::maintain_project(conn, &crate::auth::Caller::Operator, project)?;
    let package = PackageRef::Named {
        name: target.name.clone(),
        version: target.version.clone(),
    };
    let file = target.file.clone().map_or(FileRef::All, FileRef::Named);
    for file in operation(conn, &maintainer, &package, &file)? {
        println!("{}", file.filename);
    }
    Ok(())
}

pub(super) fn run(
    db: &Db,
    blobs: &BlobStore,
    data_dir: &Path,
    command: Command,
) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let conn = &mut *conn;
    match command {
        Command::Gc { .. } => unreachable!("gc is run by cli::run"),
        Command::Yank { target, reason } => {
            let reason = reason.unwrap_or_default();
            as_operator(conn, &target, |c, m, p, f| {
                manage::set_yanked(c, m, p, f, Some(&reason))
            })?;
        }
        Command::Unyank { target } => {
            as_operator(conn, &target, |c, m, p, f| {
                manage::set_yanked(c, m, p, f, None)
            })?;
        }
        Command::Delete { target } => {
            as_operator(conn, &target, |c, m, p, f| {
                manage::delete(c, blobs, m, p, f)
            })?;
        }
        Command::Fsck { repair } => {
            let report = integrity::fsck(conn, blobs, repair)?;
            for finding in &report.findings {
                println!("{finding}");
            }
            for line in &report.repaired {
                println!("repaired: {line}");
            }
            println!("checked {} files", report.files_checked);
            if report.damaged() {
                anyhow::bail!("the data directory is damaged (see above)");
            }
        }
        Command::Backup { dest } => {
            let report = backup::backup(conn, blobs, data_dir, &dest)?;
            println!(
                "backed up {} files ({} blobs copied) to {}",
                report.files,
                report.blobs_copied,
                dest.display()
            );
        }
        Command::Serve(_)
        | Command::Restore { .. }
        | Command::Storage(_)
        | Command::Import(_)
        | Command::Tls(_) => {
            unreachable!("handled before the data directory opens")
        }
        Command::Metadata(MetadataCommand::Backfill) => {
            let done = manage::backfill_metadata(conn, blobs, &Limits::default())?;
            let judged = manage::judge_stored_metadata(conn, blobs)?;
            eprintln!("judged {judged} stored files by PEP 643");
            println!("{done}");
        }
        Command::User(cmd) => provision::user(conn, cmd, read_password_line)?,
        Command::Token(cmd) => provision::token(conn, cmd)?,
        Command::Group(cmd) => provision::group(conn, cmd)?,
        Command::Project(cmd) => provision::project(conn, blobs, cmd)?,
        Command::Member(cmd) => provision::member(conn, cmd)?,
        Command::DeployToken(cmd) => provision::deploy_token(conn, cmd)?,
        Command::Audit(AuditCommand::List {
            since,
            until,
            actor,
            action,
            limit,
            json,
        }) => {
            let filter = crate::db::audit::Filter {
                created_after: since.as_deref().map(audit::parse_time).transpose()?,
                created_before: until.as_deref().map(audit::parse_time).transpose()?,
                actor: actor.as_deref().map(audit::actor_of),
                action,
                ..Default::default()
            };
            print!("{}", audit_list(conn, &filter, limit, json)?);
        }
    }
    Ok(())
}

/// `gc`: the upstream cache back within its size, then unreferenced blobs and temporary files,
/// and audit events past their retention.
pub fn gc(
    db: &crate::db::Db,
    blobs: &BlobStore,
    grace_seconds: u64,
    upstream_cache_max_bytes: Option<u64>,
    audit_retention_days: u32,
) -> anyhow::Result<()> {
    let pruned = crate::registry::audit::prune(db, audit_retention_days, crate::db::now_millis())?;
    if pruned > 0 {
        println!("deleted {pruned} audit events older than {audit_retention_days} days");
    }
    // Upstream files nothing lists any more are forgotten first, then the least recently used
    // past the size; the blobs themselves go with the other garbage just below.
    let unlisted = crate::db::upstreams::forget_unlisted(&*db.get()?)?;
    let evicted = crate::upstream::eviction::evict(db, blobs, upstream_cache_max_bytes)?;
    if unlisted + evicted > 0 {
        println!(
            "dropped {unlisted} upstream files no index lists any more and evicted {evicted} \
             past the cache size"
        );
    }
    let report = integrity::gc(&*db.get()?, blobs, Duration::from_secs(grace_seconds))?;
    println!(
        "removed {} unreferenced blobs and {} temporary files",
        report.blobs_removed, report.temp_files_removed
    );
    Ok(())
}

/// `audit list`: up to `limit` events (pages of the database's listing), as lines or as JSON.
fn audit_list(
    conn: &rusqlite::Connection,
    filter: &crate::db::audit::Filter,
    limit: usize,
    json: bool,
) -> anyhow::Result<String> {
    let operator = &crate::auth::Caller::Operator;
    let mut rows = Vec::new();
    let mut number = 1;
    while rows.len() < limit {
        let page = audit::Page::new(Some(number), Some(100));
        let (found, _) = audit::list(conn, operator, &audit::Trail::Instance, filter, page)?;
        let last = found.len() < page.size;
        rows.extend(found);
        if last {
            break;
        }
        number += 1;
    }
    rows.truncate(limit);
    if json {
        let views: Vec<_> = rows
            .iter()
            .map(crate::routes::AuditEventView::new)
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&views)?));
    }
    let mut out = String::new();
    for row in &rows {
        out.push_str(&format!(
            "{}  {}  {}  {}  {}\n",
            crate::model::iso8601(row.created_at),
            printable(&row.actor),
            row.ip_address.as_deref().unwrap_or("-"),
            printable(&row.action),
            printable(&row.target)
        ));
    }
    Ok(out)
}

/// `text` for a terminal: control characters (escape sequences, line breaks that would forge
/// another event's line) and bidirectional overrides (which reorder what is shown) written as
/// `\u{…}` escapes. Targets hold what anyone typed, a failed sign-in's username among them.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hostile) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if hostile(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_escapes_and_line_breaks_are_shown_not_obeyed() {
        assert_eq!(printable("acme/tools/x-1.0.whl"), "acme/tools/x-1.0.whl");
        assert_eq!(printable("\u{1b}[2Jroot"), "\\u{1b}[2Jroot");
        assert_eq!(
            printable("x\n2026-01-01T00:00:00Z  user:root"),
            "x\\u{a}2026-01-01T00:00:00Z  user:root"
        );
        assert_eq!(printable("a\u{202e}gpj.exe"), "a\\u{202e}gpj.exe");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
