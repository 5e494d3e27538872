//! Errors raised while loading, resolving and compiling sandbox profiles.

use std::path::PathBuf;

/// An error from the profile loader, resolver or seccomp compiler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A profile or groups file could not be read.
    #[error("failed to read {path}: {source}; check that the file exists and is readable")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The profiles directory could not be listed.
    #[error("failed to list profiles directory {dir}: {source}; check the configured profiles directory")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file is larger than the loader accepts.
    #[error(
        "{path}: file is {size} bytes, larger than the limit of {limit} bytes; split or shorten it"
    )]
    FileTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// A file is not valid TOML or does not match the profile format.
    #[error("{path}: {message}")]
    ParseFile { path: PathBuf, message: String },

    /// A field contains a value that is not allowed.
    #[error("{path}: {field}: {message}")]
    InvalidField {
        path: PathBuf,
        field: String,
        message: String,
    },

    /// A profile name asked for does not exist.
    #[error("profile \"{name}\" not found; available profiles: {available}")]
    ProfileNotFound { name: String, available: String },

    /// A profile extends one that does not exist.
    #[error(
        "{path}: extends: profile \"{parent}\" not found in {dir}; available profiles: {available}"
    )]
    ParentNotFound {
        path: PathBuf,
        parent: String,
        dir: PathBuf,
        available: String,
    },

    /// Profiles extend each other in a cycle.
    #[error("profiles extend each other in a cycle: {chain}; remove one of these `extends`")]
    ExtendsCycle { chain: String },

    /// An `extends` chain is longer than the loader accepts.
    #[error("extends chain {chain} is longer than {limit} profiles; extend a profile closer to the base")]
    ExtendsTooDeep { chain: String, limit: usize },

    /// The directory has more profiles than the loader accepts.
    #[error("{dir} holds more than {limit} profile files; remove unused profiles")]
    TooManyProfiles { dir: PathBuf, limit: usize },

    /// The seccomp filter of a profile could not be built.
    #[error("profile \"{profile}\": failed to compile the seccomp filter: {message}")]
    CompileSeccomp { profile: String, message: String },

    /// A directory substituted into a profile is unusable.
    #[error("invalid {variable} directory {path}: {reason}")]
    InvalidDirectory {
        variable: &'static str,
        path: PathBuf,
        reason: String,
    },
}
