//! The `plugin.toml` format and the validation of its fields.
//!
//! Parsing here touches no files: it checks the manifest text alone. The
//! checks that need the plugin directory (files exist, digests match, the
//! executable has an execute bit) live in [`crate::plugins::plugin`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::error::PluginError;
use super::MANIFEST_FILE_NAME;

pub use crate::schema::ParameterSchema;

/// Maximum size of a `plugin.toml` in bytes (256 KiB). A manifest contains names,
/// descriptions and digests, so this bounds the memory one manifest can take.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024;

/// Maximum number of entries in `[files]`. Every listed file is hashed before
/// each run, so this bounds the work of a digest check.
pub const MAX_FILES: usize = 1024;

/// Maximum length in characters of a plugin or handler description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Maximum length in bytes of a path in the manifest (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Maximum length in bytes of plugin, profile, handler and parameter names.
pub const MAX_NAME_BYTES: usize = 64;

/// Plugin names that steps already use for built-in handlers (`builtin.exec`).
const RESERVED_PLUGIN_NAMES: &[&str] = &["builtin"];

/// Prefix of every digest in `[files]`.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Number of lowercase hex digits in a SHA-256 digest.
const DIGEST_HEX_LEN: usize = 64;

/// A validated plugin manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    /// Plugin stdio ABI version the executable speaks.
    pub api_version: u32,
    pub description: String,
    /// Executable relative to the plugin directory; always a key of `files`.
    pub executable: PathBuf,
    /// Name of the sandbox profile the plugin requests.
    pub profile: String,
    /// Every shipped file, relative to the plugin directory, with its `sha256:<hex>` digest.
    pub files: BTreeMap<PathBuf, String>,
    /// Handlers in manifest order, with unique names.
    pub handlers: Vec<Handler>,
}

/// A handler: one operation of a plugin that a step can call as `plugin.handler`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Parameter schemas by parameter name.
    #[serde(default)]
    pub parameters: BTreeMap<String, ParameterSchema>,
}

/// The manifest as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    api_version: u32,
    description: String,
    executable: String,
    profile: String,
    files: BTreeMap<String, String>,
    handlers: Vec<Handler>,
}

/// Problem found in a field, with the fix to suggest.
struct FieldProblem {
    problem: String,
    fix: String,
}

impl FieldProblem {
    fn new(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Names a manifest path for field errors, so each check reads as one line.
struct FieldErrors<'a> {
    path: &'a Path,
}

impl FieldErrors<'_> {
    fn check(&self, field: &str, result: Result<(), FieldProblem>) -> Result<(), PluginError> {
        result.map_err(|problem| self.invalid(field, problem))
    }

    fn invalid(&self, field: &str, problem: FieldProblem) -> PluginError {
        PluginError::InvalidField {
            path: self.path.to_path_buf(),
            field: field.to_owned(),
            problem: problem.problem,
            fix: problem.fix,
        }
    }
}

impl Manifest {
    /// Parses and validates manifest text; `path` only names the manifest in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, PluginError> {
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(PluginError::ManifestTooLarge {
                path: path.to_path_buf(),
                max: MAX_MANIFEST_BYTES,
            });
        }

        let raw: RawManifest = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            let (line, column) = line_and_column(text, offset);
            PluginError::ParseManifest {
                path: path.to_path_buf(),
                line,
                column,
                message: err.message().trim().to_owned(),
            }
        })?;

        validate(raw, &FieldErrors { path })
    }

    /// Returns the handler with this name.
    pub fn handler(&self, name: &str) -> Option<&Handler> {
        self.handlers.iter().find(|handler| handler.name == name)
    }
}

