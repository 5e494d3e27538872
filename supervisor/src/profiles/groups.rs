//! Named syscall groups (`@basic-io`, `@file-system`, ...) read from
//! `syscall-groups.toml` in the profiles directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::error::ProfileError;
use super::file::read_capped;
use super::seccomp::is_always_denied;
use super::syscall_table;

/// Name of the groups file inside the profiles directory.
pub const GROUPS_FILE_NAME: &str = "syscall-groups.toml";

/// Deepest nesting of groups that include other groups. The shipped file nests
/// two levels; the cap turns a runaway chain into a clear error.
const MAX_GROUP_DEPTH: usize = 8;

/// Maximum length of a group name, in bytes, after the leading `@`.
const MAX_GROUP_NAME_BYTES: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    description: String,
    syscalls: Vec<String>,
}

/// One group with its members expanded to syscall names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallGroup {
    /// One-sentence summary of what the group grants.
    pub description: String,
    /// Every syscall the group allows, nested groups included.
    pub syscalls: BTreeSet<String>,
}

/// The syscall groups available to profiles, keyed by name without the `@`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallGroups {
    groups: BTreeMap<String, SyscallGroup>,
}

impl SyscallGroups {
    /// Loads `syscall-groups.toml` from a profiles directory.
    pub fn load(dir: &Path) -> Result<Self, ProfileError> {
        let path = dir.join(GROUPS_FILE_NAME);
        let text = read_capped(&path)?;
        Self::parse(&path, &text)
    }

    /// Parses and validates the text of a groups file; `path` is used in
    /// errors only.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ProfileError> {
        let entries: BTreeMap<String, GroupEntry> =
            toml::from_str(text).map_err(|error| ProfileError::ParseFile {
                path: path.to_path_buf(),
                message: error.to_string().trim_end().to_string(),
            })?;
        let invalid = |field: String, message: String| ProfileError::InvalidField {
            path: path.to_path_buf(),
            field,
            message,
        };

        for (name, entry) in &entries {
            if !is_valid_group_name(name) {
                return Err(invalid(
                    name.clone(),
                    "invalid group name; use lowercase letters, digits and '-', starting with a letter, at most 64 bytes".into(),
                ));
            }
            for member in &entry.syscalls {
                check_member(member, &entries)
                    .map_err(|message| invalid(format!("{name}.syscalls"), message))?;
            }
        }

        let mut groups = BTreeMap::new();
        for name in entries.keys() {
            let mut syscalls = BTreeSet::new();
            let mut stack = Vec::new();
            expand_into(name, &entries, &mut stack, &mut syscalls)
                .map_err(|message| invalid(format!("{name}.syscalls"), message))?;
            let description = entries
                .get(name)
                .map(|entry| entry.description.clone())
                .unwrap_or_default();
            groups.insert(
                name.clone(),
                SyscallGroup {
                    description,
                    syscalls,
                },
            );
        }
        Ok(Self { groups })
    }

    /// Returns the group a profile names as `@name`, or `None` if unknown.
    pub fn get(&self, reference: &str) -> Option<&SyscallGroup> {
        reference
            .strip_prefix('@')
            .and_then(|name| self.groups.get(name))
    }

    /// Returns every group name with its leading `@`, sorted.
    pub fn references(&self) -> Vec<String> {
        self.groups.keys().map(|name| format!("@{name}")).collect()
    }
}

fn is_valid_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    starts_with_letter
        && name.len() <= MAX_GROUP_NAME_BYTES
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_member(member: &str, entries: &BTreeMap<String, GroupEntry>) -> Result<(), String> {
    if let Some(group) = member.strip_prefix('@') {
        if entries.contains_key(group) {
            return Ok(());
        }
        let known: Vec<_> = entries.keys().map(|name| format!("@{name}")).collect();
        return Err(format!(
            "unknown group {member:?}; known groups: {}",
            known.join(", ")
        ));
    }
    if !syscall_table::is_known(member) {
        return Err(format!(
            "unknown syscall {member:?}; use a Linux syscall name as listed in syscalls(2)"
        ));
    }
    if is_always_denied(member) {
        return Err(format!(
            "{member:?} is denied by every filter and cannot be granted; remove it"
        ));
    }
    Ok(())
}

fn expand_into(
    name: &str,
    entries: &BTreeMap<String, GroupEntry>,
    stack: &mut Vec<String>,
    syscalls: &mut BTreeSet<String>,
) -> Result<(), String> {
    if stack.iter().any(|seen| seen == name) {
        stack.push(name.to_string());
        return Err(format!(
            "groups include each other in a cycle: @{}; remove one of these includes",
            stack.join(" -> @")
        ));
    }
    if stack.len() >= MAX_GROUP_DEPTH {
        return Err(format!(
            "groups nest more than {MAX_GROUP_DEPTH} levels deep; include the syscalls directly"
        ));
    }
    let Some(entry) = entries.get(name) else {
        return Err(format!("unknown group \"@{name}\""));
    };

    stack.push(name.to_string());
    for member in &entry.syscalls {
        match member.strip_prefix('@') {
            Some(nested) => expand_into(nested, entries, stack, syscalls)?,
            None => {
                syscalls.insert(member.clone());
            }
        }
    }
    stack.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SyscallGroups, ProfileError> {
        SyscallGroups::parse(Path::new("groups.toml"), text)
    }

    #[test]
    fn parse_expands_nested() {
        let groups = parse(
            "[a]\ndescription = \"a\"\nsyscalls = [\"read\"]\n\
             [b]\ndescription = \"b\"\nsyscalls = [\"@a\", \"write\"]\n",
        )
        .unwrap();
        let b = groups.get("@b").unwrap();
        assert!(b.syscalls.contains("read"));
        assert!(b.syscalls.contains("write"));
        assert!(groups.get("b").is_none());
    }

    #[test]
    fn parse_rejects_cycle() {
        let error = parse(
            "[a]\ndescription = \"a\"\nsyscalls = [\"@b\"]\n\
             [b]\ndescription = \"b\"\nsyscalls = [\"@a\"]\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("@a -> @b -> @a"), "{error}");
    }

    #[test]
    fn parse_rejects_unknown_syscall() {
        let error = parse("[a]\ndescription = \"a\"\nsyscalls = [\"raed\"]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "groups.toml: a.syscalls: unknown syscall \"raed\"; use a Linux syscall name as listed in syscalls(2)"
        );
    }

    #[test]
    fn parse_rejects_always_denied() {
        let error = parse("[a]\ndescription = \"a\"\nsyscalls = [\"ptrace\"]\n").unwrap_err();
        assert!(error.to_string().contains("ptrace"), "{error}");
    }

    #[test]
    fn parse_rejects_bad_name() {
        assert!(parse("[A]\ndescription = \"a\"\nsyscalls = []\n").is_err());
    }

    #[test]
    fn shipped_groups_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox-profiles");
        let groups = SyscallGroups::load(&dir).unwrap();
        let ordinary = groups.get("@ordinary").unwrap();
        assert!(ordinary.syscalls.contains("execve"));
        assert!(ordinary.syscalls.contains("openat"));
        assert!(!ordinary.syscalls.contains("socket"));
    }
}
