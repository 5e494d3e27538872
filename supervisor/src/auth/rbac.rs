//! Role-based access control: the role each API action needs, written as
//! data, and the ownership rules on top.
//!
//! Roles nest as [`Role::granted_by`] defines: admin holds every role, and
//! editor or executor also hold viewer. Changing or deleting a workflow,
//! cancelling an execution and revoking an API key additionally need the
//! caller to own the resource, unless the caller is an admin. Creating an
//! API key needs an interactive login, so a leaked key cannot mint longer
//! lived ones.

use std::fmt;

use serde::Serialize;

use crate::model::{ApiKeyId, Role, UserId};

/// One operation of the HTTP API, as checked by [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `GET /workflows`
    ListWorkflows,
    /// `GET /workflows/{id}`
    GetWorkflow,
    /// `POST /workflows`
    CreateWorkflow,
    /// `PUT /workflows/{id}`
    UpdateWorkflow,
    /// `DELETE /workflows/{id}`
    DeleteWorkflow,
    /// `POST /workflows/{id}/executions`
    ExecuteWorkflow,
    /// `GET /executions`
    ListExecutions,
    /// `GET /executions/{id}`
    GetExecution,
    /// `GET /executions/{id}/logs`
    GetExecutionLogs,
    /// `GET /executions/{id}/stream` (WebSocket)
    StreamExecution,
    /// `POST /executions/{id}/cancel`
    CancelExecution,
    /// `GET /plugins`
    ListPlugins,
    /// `POST /plugins`
    RegisterPlugin,
    /// `POST /plugins/{name}/approve`
    ApprovePlugin,
    /// `DELETE /plugins/{name}`
    DeletePlugin,
    /// `GET /profiles`
    ListProfiles,
    /// `GET /profiles/{name}`
    GetProfile,
    /// `GET /users`
    ListUsers,
    /// `POST /users`
    CreateUser,
    /// `PUT /users/{id}/roles`
    SetUserRoles,
    /// List the caller's own API keys.
    ListOwnApiKeys,
    /// Create an API key for the caller.
    CreateOwnApiKey,
    /// Revoke one of the caller's API keys (admins: any key).
    RevokeOwnApiKey,
    /// `GET /audit`
    ListAudit,
}

impl Action {
    /// Every action, in route order.
    pub const ALL: [Action; 24] = [
        Action::ListWorkflows,
        Action::GetWorkflow,
        Action::CreateWorkflow,
        Action::UpdateWorkflow,
        Action::DeleteWorkflow,
        Action::ExecuteWorkflow,
        Action::ListExecutions,
        Action::GetExecution,
        Action::GetExecutionLogs,
        Action::StreamExecution,
        Action::CancelExecution,
        Action::ListPlugins,
        Action::RegisterPlugin,
        Action::ApprovePlugin,
        Action::DeletePlugin,
        Action::ListProfiles,
        Action::GetProfile,
        Action::ListUsers,
        Action::CreateUser,
        Action::SetUserRoles,
        Action::ListOwnApiKeys,
        Action::CreateOwnApiKey,
        Action::RevokeOwnApiKey,
        Action::ListAudit,
    ];

    /// Returns the action's stable snake_case name, for audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ListWorkflows => "list_workflows",
            Action::GetWorkflow => "get_workflow",
            Action::CreateWorkflow => "create_workflow",
            Action::UpdateWorkflow => "update_workflow",
            Action::DeleteWorkflow => "delete_workflow",
            Action::ExecuteWorkflow => "execute_workflow",
            Action::ListExecutions => "list_executions",
            Action::GetExecution => "get_execution",
            Action::GetExecutionLogs => "get_execution_logs",
            Action::StreamExecution => "stream_execution",
            Action::CancelExecution => "cancel_execution",
            Action::ListPlugins => "list_plugins",
            Action::RegisterPlugin => "register_plugin",
            Action::ApprovePlugin => "approve_plugin",
            Action::DeletePlugin => "delete_plugin",
            Action::ListProfiles => "list_profiles",
            Action::GetProfile => "get_profile",
            Action::ListUsers => "list_users",
            Action::CreateUser => "create_user",
            Action::SetUserRoles => "set_user_roles",
            Action::ListOwnApiKeys => "list_own_api_keys",
            Action::CreateOwnApiKey => "create_own_api_key",
            Action::RevokeOwnApiKey => "revoke_own_api_key",
            Action::ListAudit => "list_audit",
        }
    }

    /// Returns true when a non-admin caller must also own the resource.
    pub fn needs_ownership(self) -> bool {
        matches!(
            self,
            Action::UpdateWorkflow
                | Action::DeleteWorkflow
                | Action::CancelExecution
                | Action::RevokeOwnApiKey
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returns the role an action needs. Managing one's own API keys needs
/// viewer, the least role, so every user with any role can do it.
pub fn required_role(action: Action) -> Role {
    match action {
        Action::ListWorkflows
        | Action::GetWorkflow
        | Action::ListExecutions
        | Action::GetExecution
        | Action::ListPlugins
        | Action::ListOwnApiKeys
        | Action::CreateOwnApiKey
        | Action::RevokeOwnApiKey => Role::Viewer,

        Action::CreateWorkflow | Action::UpdateWorkflow | Action::DeleteWorkflow => Role::Editor,

        Action::ExecuteWorkflow
        | Action::GetExecutionLogs
        | Action::StreamExecution
        | Action::CancelExecution => Role::Executor,

        Action::RegisterPlugin
        | Action::ApprovePlugin
        | Action::DeletePlugin
        | Action::ListProfiles
        | Action::GetProfile
        | Action::ListUsers
        | Action::CreateUser
        | Action::SetUserRoles
        | Action::ListAudit => Role::Admin,
    }
}

/// The method that authenticated a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A JWT access token from an interactive login.
    Jwt,
    /// An API key.
    ApiKey { key_id: ApiKeyId },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// Roles in force for this request; for an API key, the key's roles
    /// narrowed by [`scope_api_key_roles`].
    pub roles: Vec<Role>,
    pub via: AuthMethod,
}

impl Principal {
    /// Returns true when the principal has `role`, directly or through a
    /// role that implies it.
    pub fn has_role(&self, role: Role) -> bool {
        role.granted_by(&self.roles)
    }

    /// Returns true when the principal has the admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

/// A denied request. The HTTP layer returns 403 and audits it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("permission denied: {action} needs the {required} role; ask an admin to grant it")]
    MissingRole { action: Action, required: Role },

    #[error(
        "permission denied: {action} is allowed only on your own resources unless you are an admin"
    )]
    NotOwner { action: Action },

    #[error(
        "permission denied: {action} needs an interactive login, not an API key; log in and retry"
    )]
    ApiKeyNotAllowed { action: Action },
}

