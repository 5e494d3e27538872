//! Roles of role-based access control. A user may hold several; `admin`
//! implies every other role.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads workflows, executions and plugins.
    Viewer,
    /// Creates workflows and changes or deletes its own.
    Editor,
    /// Starts executions, reads their logs and cancels its own.
    Executor,
    /// Everything, including users, profiles, plugins and the audit log.
    Admin,
}

/// A role name that is not one of the four roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: use viewer, editor, executor or admin")]
pub struct RoleError(pub String);

impl Role {
    /// Every role, in order of increasing power.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Executor, Role::Admin];

    /// Returns the role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Executor => "executor",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(text: &str) -> Result<Role, RoleError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| RoleError(text.chars().take(32).collect()))
    }

    /// Returns true when `held` grants `self`: the same role, or admin.
    /// Editors and executors can also view.
    pub fn granted_by(self, held: &[Role]) -> bool {
        held.iter().any(|&role| {
            role == self || role == Role::Admin || (self == Role::Viewer && role != Role::Viewer)
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_grants_everything() {
        for role in Role::ALL {
            assert!(role.granted_by(&[Role::Admin]), "{role}");
        }
    }

    #[test]
    fn viewer_grants_only_viewer() {
        assert!(Role::Viewer.granted_by(&[Role::Viewer]));
        assert!(!Role::Editor.granted_by(&[Role::Viewer]));
        assert!(!Role::Executor.granted_by(&[Role::Viewer]));
        assert!(!Role::Admin.granted_by(&[Role::Viewer]));
    }

    #[test]
    fn editor_can_view_not_execute() {
        assert!(Role::Viewer.granted_by(&[Role::Editor]));
        assert!(!Role::Executor.granted_by(&[Role::Editor]));
    }

    #[test]
    fn unknown_role_rejected() {
        assert!(Role::parse("root").is_err());
    }
}
