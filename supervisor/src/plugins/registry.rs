//! The plugins found in one directory, by name, and handler resolution.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{PluginError, RegistryError, RegistryProblem};
use super::manifest::Handler;
use super::plugin::Plugin;
use super::MANIFEST_FILE_NAME;

/// Every valid plugin of a plugins directory, by plugin name.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Canonical path of the plugins directory.
    dir: PathBuf,
    plugins: BTreeMap<String, Plugin>,
}

impl Registry {
    /// Loads every subdirectory of `dir` that contains a `plugin.toml`.
    ///
    /// Hidden entries and subdirectories without a manifest are skipped.
    /// Any invalid plugin, or two plugins with one name, fails the whole
    /// load; the error lists every problem found, one per line.
    pub fn load_dir(dir: &Path) -> Result<Registry, RegistryError> {
        let read_error = |source| RegistryError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };
        let dir = dir.canonicalize().map_err(read_error)?;

        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(read_error)? {
            entries.push(entry.map_err(read_error)?.path());
        }
        entries.sort();

        let mut plugins: BTreeMap<String, Plugin> = BTreeMap::new();
        let mut problems = Vec::new();
        for path in entries {
            match plugin_candidate(&path) {
                Ok(false) => continue,
                Ok(true) => {}
                Err((path, source)) => {
                    problems.push(RegistryProblem::InspectEntry { path, source });
                    continue;
                }
            }

            let plugin = match Plugin::load(&path) {
                Ok(plugin) => plugin,
                Err(source) => {
                    problems.push(RegistryProblem::LoadPlugin { dir: path, source });
                    continue;
                }
            };
            match plugins.entry(plugin.manifest.name.clone()) {
                Entry::Vacant(slot) => {
                    slot.insert(plugin);
                }
                Entry::Occupied(existing) => problems.push(RegistryProblem::DuplicateName {
                    name: plugin.manifest.name.clone(),
                    first: existing.get().dir.clone(),
                    second: plugin.dir,
                }),
            }
        }

        if !problems.is_empty() {
            return Err(RegistryError::InvalidPlugins { dir, problems });
        }
        Ok(Registry { dir, plugins })
    }

    /// Returns the canonical path of the plugins directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the plugin with this name.
    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    /// Iterates over the plugins in name order.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values()
    }

    /// Resolves a `plugin.handler` reference to its plugin and handler.
    pub fn resolve_handler(&self, handler: &str) -> Result<(&Plugin, &Handler), PluginError> {
        let invalid = || PluginError::InvalidHandlerReference {
            reference: handler.to_owned(),
        };
        let (plugin_name, handler_name) = handler.split_once('.').ok_or_else(invalid)?;
        if plugin_name.is_empty() || handler_name.is_empty() || handler_name.contains('.') {
            return Err(invalid());
        }

        let plugin = self
            .get(plugin_name)
            .ok_or_else(|| PluginError::PluginNotFound {
                plugin: plugin_name.to_owned(),
                dir: self.dir.clone(),
            })?;
        let found = plugin
            .handler(handler_name)
            .ok_or_else(|| PluginError::HandlerNotFound {
                plugin: plugin_name.to_owned(),
                handler: handler_name.to_owned(),
                available: handler_names(plugin),
            })?;
        Ok((plugin, found))
    }
}

/// Returns whether a directory entry is a plugin directory to load: a
/// non-hidden directory (or a symlink to one) that contains a manifest.
/// An error names the path that could not be inspected.
fn plugin_candidate(path: &Path) -> Result<bool, (PathBuf, io::Error)> {
    let hidden = path
        .file_name()
        .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."));
    if hidden {
        return Ok(false);
    }

    let metadata = fs::metadata(path).map_err(|err| (path.to_path_buf(), err))?;
    if !metadata.is_dir() {
        return Ok(false);
    }
    let manifest = path.join(MANIFEST_FILE_NAME);
    match fs::symlink_metadata(&manifest) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err((manifest, err)),
    }
}

