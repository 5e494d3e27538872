//! Types shared by the store, authentication and the HTTP API: validated ids
//! and roles.

mod ids;
mod roles;

pub use ids::{ApiKeyId, ExecutionId, IdError, UserId, WorkflowId};
pub use roles::{Role, RoleError};
