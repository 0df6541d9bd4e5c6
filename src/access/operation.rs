//! The operations of the permission table: everything a caller can ask the registry to do.

/// Everything a caller can ask the registry to do. Each registered route and web form
/// carries exactly one (see `routes::inventory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    // Open to everyone: no target, nothing to protect.
    /// `/-/health`.
    PublicHealth,
    /// Embedded stylesheets, scripts and icons.
    PublicStatic,
    /// The OpenAPI description and `/api/v4/version`.
    PublicApiInfo,
    /// The sign-in page and form, and signing out.
    PublicSignIn,
    /// The explore page: anyone may ask, the answer holds only what the caller may see
    /// (each entry judged as `PageView`).
    PublicList,

    // The caller's own account. The target is a user account; the caller's "role" on it is
    // `Owner` when it is their own, none otherwise.
    /// `GET /user`: who am I.
    AccountShow,
    /// Change one's own password (web).
    AccountPassword,
    /// List or show personal access tokens.
    TokensList,
    /// Create a personal access token for an account.
    TokensCreate,
    /// Revoke or rotate a personal access token.
    TokensRevoke,

    // Users.
    /// List and search users, show one (fields depend on who asks).
    UsersList,
    /// Create, change, block, unblock, delete users; tokens for others (admins only).
    UsersAdmin,

    // Groups and projects. The target is the group or project named; for creation it is the
    // parent group (or the caller's own namespace).
    /// The API's group and project lists: for API users; each entry judged as `PlaceShow`.
    PlacesList,
    /// Details of a group or project on the API (and its subgroups and projects).
    PlaceShow,
    /// The web page of a group, project or package: public ones open to everyone.
    PageView,
    /// A top-level group (any user, as GitLab's default `can_create_group`).
    GroupCreate,
    /// A subgroup, judged on the parent group.
    SubgroupCreate,
    /// A project, judged on the namespace it goes into.
    ProjectCreate,
    /// The settings page of a group or project.
    SettingsShow,
    /// Visibility and other settings of a group or project.
    PlaceUpdate,
    /// Deleting a group or project.
    PlaceDelete,

    // Members.
    /// Direct or inherited members.
    MembersList,
    /// Add a member (also judged by [`member_change`]).
    MembersAdd,
    /// Change a member's role (also judged by [`member_change`]).
    MembersChange,
    /// Remove a member (also judged by [`member_change`]).
    MembersRemove,

    // Deploy tokens of a project or group (maintainers and up).
    /// List a project's or group's deploy tokens.
    DeployTokensList,
    /// Create one (the secret is shown once).
    DeployTokensCreate,
    /// Revoke one.
    DeployTokensRevoke,

    // Project and group access tokens: tokens of a bot member (maintainers and up; the bot's
    // role never above the creator's own).
    /// List or show a project's or group's access tokens.
    AccessTokensList,
    /// Create one (the secret is shown once).
    AccessTokensCreate,
    /// Revoke one (its bot is deactivated), or rotate one (revoke it and issue its successor).
    AccessTokensRevoke,

    // Upstream indexes of a top-level group and its name rules (owners).
    /// List a group's upstreams (never their passwords) and name rules.
    UpstreamsList,
    /// Add, change or remove upstreams and name rules.
    UpstreamsManage,

    // The audit trail.
    /// Every event of the instance (admins only: API, web page).
    AuditList,
    /// The events of a group and everything under it (owners).
    AuditGroup,
    /// The events of a project (maintainers and up).
    AuditProject,

    // Packages.
    /// Index pages, JSON metadata, package lists and package pages.
    PackagesRead,
    /// A package file's bytes (and its `.metadata`).
    PackagesDownload,
    /// Publishing a file.
    PackagesUpload,
    /// Yank and unyank a release or a file.
    PackagesYank,
    /// Delete a package or a file.
    PackagesDelete,
}

impl Operation {
    /// Every operation, for tests that walk the table (`decide` answers each of them for any
    /// caller and visibility).
    pub const ALL: [Operation; 41] = [
        Operation::PublicHealth,
        Operation::PublicStatic,
        Operation::PublicApiInfo,
        Operation::PublicSignIn,
        Operation::PublicList,
        Operation::AccountShow,
        Operation::AccountPassword,
        Operation::TokensList,
        Operation::TokensCreate,
        Operation::TokensRevoke,
        Operation::UsersList,
        Operation::UsersAdmin,
        Operation::PlacesList,
        Operation::PlaceShow,
        Operation::PageView,
        Operation::GroupCreate,
        Operation::SubgroupCreate,
        Operation::ProjectCreate,
        Operation::SettingsShow,
        Operation::PlaceUpdate,
        Operation::PlaceDelete,
        Operation::MembersList,
        Operation::MembersAdd,
        Operation::MembersChange,
        Operation::MembersRemove,
        Operation::DeployTokensList,
        Operation::DeployTokensCreate,
        Operation::DeployTokensRevoke,
        Operation::AccessTokensList,
        Operation::AccessTokensCreate,
        Operation::AccessTokensRevoke,
        Operation::UpstreamsList,
        Operation::UpstreamsManage,
        Operation::AuditList,
        Operation::AuditGroup,
        Operation::AuditProject,
        Operation::PackagesRead,
        Operation::PackagesDownload,
        Operation::PackagesUpload,
        Operation::PackagesYank,
        Operation::PackagesDelete,
    ];
}
