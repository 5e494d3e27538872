//! Authentication and authorization building blocks (placeholder overview).

pub mod cookies;
pub mod jwt;
pub mod origin;
pub mod password;
mod random;
pub mod rbac;
pub mod throttle;
pub mod tokens;