/// Checks every field of a parsed manifest and builds the validated form.
fn validate(raw: RawManifest, errors: &FieldErrors<'_>) -> Result<Manifest, PluginError> {
    errors.check("name", check_plugin_name(&raw.name))?;

    let version = semver::Version::parse(&raw.version).map_err(|err| {
        errors.invalid(
            "version",
            FieldProblem::new(
                format!("`{}` is not a semantic version ({err})", raw.version),
                "write MAJOR.MINOR.PATCH, for example \"1.0.0\"",
            ),
        )
    })?;

    errors.check("api_version", check_api_version(raw.api_version))?;
    errors.check("description", check_description(&raw.description))?;
    errors.check(
        "profile",
        check_identifier(&raw.profile, true).map_err(|problem| FieldProblem {
            fix: "name a sandbox profile, for example \"strict\"".to_owned(),
            ..problem
        }),
    )?;

    let files = validate_files(raw.files, errors)?;

    let executable = validate_relative_path(&raw.executable)
        .map_err(|problem| errors.invalid("executable", problem))?;
    if !files.contains_key(&executable) {
        return Err(errors.invalid(
            "executable",
            FieldProblem::new(
                format!("`{}` is not listed in [files]", raw.executable),
                "add it to [files] with its sha256 digest",
            ),
        ));
    }

    validate_handlers(&raw.handlers, errors)?;

    Ok(Manifest {
        name: raw.name,
        version,
        api_version: raw.api_version,
        description: raw.description,
        executable,
        profile: raw.profile,
        files,
        handlers: raw.handlers,
    })
}

fn check_plugin_name(name: &str) -> Result<(), FieldProblem> {
    check_identifier(name, true)?;
    if RESERVED_PLUGIN_NAMES.contains(&name) {
        return Err(FieldProblem::new(
            format!("`{name}` is reserved for built-in handlers"),
            "choose another name",
        ));
    }
    Ok(())
}

fn check_api_version(api_version: u32) -> Result<(), FieldProblem> {
    let supported = vwmp_protocol::PLUGIN_API_VERSION;
    if api_version == supported {
        return Ok(());
    }
    Err(FieldProblem::new(
        format!("plugin stdio ABI version {api_version} is not supported"),
        format!("this supervisor speaks only version {supported}; port the plugin to it"),
    ))
}

fn check_description(description: &str) -> Result<(), FieldProblem> {
    let chars = description.chars().count();
    if chars <= MAX_DESCRIPTION_CHARS {
        return Ok(());
    }
    Err(FieldProblem::new(
        format!(
            "description has {chars} characters, more than the maximum of {MAX_DESCRIPTION_CHARS}"
        ),
        "shorten it",
    ))
}

/// Checks `^[a-z][a-z0-9_-]{0,63}$`, or `^[a-z][a-z0-9_]{0,63}$` without dashes.
fn check_identifier(value: &str, allow_dash: bool) -> Result<(), FieldProblem> {
    let mut chars = value.chars();
    let starts_with_letter = matches!(chars.next(), Some('a'..='z'));
    let rest_valid = chars.all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_dash && c == '-')
    });
    if starts_with_letter && rest_valid && value.len() <= MAX_NAME_BYTES {
        return Ok(());
    }

    let (pattern, allowed) = if allow_dash {
        (
            "^[a-z][a-z0-9_-]{0,63}$",
            "lowercase letters, digits, '_' or '-'",
        )
    } else {
        ("^[a-z][a-z0-9_]{0,63}$", "lowercase letters, digits or '_'")
    };
    Err(FieldProblem::new(
        format!("{value:?} does not match {pattern}"),
        format!("use 1 to {MAX_NAME_BYTES} {allowed}, starting with a letter"),
    ))
}

