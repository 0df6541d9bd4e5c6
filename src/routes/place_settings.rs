//! The body of a create or update of a group or project, as GitLab's clients send it, and the
//! path GitLab derives from a name.

use serde::Deserialize;
use utoipa::ToSchema;

use super::params;
use crate::error::{Error, Result};
use crate::model::Visibility;
use crate::registry::structure::Text;

/// The body (or query) of a create or update: GitLab's field names. Numbers and booleans may
/// come as strings, as the `gitlab` command line sends them.
#[derive(Deserialize, Default, ToSchema)]
pub struct Settings {
    /// The display name; without `path`, the path is derived from it as GitLab does
    /// (`My Project` → `my-project`).
    /// Letters, digits, emoji, `_`, `.`, `-`, `+`, spaces and parentheses.
    #[schema(max_length = 255, pattern = "^[A-Za-z0-9_][A-Za-z0-9_.+() -]*$")]
    pub name: Option<String>,
    /// Letters, digits, `_`, `-` and `.`; not all digits, not starting with `-` or `.`.
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_-]{0,40}$")]
    pub path: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "params::opt_int")]
    pub parent_id: Option<i64>,
    #[serde(default, deserialize_with = "params::opt_int")]
    pub namespace_id: Option<i64>,
    #[schema(pattern = "^(private|internal|public)$")]
    pub visibility: Option<String>,
    #[serde(default, deserialize_with = "params::opt_flag")]
    pub allow_file_replace: Option<bool>,
}

impl Settings {
    pub fn path(&self) -> Result<String> {
        match (&self.path, &self.name) {
            (Some(path), _) => Ok(path.clone()),
            (None, Some(name)) => slug(name),
            (None, None) => Err(Error::bad_request(
                "400 Bad request - name or path is missing",
            )),
        }
    }

    pub fn text(&self) -> Text {
        Text {
            name: self.name.clone(),
            description: self.description.clone(),
        }
    }

    pub fn visibility(&self) -> Result<Option<Visibility>> {
        self.visibility.as_deref().map(str::parse).transpose()
    }

    /// What a create needs: the path, and the visibility (private unless asked, as GitLab).
    pub fn for_creation(&self) -> Result<(String, Visibility)> {
        Ok((
            self.path()?,
            self.visibility()?.unwrap_or(Visibility::Private),
        ))
    }
}

/// The path GitLab derives from a name (Rails' `parameterize`): lower case, each run of
/// other characters than letters, digits and `_` one `-`, none at either end.
fn slug(name: &str) -> Result<String> {
    let mut path = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            path.push(c.to_ascii_lowercase());
        } else if !path.ends_with('-') {
            path.push('-');
        }
    }
    let path = path.trim_matches('-');
    if path.is_empty() {
        return Err(Error::bad_request(format!(
            "400 Bad request - no path can be made from the name \"{name}\": give a path"
        )));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_come_from_names_as_gitlab_makes_them() {
        assert_eq!(super::slug("My Project").unwrap(), "my-project");
        assert_eq!(
            super::slug("  Acme (EU) -- tools ").unwrap(),
            "acme-eu-tools"
        );
        assert_eq!(super::slug("snake_case-2").unwrap(), "snake_case-2");
        assert!(super::slug("🚀").is_err());
    }
}
