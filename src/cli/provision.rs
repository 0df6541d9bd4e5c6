//! The provisioning commands (users, tokens, groups, projects, members, deploy tokens): the
//! operator goes through the same services, and so the same permission table, as the API.

use super::{
    DeployTokenCommand, GroupCommand, MemberCommand, ProjectCommand, TokenCommand, UserCommand,
};
use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::error::Error;
use crate::model::{Role, Visibility};
use crate::registry::directory::{self, Filters, Target};
use crate::registry::{deploy_tokens, membership, structure, tokens, users};

/// Whoever runs the command line: they own the data directory.
const OPERATOR: &Caller = &Caller::Operator;

fn visibility(text: &str) -> anyhow::Result<Visibility> {
    Ok(text.parse::<Visibility>()?)
}

fn user_id(conn: &rusqlite::Connection, name: &str) -> anyhow::Result<i64> {
    Ok(users::named(conn, OPERATOR, name)?.id)
}

fn group_at(conn: &rusqlite::Connection, path: &str) -> anyhow::Result<i64> {
    match directory::find_target(conn, path)? {
        Target::Group(group) => Ok(group.id),
        Target::Project(_) => anyhow::bail!("\"{path}\" is a project, not a group"),
    }
}

fn project_at(conn: &rusqlite::Connection, path: &str) -> anyhow::Result<i64> {
    match directory::find_target(conn, path)? {
        Target::Project(project) => Ok(project.id),
        Target::Group(_) => anyhow::bail!("\"{path}\" is a group, not a project"),
    }
}

pub(super) fn user(
    conn: &mut rusqlite::Connection,
    cmd: UserCommand,
    password: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            admin,
            email,
            password_stdin,
        } => {
            let password = password_stdin.then(password).transpose()?;
            let (user, generated) = users::create(
                conn,
                OPERATOR,
                &name,
                None,
                email.as_deref(),
                password.as_deref(),
                admin,
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
            for user in users::list(conn, OPERATOR, &users::UserFilter::default())? {
                let flags = [(user.is_admin, "admin"), (user.is_blocked, "blocked")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(",");
                let email = user.email.unwrap_or_default();
                println!("{}\t{}\t{email}\t{flags}", user.id, user.username);
            }
        }
        UserCommand::Remove { name } => {
            let id = user_id(conn, &name)?;
            users::delete(conn, OPERATOR, id)?;
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let id = user_id(conn, &name)?;
            let password = password_stdin.then(password).transpose()?;
            if let Some(generated) = users::set_password(conn, OPERATOR, id, password.as_deref())? {
                println!("{generated}");
            }
        }
        UserCommand::Block { name } => {
            let id = user_id(conn, &name)?;
            users::set_blocked(conn, OPERATOR, id, true)?;
        }
        UserCommand::Unblock { name } => {
            let id = user_id(conn, &name)?;
            users::set_blocked(conn, OPERATOR, id, false)?;
        }
    }
    Ok(())
}

pub(super) fn token(conn: &mut rusqlite::Connection, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Add {
            user,
            name,
            scopes,
            expires,
        } => {
            let id = user_id(conn, &user)?;
            let scopes = [scopes];
            let limits = crate::registry::token_limits::TokenLimits::defaults();
            let expires = expires.as_deref();
            let (token, secret) =
                tokens::create(conn, OPERATOR, &limits, id, &name, &scopes, expires)?;
            eprintln!(
                "Created token \"{}\" (id {}) for {user}. It is shown only now:",
                token.name, token.id
            );
            println!("{secret}");
        }
        TokenCommand::List { user } => {
            let id = user_id(conn, &user)?;
            for t in tokens::list(conn, OPERATOR, Some(id))? {
                let state = if t.revoked { "revoked" } else { "active" };
                let expires = t.expires_on.unwrap_or_else(|| "never".into());
                let scopes = t.scopes.to_stored();
                println!("{}\t{}\t{scopes}\t{state}\texpires:{expires}", t.id, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            tokens::revoke(conn, OPERATOR, id).map_err(|e| match e {
                Error::NotFound(_) => {
                    Error::not_found(format!("no personal access token with id {id}"))
                }
                other => other,
            })?;
        }
    }
    Ok(())
}

pub(super) fn group(conn: &mut rusqlite::Connection, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Add {
            path,
            visibility: v,
        } => {
            let id = structure::create_at(conn, OPERATOR, &path, visibility(&v)?, false)?;
            println!("{id}");
        }
        GroupCommand::List => {
            for g in directory::groups(conn, OPERATOR, &Filters::default())? {
                println!("{}\t{}\t{}", g.id, g.full_path, g.visibility);
            }
        }
        GroupCommand::Remove { path } => {
            let id = group_at(conn, &path)?;
            structure::delete_group(conn, OPERATOR, &id.to_string())?;
        }
        GroupCommand::Upstream(cmd) => {
            super::upstreams::run(conn, cmd, super::commands::read_password_line)?
        }
    }
    Ok(())
}