/// Checks that a manifest path is relative, stays inside the plugin
/// directory, and is written in plain `a/b` form so that two spellings of one
/// file cannot both appear.
fn validate_relative_path(value: &str) -> Result<PathBuf, FieldProblem> {
    let plain_form = "write a relative path inside the plugin directory, such as \"bin/tool\"";
    if value.is_empty() {
        return Err(FieldProblem::new("the path is empty", plain_form));
    }
    if value.contains('\0') {
        return Err(FieldProblem::new(
            format!("{value:?} contains a NUL byte"),
            plain_form,
        ));
    }
    if value.len() > MAX_PATH_BYTES {
        return Err(FieldProblem::new(
            format!("the path is longer than {MAX_PATH_BYTES} bytes"),
            "use a shorter path",
        ));
    }

    let path = Path::new(value);
    if path.is_absolute() {
        return Err(FieldProblem::new(
            format!("{value:?} is an absolute path"),
            plain_form,
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(FieldProblem::new(
            format!("{value:?} contains a `..` component"),
            plain_form,
        ));
    }

    let plain: PathBuf = path.components().collect();
    let all_normal = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !all_normal || plain.as_os_str() != path.as_os_str() {
        return Err(FieldProblem::new(
            format!("{value:?} is not in plain form (`.` components, `//` or a trailing `/`)"),
            format!("write it as {:?}", plain.display().to_string()),
        ));
    }
    Ok(plain)
}

/// Checks a `sha256:` followed by 64 lowercase hex digits.
fn check_digest(digest: &str) -> Result<(), FieldProblem> {
    let hex_valid = digest.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| {
        hex.len() == DIGEST_HEX_LEN && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if hex_valid {
        return Ok(());
    }
    Err(FieldProblem::new(
        format!("{digest:?} is not a digest of the form sha256:<64 lowercase hex digits>"),
        "pin the output of `sha256sum FILE` as \"sha256:<hex>\"",
    ))
}

fn validate_files(
    files: BTreeMap<String, String>,
    errors: &FieldErrors<'_>,
) -> Result<BTreeMap<PathBuf, String>, PluginError> {
    if files.len() > MAX_FILES {
        return Err(errors.invalid(
            "files",
            FieldProblem::new(
                format!(
                    "{} files are listed, more than the maximum of {MAX_FILES}",
                    files.len()
                ),
                "ship fewer files, for example as one archive the executable unpacks",
            ),
        ));
    }

    let mut validated = BTreeMap::new();
    for (key, digest) in files {
        let field = format!("files.{key:?}");
        let path =
            validate_relative_path(&key).map_err(|problem| errors.invalid(&field, problem))?;
        if path == Path::new(MANIFEST_FILE_NAME) {
            return Err(errors.invalid(
                &field,
                FieldProblem::new(
                    "the manifest cannot pin its own digest",
                    format!("remove {MANIFEST_FILE_NAME} from [files]"),
                ),
            ));
        }
        errors.check(&field, check_digest(&digest))?;
        validated.insert(path, digest);
    }
    Ok(validated)
}

fn validate_handlers(handlers: &[Handler], errors: &FieldErrors<'_>) -> Result<(), PluginError> {
    if handlers.is_empty() {
        return Err(errors.invalid(
            "handlers",
            FieldProblem::new(
                "the plugin declares no handler",
                "add at least one [[handlers]] table with a name",
            ),
        ));
    }

    let mut seen = BTreeSet::new();
    for (index, handler) in handlers.iter().enumerate() {
        let field = format!("handlers[{index}]");
        errors.check(
            &format!("{field}.name"),
            check_identifier(&handler.name, false),
        )?;
        if !seen.insert(handler.name.as_str()) {
            return Err(errors.invalid(
                &format!("{field}.name"),
                FieldProblem::new(
                    format!("handler `{}` is declared twice", handler.name),
                    "give each handler a unique name",
                ),
            ));
        }
        errors.check(
            &format!("{field}.description"),
            check_description(&handler.description),
        )?;

        for (parameter, schema) in &handler.parameters {
            let parameter_field = format!("{field}.parameters.{parameter}");
            errors.check(&parameter_field, check_identifier(parameter, false))?;
            check_parameter_schema(schema).map_err(|problem| {
                errors.invalid(
                    &parameter_field,
                    FieldProblem::new(problem, "fix the parameter schema"),
                )
            })?;
        }
    }
    Ok(())
}

/// Checks one parameter schema for internal consistency.
fn check_parameter_schema(schema: &ParameterSchema) -> Result<(), String> {
    schema.check().map_err(|err| err.to_string())
}

/// Converts a byte offset into a 1-based line and column (in characters).
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_support::{manifest_text, HELLO_DIGEST};

    fn parse(text: &str) -> Result<Manifest, PluginError> {
        Manifest::parse(text, Path::new("/plugins/hello/plugin.toml"))
    }

    /// Parses `text` and returns the error message, failing if it parses.
    fn error_of(text: &str) -> String {
        match parse(text) {
            Ok(manifest) => panic!("manifest parsed but should not: {manifest:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn with(field: &str, value: &str) -> String {
        manifest_text(&[(field, value)])
    }

    #[test]
    fn manifest_valid_parses() {
        let manifest = parse(&manifest_text(&[])).expect("valid manifest");

        assert_eq!(manifest.name, "hello");
        assert_eq!(manifest.version, semver::Version::new(1, 0, 0));
        assert_eq!(manifest.executable, PathBuf::from("hello.sh"));
        assert_eq!(manifest.files[Path::new("hello.sh")], HELLO_DIGEST);
        assert_eq!(manifest.handlers.len(), 1);
        assert!(manifest.handler("greet").is_some());
        assert!(manifest
            .handler("greet")
            .expect("greet")
            .parameters
            .contains_key("name"));
    }

    #[test]
    fn error_names_manifest_path() {
        let message = error_of(&with("name", "\"Hello\""));

        assert!(message.contains("/plugins/hello/plugin.toml"), "{message}");
    }

    #[test]
    fn name_invalid_rejected() {
        for name in [
            "\"Hello\"",
            "\"1abc\"",
            "\"\"",
            "\"a.b\"",
            &format!("\"a{}\"", "b".repeat(64)),
        ] {
            let message = error_of(&with("name", name));
            assert!(
                message.contains("invalid field `name`"),
                "{name}: {message}"
            );
        }
    }

    #[test]
    fn name_with_dash_accepted() {
        assert!(parse(&with("name", "\"my-plugin_2\"")).is_ok());
    }

    #[test]
    fn name_builtin_reserved() {
        let message = error_of(&with("name", "\"builtin\""));

        assert!(message.contains("reserved"), "{message}");
    }

    #[test]
    fn version_not_semver_rejected() {
        let message = error_of(&with("version", "\"1.0\""));

        assert!(message.contains("invalid field `version`"), "{message}");
    }

    #[test]
    fn api_version_unsupported_rejected() {
        let message = error_of(&with("api_version", "2"));

        assert!(message.contains("invalid field `api_version`"), "{message}");
        assert!(message.contains("speaks only version 1"), "{message}");
    }

    #[test]
    fn description_too_long_rejected() {
        let long = format!("\"{}\"", "x".repeat(MAX_DESCRIPTION_CHARS + 1));

        let message = error_of(&with("description", &long));

        assert!(message.contains("invalid field `description`"), "{message}");
    }

    #[test]
    fn profile_invalid_rejected() {
        let message = error_of(&with("profile", "\"Strict!\""));

        assert!(message.contains("invalid field `profile`"), "{message}");
    }

    #[test]
    fn executable_bad_paths_rejected() {
        for path in [
            "\"/bin/sh\"",
            "\"../hello.sh\"",
            "\"a/../hello.sh\"",
            "\"./hello.sh\"",
            "\"\"",
            "\"a\\u0000b\"",
        ] {
            let message = error_of(&with("executable", path));
            assert!(
                message.contains("invalid field `executable`"),
                "{path}: {message}"
            );
        }
    }

    #[test]
    fn executable_unlisted_rejected() {
        let message = error_of(&with("executable", "\"other.sh\""));

        assert!(message.contains("not listed in [files]"), "{message}");
    }

    #[test]
    fn file_key_escaping_rejected() {
        for key in ["\"../x\"", "\"/etc/passwd\"", "\"a//b\"", "\"a/\""] {
            let text = manifest_text(&[("files_extra", &format!("{key} = \"{HELLO_DIGEST}\""))]);
            let message = error_of(&text);
            assert!(
                message.contains("invalid field `files."),
                "{key}: {message}"
            );
        }
    }

    #[test]
    fn file_manifest_listed_rejected() {
        let text = manifest_text(&[(
            "files_extra",
            &format!("\"plugin.toml\" = \"{HELLO_DIGEST}\""),
        )]);

        let message = error_of(&text);

        assert!(message.contains("cannot pin its own digest"), "{message}");
    }

    #[test]
    fn digest_bad_format_rejected() {
        let upper = format!("sha256:{}", "A".repeat(64));
        for digest in ["md5:abc", "sha256:abc", upper.as_str(), "0123"] {
            let text = with("hello_digest", &format!("\"{digest}\""));
            let message = error_of(&text);
            assert!(
                message.contains("invalid field `files.\"hello.sh\"`"),
                "{digest}: {message}"
            );
        }
    }

    #[test]
    fn files_over_cap_rejected() {
        let extra: Vec<String> = (0..MAX_FILES)
            .map(|i| format!("\"f{i}\" = \"{HELLO_DIGEST}\""))
            .collect();
        let text = manifest_text(&[("files_extra", &extra.join("\n"))]);

        let message = error_of(&text);

        assert!(message.contains("invalid field `files`"), "{message}");
    }

    #[test]
    fn handlers_missing_rejected() {
        let message = error_of(&manifest_text(&[("handlers", "")]));

        assert!(message.contains("handlers"), "{message}");
    }

    #[test]
    fn handlers_empty_rejected() {
        let message = error_of(&manifest_text(&[("handlers", "handlers = []")]));

        assert!(message.contains("invalid field `handlers`"), "{message}");
    }

    #[test]
    fn handler_name_invalid_rejected() {
        let message = error_of(&manifest_text(&[(
            "handlers",
            "[[handlers]]\nname = \"say-hi\"",
        )]));

        assert!(
            message.contains("invalid field `handlers[0].name`"),
            "{message}"
        );
    }

    #[test]
    fn handler_name_duplicate_rejected() {
        let handlers = "[[handlers]]\nname = \"greet\"\n[[handlers]]\nname = \"greet\"";

        let message = error_of(&manifest_text(&[("handlers", handlers)]));

        assert!(
            message.contains("invalid field `handlers[1].name`"),
            "{message}"
        );
        assert!(message.contains("declared twice"), "{message}");
    }

    #[test]
    fn parameter_name_invalid_rejected() {
        let handlers =
            "[[handlers]]\nname = \"greet\"\n[handlers.parameters.Name]\ntype = \"string\"";

        let message = error_of(&manifest_text(&[("handlers", handlers)]));

        assert!(
            message.contains("invalid field `handlers[0].parameters.Name`"),
            "{message}"
        );
    }

    #[test]
    fn unknown_field_rejected() {
        let text = format!("color = \"red\"\n{}", manifest_text(&[]));

        let message = error_of(&text);

        assert!(message.contains("unknown field `color`"), "{message}");
        assert!(message.contains("line 1, column 1"), "{message}");
    }

    #[test]
    fn missing_field_rejected() {
        let message = error_of(&manifest_text(&[("profile", "")]));

        assert!(message.contains("missing field `profile`"), "{message}");
    }

    #[test]
    fn manifest_too_large_rejected() {
        let padding = "#".repeat(MAX_MANIFEST_BYTES as usize);
        let text = format!("{}\n{padding}", manifest_text(&[]));

        let message = error_of(&text);

        assert!(message.contains("larger than the limit"), "{message}");
    }

    #[test]
    fn line_and_column_counts_from_one() {
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }
}
