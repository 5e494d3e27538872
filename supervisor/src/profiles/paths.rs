//! Path and value templates with the `${workspace}` and `${plugin_dir}`
//! variables: validation when a profile is loaded, substitution when a step's
//! policy is built.

use std::path::{Component, Path, PathBuf};

/// Variable replaced by the step's workspace directory.
pub(crate) const WORKSPACE_VARIABLE: &str = "${workspace}";
/// Variable replaced by the plugin's installation directory.
pub(crate) const PLUGIN_DIR_VARIABLE: &str = "${plugin_dir}";

const VARIABLES: [&str; 2] = [WORKSPACE_VARIABLE, PLUGIN_DIR_VARIABLE];

/// Longest path accepted in a profile, in bytes: Linux's PATH_MAX.
const MAX_PATH_BYTES: usize = 4096;

/// Validates a path template and returns it normalized: no trailing slash and
/// no repeated slashes. The error message names the problem and the fix.
pub(crate) fn normalize_path_template(template: &str) -> Result<String, String> {
    if template.is_empty() {
        return Err(
            "empty path; use an absolute path or one starting with ${workspace} or ${plugin_dir}"
                .into(),
        );
    }
    if template.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path is {} bytes, longer than {MAX_PATH_BYTES}; shorten it",
            template.len()
        ));
    }
    if template.contains('\0') {
        return Err(format!("path {template:?} contains a NUL byte; remove it"));
    }

    let (prefix, rest) = match VARIABLES
        .iter()
        .find(|variable| template.starts_with(**variable))
    {
        Some(variable) => (*variable, &template[variable.len()..]),
        None if template.starts_with('/') => ("", template),
        None => {
            return Err(format!(
                "path {template:?} is relative; use an absolute path or one starting with ${{workspace}} or ${{plugin_dir}}"
            ))
        }
    };
    if !prefix.is_empty() && !rest.is_empty() && !rest.starts_with('/') {
        return Err(format!(
            "path {template:?} continues {prefix} without a slash; write {prefix}/NAME"
        ));
    }
    if rest.contains("${") {
        check_variables(rest).map_err(|message| format!("path {template:?}: {message}"))?;
        return Err(format!(
            "path {template:?} uses a variable after its start; a variable may only begin a path"
        ));
    }

    let mut normalized = prefix.to_string();
    for part in rest.split('/').filter(|part| !part.is_empty()) {
        if part == ".." || part == "." {
            return Err(format!(
                "path {template:?} contains a {part:?} component; write the path without it"
            ));
        }
        normalized.push('/');
        normalized.push_str(part);
    }
    if normalized.is_empty() {
        normalized.push('/');
    }
    Ok(normalized)
}

/// Checks that a value only uses known variables. The error message names the
/// unknown variable.
pub(crate) fn check_variables(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let candidate = &rest[start..];
        match VARIABLES
            .iter()
            .find(|variable| candidate.starts_with(**variable))
        {
            Some(variable) => rest = &candidate[variable.len()..],
            None => {
                let end = candidate.find('}').map_or(candidate.len(), |end| end + 1);
                return Err(format!(
                    "unknown variable {:?}; the known variables are ${{workspace}} and ${{plugin_dir}}",
                    &candidate[..end]
                ));
            }
        }
    }
    Ok(())
}

/// Directories substituted into templates for one step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepDirectories<'a> {
    pub workspace: &'a str,
    pub plugin_dir: &'a str,
}

impl StepDirectories<'_> {
    /// Replaces every variable in `template` with its directory.
    pub(crate) fn substitute(&self, template: &str) -> String {
        template
            .replace(WORKSPACE_VARIABLE, self.workspace)
            .replace(PLUGIN_DIR_VARIABLE, self.plugin_dir)
    }

    /// Substitutes a validated path template into a path.
    pub(crate) fn substitute_path(&self, template: &str) -> PathBuf {
        PathBuf::from(self.substitute(template))
    }
}

