//! Authentication and authorization building blocks (placeholder overview).

pub mod password;
mod random;
