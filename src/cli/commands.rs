//! Carrying out the provisioning and maintenance commands against the data directory.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::{
    Command, DeployTokenCommand, GroupCommand, MemberCommand, MetadataCommand, PackageTarget,
    ProjectCommand, TokenCommand, UserCommand,
};
use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::db::Db;
use crate::model::{Role, Visibility};
use crate::python::archive::Limits;
use crate::registry::manage::{self, FileRef, PackageRef};
use crate::registry::{admin, backup, integrity, structure};

/// Fills a new data directory from a backup, then checks what arrived.
pub(super) fn restore(source: &Path, data_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let report = backup::restore(source, data_dir)?;
    let (db, blobs) =
        crate::server::open_data(&crate::config::Config::for_data_dir(data_dir.to_path_buf()))?;
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

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn visibility(text: &str) -> anyhow::Result<Visibility> {
    Ok(text.parse::<Visibility>()?)
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

pub(super) fn run(db: &Db, blobs: &BlobStore, command: Command) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let conn = &mut *conn;
    match command {
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
        Command::Gc { grace_seconds } => {
            let report = integrity::gc(conn, blobs, Duration::from_secs(grace_seconds))?;
            println!(
                "removed {} unreferenced blobs and {} temporary files",
                report.blobs_removed, report.temp_files_removed
            );
        }
        Command::Backup { dest } => {
            let report = backup::backup(conn, blobs, &dest)?;
            println!(
                "backed up {} files ({} blobs copied) to {}",
                report.files,
                report.blobs_copied,
                dest.display()
            );
        }
        Command::Serve(_) | Command::Restore { .. } => {
            unreachable!("handled before the data directory opens")
        }
        Command::Metadata(MetadataCommand::Backfill) => {
            let done = manage::backfill_metadata(conn, blobs, &Limits::default())?;
            let judged = manage::judge_stored_metadata(conn, blobs)?;
            eprintln!("judged {judged} stored files by PEP 643");
            println!("{done}");
        }
        Command::User(cmd) => match cmd {
            UserCommand::Add {
                name,
                admin: is_admin,
                email,
                password_stdin,
            } => {
                let password = password_stdin.then(read_password_line).transpose()?;
                let (user, generated) = admin::create_user(
                    conn,
                    &name,
                    email.as_deref(),
                    password.as_deref(),
                    is_admin,
                    admin::CLI_ACTOR,
                )?;
                match generated {
                    Some(password) => {
                        eprintln!(
                            "Created user \"{}\" (id {}). Password:",
                            user.username, user.id
                        );
                        println!("{password}");
                    }
                    None => println!("{}", user.id),
                }
            }
            UserCommand::List => {
                for user in admin::list_users(conn)? {
                    let flags = [(user.is_admin, "admin"), (user.is_blocked, "blocked")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, f)| *f)
                        .collect::<Vec<_>>()
                        .join(",");
                    println!(
                        "{}\t{}\t{}\t{}",
                        user.id,
                        user.username,
                        user.email.unwrap_or_default(),
                        flags
                    );
                }
            }
            UserCommand::Remove { name } => admin::remove_user(conn, &name, admin::CLI_ACTOR)?,
            UserCommand::Passwd {
                name,
                password_stdin,
            } => {
                let password = password_stdin.then(read_password_line).transpose()?;
                if let Some(generated) = admin::set_password(conn, &name, password.as_deref())? {
                    println!("{generated}");
                }
            }
            UserCommand::Block { name } => admin::set_blocked(conn, &name, true, admin::CLI_ACTOR)?,
            UserCommand::Unblock { name } => {
                admin::set_blocked(conn, &name, false, admin::CLI_ACTOR)?
            }
        },
        Command::Token(cmd) => match cmd {
            TokenCommand::Add {
                user,
                name,
                scopes,
                expires,
            } => {
                let (token, secret) =
                    admin::create_token(conn, &user, &name, &scopes, expires.as_deref())?;
                eprintln!(
                    "Created token \"{}\" (id {}) for {user}. It is shown only now:",
                    token.name, token.id
                );
                println!("{secret}");
            }
            TokenCommand::List { user } => {
                for t in admin::list_tokens(conn, &user)? {
                    let state = if t.revoked { "revoked" } else { "active" };
                    let expires = t.expires_on.unwrap_or_else(|| "never".into());
                    println!(
                        "{}\t{}\t{}\t{state}\texpires:{expires}",
                        t.id,
                        t.name,
                        t.scopes.to_stored()
                    );
                }
            }
            TokenCommand::Revoke { id } => admin::revoke_token(conn, id)?,
        },
        Command::Group(cmd) => match cmd {
            GroupCommand::Add {
                path,
                visibility: v,
            } => {
                let id =
                    structure::create_at(conn, &Caller::Operator, &path, visibility(&v)?, false)?;
                println!("{id}");
            }
            GroupCommand::List => {
                for g in admin::list_groups(conn)? {
                    println!("{}\t{}\t{}", g.id, g.full_path, g.visibility);
                }
            }
            GroupCommand::Remove { path } => admin::remove_group(conn, &path, admin::CLI_ACTOR)?,
        },
        Command::Project(cmd) => match cmd {
            ProjectCommand::Add {
                path,
                visibility: v,
            } => {
                let id =
                    structure::create_at(conn, &Caller::Operator, &path, visibility(&v)?, true)?;
                println!("{id}");
            }
            ProjectCommand::Set {
                path,
                visibility: v,
                allow_file_replace,
            } => {
                let visibility = v.as_deref().map(visibility).transpose()?;
                let project = admin::update_project(
                    conn,
                    &path,
                    visibility,
                    allow_file_replace,
                    admin::CLI_ACTOR,
                )?;
                println!(
                    "{}\t{}\t{}\tallow_file_replace={}",
                    project.id, project.full_path, project.visibility, project.allow_file_replace
                );
            }
            ProjectCommand::List => {
                for p in admin::list_projects(conn)? {
                    println!("{}\t{}\t{}", p.id, p.full_path, p.visibility);
                }
            }
            ProjectCommand::Remove { path } => {
                admin::remove_project(conn, blobs, &path, admin::CLI_ACTOR)?
            }
        },
        Command::Member(cmd) => match cmd {
            MemberCommand::Add { path, user, role } => {
                admin::add_member(conn, &path, &user, role.parse::<Role>()?)?;
            }
            MemberCommand::List { path } => {
                for (user, role) in admin::list_members(conn, &path)? {
                    println!("{user}\t{}", role.as_str());
                }
            }
            MemberCommand::Remove { path, user } => admin::remove_member(conn, &path, &user)?,
        },
        Command::DeployToken(cmd) => match cmd {
            DeployTokenCommand::Add {
                path,
                name,
                scopes,
                expires,
            } => {
                let (token, secret) = admin::create_deploy_token(
                    conn,
                    &path,
                    &name,
                    &scopes,
                    expires.as_deref(),
                    admin::CLI_ACTOR,
                )?;
                eprintln!(
                    "Created deploy token \"{}\" (id {}). It is shown only now:",
                    token.name, token.id
                );
                println!("{} {secret}", token.username);
            }
            DeployTokenCommand::List { path } => {
                for t in admin::list_deploy_tokens(conn, &path)? {
                    let state = if t.revoked { "revoked" } else { "active" };
                    println!(
                        "{}\t{}\t{}\t{}\t{state}",
                        t.id,
                        t.name,
                        t.username,
                        t.scopes.to_stored()
                    );
                }
            }
            DeployTokenCommand::Revoke { id } => {
                admin::revoke_deploy_token(conn, id, admin::CLI_ACTOR)?
            }
        },
    }
    Ok(())
}
