//! The command line: `serve`, and the provisioning commands that scripts rely on. Each
//! provisioning command prints the created secret or id alone on the last line of stdout.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::blobs::BlobStore;
use crate::config::{self, Config, FileConfig};
use crate::db::Db;
use crate::model::{Role, Visibility};
use crate::python::archive::Limits;
use crate::registry::admin;
use crate::registry::manage::{self, FileRef, PackageRef};

#[derive(Parser)]
#[command(
    name = "wheelhouse",
    version,
    about = "A private Python package index in one executable"
)]
struct Cli {
    /// TOML configuration file (keys: data_dir, listen, max_upload_size, workers, external_url).
    #[arg(long, global = true, env = "WHEELHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and package files live [default: ~/.local/share/wheelhouse].
    #[arg(long, global = true, env = "WHEELHOUSE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage groups and subgroups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage members of groups and projects.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage deploy tokens of groups and projects.
    #[command(subcommand, name = "deploy-token")]
    DeployToken(DeployTokenCommand),
    /// Yank a version, or one file of it (PEP 592): pip and uv skip it unless pinned with ==.
    Yank {
        #[command(flatten)]
        target: PackageTarget,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Undo a yank.
    Unyank {
        #[command(flatten)]
        target: PackageTarget,
    },
    /// Delete a version, or one file of it; its filename can never return with other bytes.
    Delete {
        #[command(flatten)]
        target: PackageTarget,
    },
    /// Core metadata (PEP 658) housekeeping.
    #[command(subcommand)]
    Metadata(MetadataCommand),
}

#[derive(Args)]
struct PackageTarget {
    /// The project: full path (acme/models) or numeric id.
    project: String,
    name: String,
    version: String,
    /// Only this file of the version.
    #[arg(long)]
    file: Option<String>,
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Extract core metadata for stored files that lack it (also done at every start).
    Backfill,
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "WHEELHOUSE_LISTEN")]
    listen: Option<String>,
    /// Largest file an upload may carry, e.g. 1GiB or 500MB [default: 1GiB].
    #[arg(long, env = "WHEELHOUSE_MAX_UPLOAD_SIZE")]
    max_upload_size: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "WHEELHOUSE_WORKERS")]
    workers: Option<usize>,
    /// The URL clients reach this server at, when a reverse proxy changes it (https://pypi.lan).
    #[arg(long, env = "WHEELHOUSE_EXTERNAL_URL")]
    external_url: Option<String>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; prints the generated password (or, with --password-stdin, the user id).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    /// Remove a user (its tokens stop working at once).
    Remove {
        name: String,
    },
    /// Set a user's password; prints the generated one unless --password-stdin.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Block a user: its tokens stop working at once.
    Block {
        name: String,
    },
    Unblock {
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal access token; prints the secret (shown only this once).
    Add {
        user: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: api, read_api, read_package_registry, write_package_registry.
        #[arg(long)]
        scopes: String,
        /// Last day before expiry, YYYY-MM-DD (the token stops working at the start of that day, UTC).
        #[arg(long)]
        expires: Option<String>,
    },
    List {
        user: String,
    },
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group; nested paths (a/b) need the parent group.
    Add {
        path: String,
        #[arg(long, default_value = "private")]
        visibility: String,
    },
    List,
    /// Remove an empty group.
    Remove {
        path: String,
    },
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project in a group or a user's namespace; prints its numeric id.
    Add {
        path: String,
        #[arg(long, default_value = "private")]
        visibility: String,
    },
    List,
    /// Remove a project and all its packages.
    Remove {
        path: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member to a group or project, or change its role.
    Add {
        path: String,
        user: String,
        #[arg(long)]
        role: String,
    },
    List {
        path: String,
    },
    Remove {
        path: String,
        user: String,
    },
}

#[derive(Subcommand)]
enum DeployTokenCommand {
    /// Create a deploy token; prints `USERNAME TOKEN` (the token is shown only this once).
    Add {
        path: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: read_package_registry, write_package_registry.
        #[arg(long)]
        scopes: String,
        #[arg(long)]
        expires: Option<String>,
    },
    List {
        path: String,
    },
    Revoke {
        id: i64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.config {
        Some(path) => config::load_file(path)?,
        None => FileConfig::default(),
    };
    let data_dir = cli
        .data_dir
        .clone()
        .or(file.data_dir.clone())
        .unwrap_or_else(config::default_data_dir);
    match cli.command {
        Command::Serve(args) => serve(resolve_serve_config(data_dir, file, args)?),
        command => {
            let config = Config {
                data_dir,
                listen: config::DEFAULT_LISTEN.into(),
                max_upload_bytes: config::DEFAULT_MAX_UPLOAD,
                workers: 0,
                external_url: None,
            };
            let (db, blobs) = crate::server::open_data(&config)?;
            provision(&db, &blobs, command)
        }
    }
}

fn resolve_serve_config(
    data_dir: PathBuf,
    file: FileConfig,
    args: ServeArgs,
) -> anyhow::Result<Config> {
    let max_upload_bytes = match (args.max_upload_size, file.max_upload_size) {
        (Some(text), _) => config::parse_size(&text).context("--max-upload-size")?,
        (None, Some(value)) => value.bytes().context("max_upload_size")?,
        (None, None) => config::DEFAULT_MAX_UPLOAD,
    };
    Ok(Config {
        data_dir,
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| config::DEFAULT_LISTEN.into()),
        max_upload_bytes,
        workers: args.workers.or(file.workers).unwrap_or(0),
        external_url: args
            .external_url
            .or(file.external_url)
            .map(|url| config::parse_external_url(&url))
            .transpose()?,
    })
}

fn serve(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (db, blobs) = crate::server::open_data(&config)?;
    if let Some(password) = admin::ensure_first_admin(&mut *db.get()?)? {
        println!("Created the first user \"admin\" with the password: {password}");
        println!(
            "It is shown only now. Change it with: wheelhouse --data-dir {} user passwd admin --password-stdin",
            config.data_dir.display()
        );
    }
    let backfilled = manage::backfill_metadata(&mut *db.get()?, &blobs, &Limits::default())?;
    if backfilled > 0 {
        tracing::info!("extracted core metadata for {backfilled} stored files");
    }
    let listener = TcpListener::bind(&config.listen).with_context(|| {
        format!(
            "cannot listen on {} (is --listen right, and the port free?)",
            config.listen
        )
    })?;
    println!(
        "Wheelhouse listening on http://{} (data directory: {})",
        listener.local_addr()?,
        config.data_dir.display()
    );
    std::io::stdout().flush()?;
    actix_web::rt::System::new().block_on(crate::server::serve(config, db, blobs, listener))?;
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

fn provision(db: &Db, blobs: &BlobStore, command: Command) -> anyhow::Result<()> {
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
        Command::Metadata(MetadataCommand::Backfill) => {
            let done = manage::backfill_metadata(conn, blobs, &Limits::default())?;
            println!("{done}");
        }
        Command::Serve(_) => unreachable!("handled by run"),
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
            UserCommand::Remove { name } => admin::remove_user(conn, &name)?,
            UserCommand::Passwd {
                name,
                password_stdin,
            } => {
                let password = password_stdin.then(read_password_line).transpose()?;
                if let Some(generated) = admin::set_password(conn, &name, password.as_deref())? {
                    println!("{generated}");
                }
            }
            UserCommand::Block { name } => admin::set_blocked(conn, &name, true)?,
            UserCommand::Unblock { name } => admin::set_blocked(conn, &name, false)?,
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
                let group = admin::create_group(conn, &path, visibility(&v)?)?;
                println!("{}", group.id);
            }
            GroupCommand::List => {
                for g in admin::list_groups(conn)? {
                    println!("{}\t{}\t{}", g.id, g.full_path, g.visibility);
                }
            }
            GroupCommand::Remove { path } => admin::remove_group(conn, &path)?,
        },
        Command::Project(cmd) => match cmd {
            ProjectCommand::Add {
                path,
                visibility: v,
            } => {
                let project = admin::create_project(conn, &path, visibility(&v)?)?;
                println!("{}", project.id);
            }
            ProjectCommand::List => {
                for p in admin::list_projects(conn)? {
                    println!("{}\t{}\t{}", p.id, p.full_path, p.visibility);
                }
            }
            ProjectCommand::Remove { path } => admin::remove_project(conn, blobs, &path)?,
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
                let (token, secret) =
                    admin::create_deploy_token(conn, &path, &name, &scopes, expires.as_deref())?;
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
            DeployTokenCommand::Revoke { id } => admin::revoke_deploy_token(conn, id)?,
        },
    }
    Ok(())
}
