//! One plugin directory: loading its manifest and checking its files.
//!
//! Every file listed in `[files]` must be a regular file reached without
//! any symlink, neither in its last component nor in a parent directory
//! below the plugin directory. Rejecting symlinks outright, instead of
//! resolving them and comparing prefixes, means no listed file can point
//! outside the plugin directory.

use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::digest::{open_no_follow, sha256_limited};
use super::error::PluginError;
use super::manifest::{Handler, Manifest, MAX_MANIFEST_BYTES};
use super::MANIFEST_FILE_NAME;

/// A plugin whose manifest is valid and whose files matched their digests when loaded.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub manifest: Manifest,
    /// Canonical path of the plugin directory.
    pub dir: PathBuf,
}

impl Plugin {
    /// Loads a plugin directory: parses and validates `plugin.toml`, then
    /// checks every listed file and its digest.
    pub fn load(dir: &Path) -> Result<Plugin, PluginError> {
        let dir = dir.canonicalize().map_err(|source| PluginError::OpenDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let manifest_path = dir.join(MANIFEST_FILE_NAME);
        let text = read_manifest(&manifest_path)?;
        let manifest = Manifest::parse(&text, &manifest_path)?;

        let plugin = Plugin { manifest, dir };
        plugin.verify_digests()?;
        Ok(plugin)
    }

    /// Returns the absolute path of the executable.
    pub fn executable_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.executable)
    }

    /// Returns the pinned digest of the executable as `sha256:<hex>`.
    ///
    /// It is empty only if `manifest` was edited after loading so that the
    /// executable is no longer listed; a digest check then fails.
    pub fn executable_digest(&self) -> &str {
        self.manifest
            .files
            .get(&self.manifest.executable)
            .map_or("", String::as_str)
    }

    /// Checks every listed file against its pinned digest, and that the
    /// executable still has an execute bit.
    ///
    /// The launcher calls this before every run, so a file changed after
    /// registration fails the step.
    pub fn verify_digests(&self) -> Result<(), PluginError> {
        for (relative, expected) in &self.manifest.files {
            let (actual, metadata) = self.hash_listed_file(relative)?;
            if &actual != expected {
                return Err(PluginError::DigestMismatch {
                    plugin: self.manifest.name.clone(),
                    file: self.dir.join(relative),
                    expected: expected.clone(),
                    actual,
                });
            }
            if *relative == self.manifest.executable && metadata.permissions().mode() & 0o111 == 0 {
                return Err(self.invalid_file(
                    "executable",
                    relative,
                    "has no execute permission",
                    format!("run `chmod +x {}`", relative.display()),
                ));
            }
        }
        Ok(())
    }

    /// Returns the handler with this name.
    pub fn handler(&self, name: &str) -> Option<&Handler> {
        self.manifest.handler(name)
    }

    /// Hashes one listed file after checking that no symlink leads to it
    /// and that it is a regular file; returns the digest and its metadata.
    fn hash_listed_file(&self, relative: &Path) -> Result<(String, Metadata), PluginError> {
        let field = format!("files.{:?}", relative.display().to_string());
        self.check_parents(&field, relative)?;

        // NOTE: the parents are checked by path before the open, so a parent
        // swapped for a symlink in between is not caught. The plugin directory
        // is writable only by administrators, and the worker re-checks the
        // executable's digest on the file it runs.
        let path = self.dir.join(relative);
        let file = match open_no_follow(&path) {
            Ok(file) => file,
            Err(err) => return Err(self.open_error(&field, relative, err)),
        };
        let metadata = file.metadata().map_err(|source| PluginError::HashFile {
            file: path.clone(),
            source,
        })?;
        if !metadata.is_file() {
            return Err(self.invalid_file(
                &field,
                relative,
                "is not a regular file",
                "list only regular files",
            ));
        }

        let digest = sha256_limited(&file, &path)?;
        Ok((digest, metadata))
    }

    /// Rejects a listed path whose parent directories include a symlink or a
    /// non-directory.
    fn check_parents(&self, field: &str, relative: &Path) -> Result<(), PluginError> {
        let mut current = self.dir.clone();
        let Some(parent) = relative.parent() else {
            return Ok(());
        };
        for component in parent.components() {
            let Component::Normal(name) = component else {
                continue;
            };
            current.push(name);
            let metadata = match fs::symlink_metadata(&current) {
                Ok(metadata) => metadata,
                Err(err) => return Err(self.open_error(field, relative, err)),
            };
            if metadata.file_type().is_symlink() {
                return Err(self.invalid_file(
                    field,
                    relative,
                    &format!("goes through the symlink {}", current.display()),
                    "replace the symlink with a real directory, because listed files may not be \
                     reached through symlinks",
                ));
            }
            if !metadata.is_dir() {
                return Err(self.invalid_file(
                    field,
                    relative,
                    &format!("has a parent {} that is not a directory", current.display()),
                    "fix the path",
                ));
            }
        }
        Ok(())
    }

    /// Turns a failed open of a listed file into a field error where the cause is clear.
    fn open_error(&self, field: &str, relative: &Path, err: io::Error) -> PluginError {
        if err.kind() == io::ErrorKind::NotFound {
            return self.invalid_file(
                field,
                relative,
                "does not exist",
                "add the file, or remove its entry from [files]",
            );
        }
        if err.raw_os_error() == Some(libc::ELOOP) {
            return self.invalid_file(
                field,
                relative,
                "is a symlink",
                "replace it with the file itself, because listed files may not be symlinks",
            );
        }
        PluginError::HashFile {
            file: self.dir.join(relative),
            source: err,
        }
    }

    fn invalid_file(
        &self,
        field: &str,
        relative: &Path,
        problem: &str,
        fix: impl Into<String>,
    ) -> PluginError {
        PluginError::InvalidField {
            path: self.dir.join(MANIFEST_FILE_NAME),
            field: field.to_owned(),
            problem: format!("listed file {} {problem}", relative.display()),
            fix: fix.into(),
        }
    }
}