pub(super) fn project(
    conn: &mut rusqlite::Connection,
    blobs: &BlobStore,
    cmd: ProjectCommand,
) -> anyhow::Result<()> {
    match cmd {
        ProjectCommand::Add {
            path,
            visibility: v,
        } => {
            let id = structure::create_at(conn, OPERATOR, &path, visibility(&v)?, true)?;
            println!("{id}");
        }
        ProjectCommand::Set {
            path,
            visibility: v,
            allow_file_replace,
        } => {
            let id = project_at(conn, &path)?.to_string();
            let visibility = v.as_deref().map(visibility).transpose()?;
            let text = structure::Text::default();
            let p = structure::update_project(
                conn,
                OPERATOR,
                &id,
                visibility,
                allow_file_replace,
                &text,
            )?;
            println!(
                "{}\t{}\t{}\tallow_file_replace={}",
                p.id, p.full_path, p.visibility, p.allow_file_replace
            );
        }
        ProjectCommand::List => {
            for p in directory::projects(conn, OPERATOR, &Filters::default(), None)? {
                println!("{}\t{}\t{}", p.id, p.full_path, p.visibility);
            }
        }
        ProjectCommand::Remove { path } => {
            let id = project_at(conn, &path)?;
            structure::delete_project(conn, blobs, OPERATOR, &id.to_string())?;
        }
    }
    Ok(())
}

pub(super) fn member(conn: &mut rusqlite::Connection, cmd: MemberCommand) -> anyhow::Result<()> {
    match cmd {
        MemberCommand::Add { path, user, role } => {
            let role = role.parse::<Role>()?;
            membership::put_by_name(conn, OPERATOR, &path, &user, role)?;
        }
        MemberCommand::List { path } => {
            let target = directory::find_target(conn, &path)?;
            for (user, role) in membership::list(conn, OPERATOR, &target, false)? {
                println!("{}\t{}", user.username, role.as_str());
            }
        }
        MemberCommand::Remove { path, user } => {
            membership::remove_by_name(conn, OPERATOR, &path, &user)?
        }
    }
    Ok(())
}

pub(super) fn deploy_token(
    conn: &mut rusqlite::Connection,
    cmd: DeployTokenCommand,
) -> anyhow::Result<()> {
    match cmd {
        DeployTokenCommand::Add {
            path,
            name,
            scopes,
            expires,
        } => {
            let target = directory::find_target(conn, &path)?;
            let scopes = [scopes];
            let expires = expires.as_deref();
            let (token, secret) =
                deploy_tokens::create(conn, OPERATOR, &target, &name, None, &scopes, expires)?;
            eprintln!(
                "Created deploy token \"{}\" (id {}). It is shown only now:",
                token.name, token.id
            );
            println!("{} {secret}", token.username);
        }
        DeployTokenCommand::List { path } => {
            let target = directory::find_target(conn, &path)?;
            for t in deploy_tokens::list(conn, OPERATOR, &target)? {
                let state = if t.revoked { "revoked" } else { "active" };
                let scopes = t.scopes.to_stored();
                println!("{}\t{}\t{}\t{scopes}\t{state}", t.id, t.name, t.username);
            }
        }
        DeployTokenCommand::Revoke { id } => {
            let target = deploy_tokens::target_of(conn, id)?;
            deploy_tokens::revoke(conn, OPERATOR, &target, id)?;
        }
    }
    Ok(())
}
