//! Authentication and authorization building blocks (placeholder overview).

pub mod jwt;
pub mod password;
mod random;