/// Lists a plugin's handler names as `a, b, c` in manifest order.
fn handler_names(plugin: &Plugin) -> String {
    let names: Vec<&str> = plugin
        .manifest
        .handlers
        .iter()
        .map(|handler| handler.name.as_str())
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_support::{manifest_text, write_plugin};

    fn registry_error(dir: &Path) -> String {
        match Registry::load_dir(dir) {
            Ok(registry) => panic!("registry loaded but should not: {registry:?}"),
            Err(err) => err.to_string(),
        }
    }

    /// Two valid plugins, `hello` and `other`; `other` has handlers `a` and `b`.
    fn two_plugins() -> (tempfile::TempDir, Registry) {
        let root = tempfile::tempdir().expect("tempdir");
        write_plugin(root.path(), "hello", &manifest_text(&[]));
        let handlers = "[[handlers]]\nname = \"a\"\n[[handlers]]\nname = \"b\"\n";
        write_plugin(
            root.path(),
            "other",
            &manifest_text(&[("name", "\"other\""), ("handlers", handlers)]),
        );
        let registry = Registry::load_dir(root.path()).expect("valid registry");
        (root, registry)
    }

    #[test]
    fn registry_loads_plugins() {
        let (_root, registry) = two_plugins();

        let names: Vec<&str> = registry
            .plugins()
            .map(|p| p.manifest.name.as_str())
            .collect();

        assert_eq!(names, ["hello", "other"]);
        assert!(registry.get("hello").is_some());
        assert!(registry.get("absent").is_none());
    }

    #[test]
    fn registry_skips_non_plugins() {
        let root = tempfile::tempdir().expect("tempdir");
        write_plugin(root.path(), "hello", &manifest_text(&[]));
        fs::create_dir(root.path().join("docs")).expect("mkdir");
        fs::write(root.path().join("README.md"), "notes").expect("write");
        write_plugin(root.path(), ".hidden", "not toml at all");

        let registry = Registry::load_dir(root.path()).expect("valid registry");

        assert_eq!(registry.plugins().count(), 1);
    }

    #[test]
    fn registry_missing_dir_rejected() {
        let root = tempfile::tempdir().expect("tempdir");

        let result = Registry::load_dir(&root.path().join("absent"));

        assert!(matches!(result, Err(RegistryError::ReadDir { .. })));
    }

    #[test]
    fn registry_collects_all_errors() {
        let root = tempfile::tempdir().expect("tempdir");
        write_plugin(root.path(), "good", &manifest_text(&[]));
        write_plugin(root.path(), "bad1", &manifest_text(&[("name", "\"Bad\"")]));
        write_plugin(root.path(), "bad2", &manifest_text(&[("api_version", "9")]));

        let message = registry_error(root.path());
        let lines: Vec<&str> = message.lines().collect();

        assert_eq!(lines.len(), 3, "{message}");
        assert!(
            lines[1].contains("bad1") && lines[1].contains("`name`"),
            "{message}"
        );
        assert!(
            lines[2].contains("bad2") && lines[2].contains("`api_version`"),
            "{message}"
        );
    }

    #[test]
    fn registry_duplicate_name_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        write_plugin(root.path(), "first", &manifest_text(&[]));
        write_plugin(root.path(), "second", &manifest_text(&[]));

        let message = registry_error(root.path());

        assert!(
            message.contains("plugin name `hello` is declared by both"),
            "{message}"
        );
        assert!(
            message.contains("first") && message.contains("second"),
            "{message}"
        );
    }

    #[test]
    fn resolve_handler_finds_handler() {
        let (_root, registry) = two_plugins();

        let (plugin, handler) = registry.resolve_handler("other.b").expect("resolves");

        assert_eq!(plugin.manifest.name, "other");
        assert_eq!(handler.name, "b");
    }

    #[test]
    fn resolve_handler_bad_form() {
        let (_root, registry) = two_plugins();

        for reference in ["hello", "hello.", ".greet", "hello.greet.x", ""] {
            let result = registry.resolve_handler(reference);
            assert!(
                matches!(result, Err(PluginError::InvalidHandlerReference { .. })),
                "{reference}"
            );
        }
    }

    #[test]
    fn resolve_handler_plugin_missing() {
        let (root, registry) = two_plugins();

        let message = match registry.resolve_handler("absent.greet") {
            Ok(_) => panic!("resolved an absent plugin"),
            Err(err) => err.to_string(),
        };

        assert!(message.contains("plugin `absent` not found"), "{message}");
        let canonical = root.path().canonicalize().expect("canonical");
        assert!(
            message.contains(&canonical.display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn resolve_handler_handler_missing() {
        let (_root, registry) = two_plugins();

        let message = match registry.resolve_handler("other.c") {
            Ok(_) => panic!("resolved an absent handler"),
            Err(err) => err.to_string(),
        };

        assert!(
            message.contains("handler `c` not found in plugin `other`"),
            "{message}"
        );
        assert!(message.contains("its handlers are: a, b"), "{message}");
    }

    fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins")
    }

    fn example_registry() -> Registry {
        match Registry::load_dir(&examples_dir()) {
            Ok(registry) => registry,
            Err(err) => panic!("{err}"),
        }
    }

    /// Runs a handler of an example plugin the way the worker does (handler
    /// name as the only argument, step input on stdin) and parses its stdout.
    fn run_example(
        reference: &str,
        parameters: serde_json::Value,
        workspace: &Path,
    ) -> serde_json::Value {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let registry = example_registry();
        let (plugin, handler) = registry.resolve_handler(reference).expect("resolves");
        let input = serde_json::json!({
            "api_version": 1,
            "execution_id": "e1",
            "step_id": "s1",
            "handler": handler.name,
            "parameters": parameters,
            "workspace": workspace,
        });
        let mut child = Command::new(plugin.executable_path())
            .arg(&handler.name)
            .current_dir(workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn plugin");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write stdin");
        drop(stdin);
        let output = child.wait_with_output().expect("wait");

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{reference} failed: {stderr}");
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON object")
    }

    #[test]
    fn example_plugins_load() {
        let registry = example_registry();

        assert!(registry.resolve_handler("hello.greet").is_ok());
        assert!(registry.resolve_handler("textutil.write_report").is_ok());
    }

    #[test]
    fn example_digest_tables_match() {
        let registry = example_registry();

        for name in ["hello", "textutil"] {
            let plugin = registry.get(name).expect("example plugin");
            let table = crate::plugins::digest_table(&plugin.dir).expect("table");
            let parsed: toml::Table = toml::from_str(&table).expect("valid toml");
            let files = parsed["files"].as_table().expect("files table");
            let listed: Vec<String> = plugin
                .manifest
                .files
                .keys()
                .map(|path| path.display().to_string())
                .collect();
            let shipped: Vec<String> = files.keys().cloned().collect();

            assert_eq!(shipped, listed, "{name}");
            for (path, digest) in &plugin.manifest.files {
                let key = path.display().to_string();
                assert_eq!(files[&key].as_str(), Some(digest.as_str()), "{name}: {key}");
            }
        }
    }

    #[test]
    fn example_checksum_loads_once_built() {
        let built = examples_dir().join("checksum/plugin.toml").exists();

        let found = example_registry().resolve_handler("checksum.fnv1a").is_ok();

        assert_eq!(found, built);
    }

    #[test]
    fn example_hello_greets() {
        let workspace = tempfile::tempdir().expect("tempdir");

        let outputs = run_example(
            "hello.greet",
            serde_json::json!({"name": "Ada"}),
            workspace.path(),
        );

        assert_eq!(outputs, serde_json::json!({"message": "Hello, Ada!"}));
    }

    #[test]
    fn example_textutil_writes_report() {
        let workspace = tempfile::tempdir().expect("tempdir");

        let outputs = run_example(
            "textutil.write_report",
            serde_json::json!({"text": "héllo"}),
            workspace.path(),
        );

        assert_eq!(
            outputs,
            serde_json::json!({"path": "report.txt", "bytes": 6})
        );
        let report = fs::read_to_string(workspace.path().join("report.txt")).expect("report");
        assert_eq!(report, "héllo");
    }
}
