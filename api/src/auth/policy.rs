//! The one place that decides which role may do what.
//!
//! Every resolver that needs more than a signed-in caller carries an
//! `Allow` guard (`graphql::guards`) naming its [`Action`]; the table in
//! [`permits`] is the whole policy and the permission table of
//! docs/security.md mirrors it.

use super::principal::{Principal, Role};
use crate::error::AppError;

/// Things a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create, change, suspend and delete tenants.
    ManageTenants,
    /// Create and change users of the tenant.
    ManageUsers,
    /// Create, change and archive workspaces.
    ManageWorkspaces,
    /// Read workspaces, sessions, documents; search.
    ReadContent,
    /// Create, change, cancel and delete sessions.
    WriteSessions,
    /// Write outline steps and their status.
    WriteOutline,
    /// Append, revise and delete fragments.
    WriteFragments,
    /// Record retrievals, executions and LLM calls.
    WriteAgentRecords,
    /// Ingest, change and delete reference documents.
    WriteDocuments,
    /// Read audit logs and usage.
    ReadAudit,
    /// Database monitoring and maintenance.
    Operate,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::ManageTenants,
        Action::ManageUsers,
        Action::ManageWorkspaces,
        Action::ReadContent,
        Action::WriteSessions,
        Action::WriteOutline,
        Action::WriteFragments,
        Action::WriteAgentRecords,
        Action::WriteDocuments,
        Action::ReadAudit,
        Action::Operate,
    ];

    fn describe(self) -> &'static str {
        match self {
            Self::ManageTenants => "manage tenants",
            Self::ManageUsers => "manage users",
            Self::ManageWorkspaces => "manage workspaces",
            Self::ReadContent => "read tenant content",
            Self::WriteSessions => "write sessions",
            Self::WriteOutline => "write outline steps",
            Self::WriteFragments => "write fragments",
            Self::WriteAgentRecords => "write agent records",
            Self::WriteDocuments => "write documents",
            Self::ReadAudit => "read audit logs and usage",
            Self::Operate => "operate the database",
        }
    }
}

/// The permission table.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ManageTenants | Operate => role == PlatformAdmin,
        ManageUsers | ManageWorkspaces => role == TenantAdmin,
        ReadContent => matches!(role, TenantAdmin | Member | Viewer | Agent),
        WriteSessions | WriteDocuments => matches!(role, TenantAdmin | Member),
        WriteOutline | WriteFragments => matches!(role, TenantAdmin | Member | Agent),
        WriteAgentRecords => matches!(role, TenantAdmin | Agent),
        ReadAudit => matches!(role, TenantAdmin | PlatformAdmin),
    }
}

/// Checks `action` for the current caller: `UNAUTHENTICATED` without a
/// valid token, `FORBIDDEN` when the role may not.
pub fn check(principal: &Principal, action: Action) -> Result<Role, AppError> {
    let role = principal.role().ok_or_else(|| principal.unauthenticated())?;
    if permits(role, action) {
        Ok(role)
    } else {
        Err(AppError::forbidden(format!(
            "role {} may not {}",
            role.as_str(),
            action.describe()
        )))
    }
}