/// Checks a directory given for a variable: absolute, UTF-8 and without `..`.
/// Returns the reason when it is unusable.
pub(crate) fn check_step_directory(path: &Path) -> Result<&str, String> {
    let text = path
        .to_str()
        .ok_or_else(|| "the path is not valid UTF-8; use a UTF-8 path".to_string())?;
    if !path.is_absolute() {
        return Err("the path is relative; pass an absolute path".into());
    }
    if path
        .components()
        .any(|component| matches!(component, Component::ParentDir))
    {
        return Err("the path contains a \"..\" component; pass a normalized path".into());
    }
    if text.contains("${") {
        return Err("the path contains \"${\"; rename the directory".into());
    }
    let trimmed = text.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("the path is the root directory; use a dedicated directory".into());
    }
    Ok(trimmed)
}

/// Returns whether template path `inner` equals `outer` or lies beneath it.
/// Both must be normalized. Every path lies beneath `/`. Otherwise a path
/// under one variable is never beneath a path under another variable or an
/// absolute path, because the directories are only known when a step runs.
pub(crate) fn template_within(inner: &str, outer: &str) -> bool {
    outer == "/" || Path::new(inner).starts_with(Path::new(outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_accepts_forms() {
        assert_eq!(normalize_path_template("/usr/").unwrap(), "/usr");
        assert_eq!(normalize_path_template("//usr//lib").unwrap(), "/usr/lib");
        assert_eq!(normalize_path_template("/").unwrap(), "/");
        assert_eq!(
            normalize_path_template("${workspace}").unwrap(),
            "${workspace}"
        );
        assert_eq!(
            normalize_path_template("${plugin_dir}/bin/").unwrap(),
            "${plugin_dir}/bin"
        );
    }

    #[test]
    fn normalize_rejects_relative() {
        let error = normalize_path_template("usr/lib").unwrap_err();
        assert!(error.contains("relative"), "{error}");
    }

    #[test]
    fn normalize_rejects_parent_component() {
        let error = normalize_path_template("${workspace}/../etc").unwrap_err();
        assert!(error.contains("\"..\""), "{error}");
    }

    #[test]
    fn normalize_rejects_unknown_variable() {
        let error = normalize_path_template("${home}/x").unwrap_err();
        assert!(error.contains("relative"), "{error}");
        let error = normalize_path_template("/x/${home}").unwrap_err();
        assert!(error.contains("${home}"), "{error}");
        let error = normalize_path_template("/x/${workspace}").unwrap_err();
        assert!(error.contains("only begin"), "{error}");
    }

    #[test]
    fn normalize_rejects_glued_variable() {
        assert!(normalize_path_template("${workspace}x").is_err());
    }

    #[test]
    fn variables_checked_in_values() {
        assert!(check_variables("${workspace}/tmp:${plugin_dir}").is_ok());
        assert!(check_variables("$HOME").is_ok());
        assert!(check_variables("${HOME}").is_err());
    }

    #[test]
    fn substitute_replaces_all() {
        let directories = StepDirectories {
            workspace: "/w",
            plugin_dir: "/p",
        };
        assert_eq!(
            directories.substitute("${workspace}:${plugin_dir}/bin"),
            "/w:/p/bin"
        );
    }

    #[test]
    fn step_directory_checks() {
        assert_eq!(check_step_directory(Path::new("/w/")).unwrap(), "/w");
        assert!(check_step_directory(Path::new("w")).is_err());
        assert!(check_step_directory(Path::new("/w/../x")).is_err());
        assert!(check_step_directory(Path::new("/")).is_err());
    }

    #[test]
    fn within_by_components() {
        assert!(template_within("/usr/lib", "/usr"));
        assert!(template_within("/usr", "/usr"));
        assert!(!template_within("/usrx", "/usr"));
        assert!(template_within("${workspace}/a", "${workspace}"));
        assert!(template_within("${workspace}", "/"));
        assert!(!template_within("${workspace}", "/var"));
        assert!(!template_within("${plugin_dir}", "${workspace}"));
        assert!(template_within("/etc", "/"));
    }
}