/// Reads a manifest without following a symlink, capped at [`MAX_MANIFEST_BYTES`].
fn read_manifest(path: &Path) -> Result<String, PluginError> {
    let read_error = |source| PluginError::ReadManifest {
        path: path.to_path_buf(),
        source,
    };

    let file = open_no_follow(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(read_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if metadata.len() > MAX_MANIFEST_BYTES {
        return Err(PluginError::ManifestTooLarge {
            path: path.to_path_buf(),
            max: MAX_MANIFEST_BYTES,
        });
    }

    let mut text = String::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_support::{manifest_text, write_plugin, HELLO_DIGEST};
    use std::os::unix::fs::symlink;

    fn load_error(dir: &Path) -> String {
        match Plugin::load(dir) {
            Ok(plugin) => panic!("plugin loaded but should not: {plugin:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn plugin_valid_loads() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = write_plugin(root.path(), "hello", &manifest_text(&[]));

        let plugin = Plugin::load(&dir).expect("valid plugin");

        assert_eq!(plugin.manifest.name, "hello");
        assert_eq!(plugin.dir, dir.canonicalize().expect("canonical"));
        assert_eq!(plugin.executable_path(), plugin.dir.join("hello.sh"));
        assert_eq!(plugin.executable_digest(), HELLO_DIGEST);
        assert!(plugin.handler("greet").is_some());
        assert!(plugin.handler("absent").is_none());
    }

    #[test]
    fn plugin_dir_missing_rejected() {
        let root = tempfile::tempdir().expect("tempdir");

        let error = Plugin::load(&root.path().join("absent"));

        assert!(matches!(error, Err(PluginError::OpenDir { .. })));
    }

    #[test]
    fn manifest_missing_rejected() {
        let root = tempfile::tempdir().expect("tempdir");

        let message = load_error(root.path());

        assert!(
            message.contains("failed to read plugin manifest"),
            "{message}"
        );
    }

    #[test]
    fn manifest_symlink_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let real = write_plugin(root.path(), "real", &manifest_text(&[]));
        let dir = root.path().join("linked");
        fs::create_dir(&dir).expect("mkdir");
        fs::copy(real.join("hello.sh"), dir.join("hello.sh")).expect("copy");
        symlink(real.join("plugin.toml"), dir.join("plugin.toml")).expect("symlink");

        let error = Plugin::load(&dir);

        assert!(matches!(error, Err(PluginError::ReadManifest { .. })));
    }

    #[test]
    fn manifest_oversized_file_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let padding = "#".repeat(MAX_MANIFEST_BYTES as usize);
        let dir = write_plugin(
            root.path(),
            "hello",
            &format!("{}{padding}", manifest_text(&[])),
        );

        let error = Plugin::load(&dir);

        assert!(matches!(error, Err(PluginError::ManifestTooLarge { .. })));
    }

    #[test]
    fn digest_mismatch_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = write_plugin(root.path(), "hello", &manifest_text(&[]));
        fs::write(dir.join("hello.sh"), "#!/bin/sh\necho changed\n").expect("write");

        let message = load_error(&dir);

        assert!(message.contains("digest mismatch"), "{message}");
        assert!(message.contains("hello.sh"), "{message}");
        assert!(
            message.contains(&format!("expected {HELLO_DIGEST}")),
            "{message}"
        );
        assert!(message.contains("actual sha256:"), "{message}");
    }

    #[test]
    fn verify_detects_later_change() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = write_plugin(root.path(), "hello", &manifest_text(&[]));
        let plugin = Plugin::load(&dir).expect("valid plugin");
        fs::write(dir.join("hello.sh"), "#!/bin/sh\necho changed\n").expect("write");

        let result = plugin.verify_digests();

        assert!(matches!(result, Err(PluginError::DigestMismatch { .. })));
    }

    #[test]
    fn listed_file_missing_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let extra = format!("\"lib/util.sh\" = \"{HELLO_DIGEST}\"");
        let dir = write_plugin(
            root.path(),
            "hello",
            &manifest_text(&[("files_extra", &extra)]),
        );

        let message = load_error(&dir);

        assert!(
            message.contains("invalid field `files.\"lib/util.sh\"`"),
            "{message}"
        );
        assert!(message.contains("does not exist"), "{message}");
    }

    #[test]
    fn listed_file_symlink_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = root.path().join("outside.sh");
        fs::write(&outside, crate::plugins::test_support::HELLO_SCRIPT).expect("write");
        let extra = format!("\"util.sh\" = \"{HELLO_DIGEST}\"");
        let dir = write_plugin(
            root.path(),
            "hello",
            &manifest_text(&[("files_extra", &extra)]),
        );
        symlink(&outside, dir.join("util.sh")).expect("symlink");

        let message = load_error(&dir);

        assert!(
            message.contains("invalid field `files.\"util.sh\"`"),
            "{message}"
        );
        assert!(message.contains("is a symlink"), "{message}");
    }

    #[test]
    fn symlinked_parent_escape_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = root.path().join("outside");
        fs::create_dir(&outside).expect("mkdir");
        fs::write(
            outside.join("util.sh"),
            crate::plugins::test_support::HELLO_SCRIPT,
        )
        .expect("write");
        let extra = format!("\"lib/util.sh\" = \"{HELLO_DIGEST}\"");
        let dir = write_plugin(
            root.path(),
            "hello",
            &manifest_text(&[("files_extra", &extra)]),
        );
        symlink(&outside, dir.join("lib")).expect("symlink");

        let message = load_error(&dir);

        assert!(
            message.contains("invalid field `files.\"lib/util.sh\"`"),
            "{message}"
        );
        assert!(message.contains("goes through the symlink"), "{message}");
    }

    #[test]
    fn listed_directory_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let extra = format!("\"lib\" = \"{HELLO_DIGEST}\"");
        let dir = write_plugin(
            root.path(),
            "hello",
            &manifest_text(&[("files_extra", &extra)]),
        );
        fs::create_dir(dir.join("lib")).expect("mkdir");

        let message = load_error(&dir);

        assert!(message.contains("is not a regular file"), "{message}");
    }

    #[test]
    fn executable_without_exec_bit_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = write_plugin(root.path(), "hello", &manifest_text(&[]));
        chmod(&dir.join("hello.sh"), 0o644);

        let message = load_error(&dir);

        assert!(message.contains("invalid field `executable`"), "{message}");
        assert!(message.contains("chmod +x hello.sh"), "{message}");
    }

    #[test]
    fn data_file_without_exec_bit_loads() {
        let root = tempfile::tempdir().expect("tempdir");
        let extra = format!("\"data.txt\" = \"{HELLO_DIGEST}\"");
        let dir = write_plugin(
            root.path(),
            "hello",
            &manifest_text(&[("files_extra", &extra)]),
        );
        fs::copy(dir.join("hello.sh"), dir.join("data.txt")).expect("copy");
        chmod(&dir.join("data.txt"), 0o644);

        assert!(Plugin::load(&dir).is_ok());
    }

    #[test]
    fn executable_digest_empty_when_unlisted() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = write_plugin(root.path(), "hello", &manifest_text(&[]));
        let mut plugin = Plugin::load(&dir).expect("valid plugin");
        plugin.manifest.files.clear();

        assert_eq!(plugin.executable_digest(), "");
    }
}