/// Decides whether `principal` may perform `action`.
///
/// `owner` is the owner of the resource the action touches; the caller
/// passes it for actions where [`Action::needs_ownership`] is true, and
/// `None` there means the resource has no owner, which only admins may act
/// on. For other actions `owner` is ignored.
pub fn authorize(
    principal: &Principal,
    action: Action,
    owner: Option<&UserId>,
) -> Result<(), Denied> {
    if action == Action::CreateOwnApiKey && matches!(principal.via, AuthMethod::ApiKey { .. }) {
        return Err(Denied::ApiKeyNotAllowed { action });
    }

    let required = required_role(action);
    if !principal.has_role(required) {
        return Err(Denied::MissingRole { action, required });
    }

    if action.needs_ownership() && !principal.is_admin() && owner != Some(&principal.user_id) {
        return Err(Denied::NotOwner { action });
    }
    Ok(())
}

/// Returns the roles an API key carries for a request: the key's roles that
/// the user still holds, so a key never outranks its user after the user's
/// roles are reduced.
pub fn scope_api_key_roles(key_roles: &[Role], user_roles: &[Role]) -> Vec<Role> {
    let mut roles: Vec<Role> = key_roles
        .iter()
        .copied()
        .filter(|role| role.granted_by(user_roles))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected outcomes per action, one character per role in the order
    /// viewer, editor, executor, admin (`-` denied), first when the caller
    /// owns the resource and then when another user does.
    const TABLE: [(Action, &str, &str); 24] = [
        (Action::ListWorkflows, "VEXA", "VEXA"),
        (Action::GetWorkflow, "VEXA", "VEXA"),
        (Action::CreateWorkflow, "-E-A", "-E-A"),
        (Action::UpdateWorkflow, "-E-A", "---A"),
        (Action::DeleteWorkflow, "-E-A", "---A"),
        (Action::ExecuteWorkflow, "--XA", "--XA"),
        (Action::ListExecutions, "VEXA", "VEXA"),
        (Action::GetExecution, "VEXA", "VEXA"),
        (Action::GetExecutionLogs, "--XA", "--XA"),
        (Action::StreamExecution, "--XA", "--XA"),
        (Action::CancelExecution, "--XA", "---A"),
        (Action::ListPlugins, "VEXA", "VEXA"),
        (Action::RegisterPlugin, "---A", "---A"),
        (Action::ApprovePlugin, "---A", "---A"),
        (Action::DeletePlugin, "---A", "---A"),
        (Action::ListProfiles, "---A", "---A"),
        (Action::GetProfile, "---A", "---A"),
        (Action::ListUsers, "---A", "---A"),
        (Action::CreateUser, "---A", "---A"),
        (Action::SetUserRoles, "---A", "---A"),
        (Action::ListOwnApiKeys, "VEXA", "VEXA"),
        (Action::CreateOwnApiKey, "VEXA", "VEXA"),
        (Action::RevokeOwnApiKey, "VEXA", "---A"),
        (Action::ListAudit, "---A", "---A"),
    ];

    fn caller() -> UserId {
        UserId::parse("11111111-1111-4111-8111-111111111111").unwrap()
    }

    fn someone_else() -> UserId {
        UserId::parse("22222222-2222-4222-8222-222222222222").unwrap()
    }

    fn principal(roles: &[Role]) -> Principal {
        Principal {
            user_id: caller(),
            roles: roles.to_vec(),
            via: AuthMethod::Jwt,
        }
    }

    fn via_api_key(roles: &[Role]) -> Principal {
        Principal {
            via: AuthMethod::ApiKey {
                key_id: ApiKeyId::generate(),
            },
            ..principal(roles)
        }
    }

    #[test]
    fn table_covers_every_action() {
        let listed: Vec<Action> = TABLE.iter().map(|(action, _, _)| *action).collect();
        assert_eq!(listed, Action::ALL.to_vec());
    }

    #[test]
    fn table_owner_cases() {
        for (action, own, _) in TABLE {
            for (role, expected) in Role::ALL.into_iter().zip(own.chars()) {
                let allowed = authorize(&principal(&[role]), action, Some(&caller())).is_ok();
                assert_eq!(allowed, expected != '-', "{action} as {role}, own resource");
            }
        }
    }

    #[test]
    fn table_non_owner_cases() {
        for (action, _, other) in TABLE {
            for (role, expected) in Role::ALL.into_iter().zip(other.chars()) {
                let allowed = authorize(&principal(&[role]), action, Some(&someone_else())).is_ok();
                assert_eq!(
                    allowed,
                    expected != '-',
                    "{action} as {role}, other's resource"
                );
            }
        }
    }

    #[test]
    fn no_roles_denied_everything() {
        for action in Action::ALL {
            let result = authorize(&principal(&[]), action, Some(&caller()));
            assert!(
                matches!(result, Err(Denied::MissingRole { .. })),
                "{action}"
            );
        }
    }

    #[test]
    fn combined_roles_union() {
        let both = principal(&[Role::Editor, Role::Executor]);
        assert_eq!(authorize(&both, Action::CreateWorkflow, None), Ok(()));
        assert_eq!(authorize(&both, Action::ExecuteWorkflow, None), Ok(()));
        assert!(authorize(&both, Action::ListAudit, None).is_err());
    }

    #[test]
    fn ownerless_resource_needs_admin() {
        let editor = principal(&[Role::Editor]);
        assert_eq!(
            authorize(&editor, Action::UpdateWorkflow, None),
            Err(Denied::NotOwner {
                action: Action::UpdateWorkflow
            })
        );
        assert_eq!(
            authorize(&principal(&[Role::Admin]), Action::UpdateWorkflow, None),
            Ok(())
        );
    }

    #[test]
    fn missing_role_reported() {
        let result = authorize(&principal(&[Role::Viewer]), Action::ExecuteWorkflow, None);
        assert_eq!(
            result,
            Err(Denied::MissingRole {
                action: Action::ExecuteWorkflow,
                required: Role::Executor
            })
        );
    }

    #[test]
    fn role_checked_before_ownership() {
        let result = authorize(
            &principal(&[Role::Viewer]),
            Action::DeleteWorkflow,
            Some(&caller()),
        );
        assert!(matches!(result, Err(Denied::MissingRole { .. })));
    }

    #[test]
    fn api_key_cannot_create_keys() {
        let result = authorize(&via_api_key(&[Role::Admin]), Action::CreateOwnApiKey, None);
        assert_eq!(
            result,
            Err(Denied::ApiKeyNotAllowed {
                action: Action::CreateOwnApiKey
            })
        );
    }

    #[test]
    fn api_key_can_revoke_own_key() {
        let result = authorize(
            &via_api_key(&[Role::Viewer]),
            Action::RevokeOwnApiKey,
            Some(&caller()),
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn api_key_roles_follow_table() {
        let result = authorize(
            &via_api_key(&[Role::Executor]),
            Action::ExecuteWorkflow,
            None,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn scope_keeps_held_roles() {
        let roles = scope_api_key_roles(&[Role::Viewer, Role::Executor], &[Role::Executor]);
        assert_eq!(roles, vec![Role::Viewer, Role::Executor]);
    }

    #[test]
    fn scope_drops_lost_roles() {
        let roles = scope_api_key_roles(&[Role::Admin, Role::Editor], &[Role::Editor]);
        assert_eq!(roles, vec![Role::Editor]);
    }

    #[test]
    fn scope_narrows_admin_user() {
        let roles = scope_api_key_roles(&[Role::Viewer], &[Role::Admin]);
        assert_eq!(roles, vec![Role::Viewer]);
    }

    #[test]
    fn scope_of_no_roles_is_empty() {
        assert!(scope_api_key_roles(&[Role::Admin], &[]).is_empty());
    }

    #[test]
    fn action_names_unique() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|action| action.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn action_serializes_as_name() {
        for action in Action::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{action}\""));
        }
    }

    #[test]
    fn denial_message_names_role() {
        let message = Denied::MissingRole {
            action: Action::ListAudit,
            required: Role::Admin,
        }
        .to_string();
        assert_eq!(
            message,
            "permission denied: list_audit needs the admin role; ask an admin to grant it"
        );
    }
}
