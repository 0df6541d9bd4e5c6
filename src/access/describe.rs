//! The permission table written out for people: a Markdown table generated from `decide`,
//! so that the README's security section and the code cannot disagree.

use super::table::{Decision, Operation, Who, decide};
use crate::model::{Role, Scope, Scopes, Visibility};

/// The callers the written table shows, with their column headings.
fn columns() -> Vec<(&'static str, Who)> {
    let member = |role| Who::session(Some(role));
    vec![
        ("anonymous", Who::Anonymous),
        ("signed in, not a member", Who::session(None)),
        ("guest", member(Role::Guest)),
        ("reporter", member(Role::Reporter)),
        ("developer", member(Role::Developer)),
        ("maintainer", member(Role::Maintainer)),
        ("owner", member(Role::Owner)),
        ("admin", Who::admin()),
        (
            "owner's read-only token",
            Who::token(
                Some(Role::Owner),
                &[Scope::ReadApi, Scope::ReadPackageRegistry],
            ),
        ),
        (
            "deploy token (read, write) of it",
            Who::DeployToken {
                own: true,
                scopes: Scopes::of(&[Scope::ReadPackageRegistry, Scope::WritePackageRegistry]),
            },
        ),
        (
            "deploy token of another",
            Who::DeployToken {
                own: false,
                scopes: Scopes::of(&[Scope::ReadPackageRegistry, Scope::WritePackageRegistry]),
            },
        ),
    ]
}

fn cell(op: Operation, who: &Who) -> String {
    if op.on_account()
        && let Who::User {
            admin,
            member_inside,
            via,
            ..
        } = who
    {
        // The columns' roles are on groups and projects; an account is the caller's own
        // (role `Owner`) or someone else's (no role).
        let on = |role| Who::User {
            admin: *admin,
            role,
            member_inside: *member_inside,
            via: via.clone(),
        };
        let own = status_of(decide(op, &on(Some(Role::Owner)), Visibility::Public));
        let other = status_of(decide(op, &on(None), Visibility::Public));
        return if own == other {
            own.to_owned()
        } else {
            format!("own {own}, another's {other}")
        };
    }
    let status = |visibility| status_of(decide(op, who, visibility));
    if !op.has_target() {
        return status(Visibility::Public).to_owned();
    }
    let [private, internal, public] = [
        Visibility::Private,
        Visibility::Internal,
        Visibility::Public,
    ]
    .map(status);
    if private == internal && internal == public {
        private.to_owned()
    } else {
        format!("{private} / {internal} / {public}")
    }
}

fn status_of(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "✓",
        Decision::Unauthorized => "401",
        Decision::Hidden => "404",
        Decision::Forbidden => "403",
    }
}

/// The table as Markdown: one row per operation, one column per kind of caller; a cell is
/// `✓` (allowed) or the status of the refusal, as `private / internal / public` where the
/// target's visibility matters. Roles are on the target (inherited through groups). Blocked
/// users and expired or revoked tokens never get this far: they are answered 401.
pub fn markdown() -> String {
    let columns = columns();
    let mut out = String::from("| operation |");
    for (heading, _) in &columns {
        out.push_str(&format!(" {heading} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for op in Operation::ALL {
        out.push_str(&format!("| {op:?} |"));
        for (_, who) in &columns {
            out.push_str(&format!(" {} |", cell(op, who)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_written_table_has_a_row_per_operation() {
        let table = super::markdown();
        assert_eq!(table.lines().count(), super::Operation::ALL.len() + 2);
        assert!(table.contains("| PackagesUpload | 401 |"), "{table}");
    }
}

#[cfg(test)]
mod readme {
    /// The README's security section shows the table this module writes; a change to the
    /// table that the README does not follow fails here (paste the printed table there).
    #[test]
    fn the_readme_shows_the_permission_table_of_the_code() {
        let readme = include_str!("../../README.md");
        let table = super::markdown();
        assert!(
            readme.contains(&table),
            "README.md's permission table differs from the code's; the code's is:\n{table}"
        );
    }
}
