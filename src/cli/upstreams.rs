//! `wheelhouse group upstream …`: a top-level group's upstream indexes and name rules, set by
//! the operator through the same service (and permission table) as the API.

use clap::Subcommand;

use crate::auth::Caller;
use crate::registry::upstreams::{self, UpstreamInput};

const OPERATOR: &Caller = &Caller::Operator;

#[derive(Subcommand)]
pub(super) enum UpstreamCommand {
    /// Add an upstream simple index, asked after the group's others; prints its id.
    Add {
        /// The top-level group.
        path: String,
        /// An http or https simple index, such as https://pypi.org/simple/.
        url: String,
        /// Sent with the password (HTTP Basic) to the upstream.
        #[arg(long, requires = "password_stdin")]
        username: Option<String>,
        /// Read the upstream's password from the first line of standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// How long a cached page stays fresh, 0 to 8760 [default: 24].
        #[arg(long)]
        cache_hours: Option<i64>,
    },
    /// List the upstreams in the order they are asked (passwords are never shown).
    List { path: String },
    /// Remove an upstream, named by its id or URL.
    Remove { path: String, id_or_url: String },
    /// The name rules: reserve (the group's own), deny, or allow (only these go upstream).
    #[command(subcommand)]
    Rule(RuleCommand),
}

#[derive(Subcommand)]
pub(super) enum RuleCommand {
    /// Add a rule; the pattern takes '*' for any run of characters (acme-*). Prints its id.
    Add {
        path: String,
        /// reserve, allow or deny.
        kind: String,
        pattern: String,
    },
    List {
        path: String,
    },
    Remove {
        path: String,
        id: i64,
    },
}

pub(super) fn run(
    conn: &mut rusqlite::Connection,
    cmd: UpstreamCommand,
    password: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match cmd {
        UpstreamCommand::Add {
            path,
            url,
            username,
            password_stdin,
            cache_hours,
        } => {
            let password = password_stdin.then(password).transpose()?;
            let input = UpstreamInput {
                url,
                username,
                password,
                cache_hours,
            };
            let added = upstreams::add(conn, OPERATOR, &path, &input)?;
            eprintln!(
                "Added upstream {} to {path} at position {}.",
                added.url, added.position
            );
            println!("{}", added.id);
        }
        UpstreamCommand::List { path } => {
            for u in upstreams::list(conn, OPERATOR, &path)? {
                let username = u.username.as_deref().unwrap_or("-");
                let password = if u.has_password { "yes" } else { "no" };
                println!(
                    "{}\t{}\tusername:{username}\tpassword:{password}\tcache_hours:{}",
                    u.id, u.url, u.cache_hours
                );
            }
        }
        UpstreamCommand::Remove { path, id_or_url } => {
            let id = upstreams::id_of(conn, OPERATOR, &path, &id_or_url)?;
            let removed = upstreams::remove(conn, OPERATOR, &path, id)?;
            eprintln!("Removed upstream {} from {path}.", removed.url);
        }
        UpstreamCommand::Rule(RuleCommand::Add {
            path,
            kind,
            pattern,
        }) => {
            let rule = upstreams::add_rule(conn, OPERATOR, &path, &kind, &pattern)?;
            eprintln!(
                "Added rule {} {} to {path}.",
                rule.kind.as_str(),
                rule.pattern
            );
            println!("{}", rule.id);
        }
        UpstreamCommand::Rule(RuleCommand::List { path }) => {
            for rule in upstreams::list_rules(conn, OPERATOR, &path)? {
                println!("{}\t{}\t{}", rule.id, rule.kind.as_str(), rule.pattern);
            }
        }
        UpstreamCommand::Rule(RuleCommand::Remove { path, id }) => {
            let rule = upstreams::remove_rule(conn, OPERATOR, &path, id)?;
            eprintln!(
                "Removed rule {} {} from {path}.",
                rule.kind.as_str(),
                rule.pattern
            );
        }
    }
    Ok(())
}
