//! Errors raised while loading, checking and resolving plugins.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Failure to load, check or resolve one plugin.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The plugin directory could not be resolved to a canonical path.
    #[error("failed to open plugin directory {dir}; check that it exists and is readable")]
    OpenDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The manifest could not be opened or read as UTF-8 text.
    #[error(
        "failed to read plugin manifest {path}; check that it exists, is a regular file \
         (not a symlink) and is UTF-8 text"
    )]
    ReadManifest {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The manifest is larger than [`crate::plugins::manifest::MAX_MANIFEST_BYTES`].
    #[error("plugin manifest {path} is larger than the limit of {max} bytes; shorten it")]
    ManifestTooLarge { path: PathBuf, max: u64 },

    /// The manifest is not valid TOML or does not fit the manifest format.
    #[error(
        "failed to parse plugin manifest {path} at line {line}, column {column}: {message}; \
         fix the TOML syntax or the field, and remove fields the format does not define"
    )]
    ParseManifest {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A manifest field has a value the format does not accept.
    #[error("invalid field `{field}` in plugin manifest {path}: {problem}; {fix}")]
    InvalidField {
        path: PathBuf,
        field: String,
        problem: String,
        fix: String,
    },

    /// A plugin file could not be opened or read while hashing it.
    #[error("failed to hash plugin file {file}; check that it is readable")]
    HashFile {
        file: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A plugin file is larger than [`crate::plugins::digest::MAX_HASHED_FILE_BYTES`].
    #[error(
        "plugin file {file} is larger than the hashing limit of {max} bytes; ship a smaller file"
    )]
    FileTooLarge { file: PathBuf, max: u64 },

    /// A plugin file's content does not match the digest pinned in the manifest.
    #[error(
        "digest mismatch for file {file} of plugin `{plugin}`: expected {expected}, actual \
         {actual}; restore the file, or if the change is intended, pin the new digest in \
         plugin.toml and register the plugin again"
    )]
    DigestMismatch {
        plugin: String,
        file: PathBuf,
        expected: String,
        actual: String,
    },

    /// A handler reference is not of the form `plugin.handler`.
    #[error(
        "invalid handler reference `{reference}`: expected `plugin.handler`, for example \
         `hello.greet`"
    )]
    InvalidHandlerReference { reference: String },

    /// No plugin of that name was found in the plugins directory.
    #[error(
        "plugin `{plugin}` not found in plugin directory {dir}; check the name, or add a \
         directory with its plugin.toml there"
    )]
    PluginNotFound { plugin: String, dir: PathBuf },

    /// The plugin exists but has no handler of that name.
    #[error("handler `{handler}` not found in plugin `{plugin}`; its handlers are: {available}")]
    HandlerNotFound {
        plugin: String,
        handler: String,
        available: String,
    },

    /// A directory could not be listed while building a `[files]` table.
    #[error("failed to list directory {dir}; check that it exists and is readable")]
    ListDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file name cannot be a manifest key because it is not UTF-8.
    #[error("file name {path} is not valid UTF-8; rename it, because manifest keys are UTF-8")]
    NonUtf8FileName { path: PathBuf },

    /// A plugin directory contains more files than a manifest may list.
    #[error(
        "plugin directory {dir} contains more than {max} files; remove files the plugin does \
         not need"
    )]
    TooManyFiles { dir: PathBuf, max: usize },
}

/// One reason why a plugins directory failed to load.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// An entry of the plugins directory could not be inspected.
    #[error("failed to inspect {path}; check that it is readable, or remove it")]
    InspectEntry {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The plugin in this directory failed to load.
    #[error("plugin directory {dir} is invalid")]
    LoadPlugin {
        dir: PathBuf,
        #[source]
        source: PluginError,
    },

    /// Two plugin directories declare the same plugin name.
    #[error(
        "plugin name `{name}` is declared by both {first} and {second}; rename one of them \
         or remove one directory"
    )]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// Failure to load a plugins directory.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The plugins directory itself could not be resolved or listed.
    #[error("failed to list plugin directory {dir}; check that it exists and is readable")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    /// One or more plugins are invalid; the message lists each on its own line.
    #[error("{}", ProblemList { dir, problems })]
    InvalidPlugins {
        dir: PathBuf,
        problems: Vec<RegistryProblem>,
    },
}

/// Display helper that writes a header, then one problem per line with its causes.
struct ProblemList<'a> {
    dir: &'a PathBuf,
    problems: &'a [RegistryProblem],
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to load plugin directory {}: {} problem(s), fix each one listed:",
            self.dir.display(),
            self.problems.len()
        )?;
        for problem in self.problems {
            write!(f, "\n  - {}", one_line_chain(problem))?;
        }
        Ok(())
    }
}

/// Joins an error and its sources with `: ` on a single line.
fn one_line_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_list_one_line_each() {
        let error = RegistryError::InvalidPlugins {
            dir: PathBuf::from("/plugins"),
            problems: vec![
                RegistryProblem::LoadPlugin {
                    dir: PathBuf::from("/plugins/a"),
                    source: PluginError::InvalidHandlerReference {
                        reference: "x".to_owned(),
                    },
                },
                RegistryProblem::DuplicateName {
                    name: "b".to_owned(),
                    first: PathBuf::from("/plugins/b1"),
                    second: PathBuf::from("/plugins/b2"),
                },
            ],
        };

        let text = error.to_string();
        let lines: Vec<&str> = text.lines().collect();

        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].contains("/plugins/a is invalid: invalid handler reference `x`"));
        assert!(lines[2].contains("plugin name `b`"));
    }
}
