//! Sandbox profiles: the TOML files in the profiles directory, their
//! `extends` resolution and validation, the seccomp filters compiled from
//! them, and the [`SandboxPolicy`] built for each step.
//!
//! Layout:
//! - `file`: the on-disk format, every field optional.
//! - `units`: sizes ("512MiB") and durations ("5m").
//! - `paths`: `${workspace}` and `${plugin_dir}` templates.
//! - `layer`: one file checked value by value, and the merge rules.
//! - `resolve`: the `extends` chain, defaults and cross-field checks.
//! - `resolved`: [`ResolvedProfile`], its canonical TOML and hash.
//! - `groups`: the syscall groups file.
//! - `syscall_table`: syscall names and numbers for x86_64 and aarch64.
//! - `seccomp`: the BPF compiler.
//! - `policy`: the per-step [`SandboxPolicy`].
//! - `compare`: [`ensure_not_looser`].
//!
//! docs/profiles.md describes the file format for administrators.

mod compare;
mod error;
mod file;
mod groups;
mod layer;
mod paths;
mod policy;
mod resolve;
mod resolved;
mod seccomp;
mod syscall_table;
mod units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vwmp_protocol::{RunAs, SandboxPolicy};

pub use compare::ensure_not_looser;
pub use error::ProfileError;
pub use file::{NamespaceSetting, NetworkMode, SyscallAction};
pub use groups::{SyscallGroup, SyscallGroups, GROUPS_FILE_NAME};
pub use layer::is_valid_profile_name;
pub use resolved::{
    FilesystemRules, LandlockSettings, NamespaceSettings, NetworkRules, ProfileLimits,
    ResolvedProfile, SyscallRules,
};

use layer::{layer_from_file, profile_name_hint, Layer};
use resolve::{resolve, ParentContext};

/// Extension of profile files.
const PROFILE_EXTENSION: &str = "toml";

/// Most profile files in one directory; far above any real set, it bounds the
/// work a reload does.
const MAX_PROFILES: usize = 1000;

/// Every profile of one directory, resolved and with its seccomp filter
/// compiled once, so building a step's policy is only substitution.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    dir: PathBuf,
    groups: SyscallGroups,
    profiles: BTreeMap<String, ResolvedProfile>,
}

impl ProfileSet {
    /// Loads and resolves every `*.toml` file of `dir` except the syscall
    /// groups file. Fails on the first invalid profile, in name order.
    pub fn load(dir: &Path) -> Result<ProfileSet, ProfileError> {
        let groups = SyscallGroups::load(dir)?;
        let files = list_profile_files(dir)?;

        let mut layers = BTreeMap::new();
        for (name, path) in &files {
            let file = file::read_profile_file(path)?;
            layers.insert(name.clone(), layer_from_file(path, &file, &groups)?);
        }

        let available = || join_names(layers.keys());
        let parents = ParentContext {
            dir,
            available: &available,
        };
        let mut profiles = BTreeMap::new();
        for (name, layer) in &layers {
            let mut lookup = |parent: &str| Ok(layers.get(parent).cloned());
            let profile = resolve(name, layer.clone(), &mut lookup, &parents, &groups)?;
            profiles.insert(name.clone(), profile);
        }

        Ok(ProfileSet {
            dir: dir.to_path_buf(),
            groups,
            profiles,
        })
    }

    /// Returns the directory the profiles were loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the syscall groups the profiles were resolved with.
    pub fn groups(&self) -> &SyscallGroups {
        &self.groups
    }

    /// Returns the profile names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    /// Returns the resolved profile `name`; the error lists the available names.
    pub fn get(&self, name: &str) -> Result<&ResolvedProfile, ProfileError> {
        self.profiles
            .get(name)
            .ok_or_else(|| ProfileError::ProfileNotFound {
                name: name.to_string(),
                available: join_names(self.profiles.keys()),
            })
    }

    /// Builds the policy of one step: substitutes `${workspace}` and
    /// `${plugin_dir}`, and copies the precompiled seccomp program and the
    /// profile's hash.
    pub fn policy(
        &self,
        name: &str,
        workspace: &Path,
        plugin_dir: &Path,
        run_as: RunAs,
    ) -> Result<SandboxPolicy, ProfileError> {
        let profile = self.get(name)?;
        policy::build_policy(profile, workspace, plugin_dir, run_as)
    }
}

/// Validates profile files one by one for `vwmp profile check`. A file's
/// `extends` and the syscall groups are read from the file's own directory.
/// A file named `syscall-groups.toml` is validated as a groups file.
pub fn check_files(paths: &[PathBuf]) -> Vec<(PathBuf, Result<(), ProfileError>)> {
    paths
        .iter()
        .map(|path| {
            let is_groups_file = path
                .file_name()
                .is_some_and(|name| name == GROUPS_FILE_NAME);
            let result = if is_groups_file {
                file::read_capped(path)
                    .and_then(|text| SyscallGroups::parse(path, &text).map(|_| ()))
            } else {
                check_file(path).map(|_| ())
            };
            (path.clone(), result)
        })
        .collect()
}

/// Resolves one profile file, reading its parents from the same directory.
pub fn resolve_file(path: &Path) -> Result<ResolvedProfile, ProfileError> {
    check_file(path)
}

fn check_file(path: &Path) -> Result<ResolvedProfile, ProfileError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = profile_name_of(path)?;
    let groups = SyscallGroups::load(&dir)?;
    let file = file::read_profile_file(path)?;
    let layer = layer_from_file(path, &file, &groups)?;

    let mut lookup = |parent: &str| -> Result<Option<Layer>, ProfileError> {
        let parent_path = dir.join(format!("{parent}.{PROFILE_EXTENSION}"));
        if !parent_path.is_file() {
            return Ok(None);
        }
        let parent_file = file::read_profile_file(&parent_path)?;
        layer_from_file(&parent_path, &parent_file, &groups).map(Some)
    };
    let available = || {
        list_profile_files(&dir)
            .map(|files| join_names(files.keys()))
            .unwrap_or_else(|error| format!("(unknown: {error})"))
    };
    let parents = ParentContext {
        dir: &dir,
        available: &available,
    };
    resolve(&name, layer, &mut lookup, &parents, &groups)
}

/// Returns the profile name of a file: its stem, which must be a valid name.
fn profile_name_of(path: &Path) -> Result<String, ProfileError> {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_valid_profile_name(&stem) {
        Ok(stem)
    } else {
        Err(ProfileError::InvalidField {
            path: path.to_path_buf(),
            field: "file name".into(),
            message: format!("{}; rename the file", profile_name_hint(&stem)),
        })
    }
}

/// Lists the profile files of `dir` by name, skipping the groups file.
fn list_profile_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>, ProfileError> {
    let read_dir_error = |source| ProfileError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let path = entry.map_err(read_dir_error)?.path();
        let is_profile = path.extension().is_some_and(|ext| ext == PROFILE_EXTENSION)
            && path
                .file_name()
                .is_some_and(|name| name != GROUPS_FILE_NAME)
            && path.is_file();
        if !is_profile {
            continue;
        }
        if files.len() >= MAX_PROFILES {
            return Err(ProfileError::TooManyProfiles {
                dir: dir.to_path_buf(),
                limit: MAX_PROFILES,
            });
        }
        files.insert(profile_name_of(&path)?, path);
    }
    Ok(files)
}

fn join_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
