//! The state directory: created 0700, and rejected when group or others
//! may write to it.

use std::fs::DirBuilder;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::ServeError;

/// Mode of a new state directory: owner only, because it contains the
/// database and the signing key.
pub const STATE_DIR_MODE: u32 = 0o700;

/// Write bits of group and others.
const GROUP_OTHER_WRITE_BITS: u32 = 0o022;

/// Creates `dir` (and missing parents) with mode 0700, or checks that an
/// existing one is a directory that only its owner may write to.
pub fn prepare_state_dir(dir: &Path) -> Result<(), ServeError> {
    let failed = |reason: String| ServeError::StateDirectory {
        path: dir.to_path_buf(),
        reason,
    };
    match std::fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => Err(failed(
            "exists but is not a directory; remove it or set storage.state_dir".to_string(),
        )),
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & GROUP_OTHER_WRITE_BITS != 0 {
                return Err(failed(format!(
                    "is writable by group or others (mode {mode:04o}); run `chmod 0700 {}`",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(error) if error.kind() == ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(STATE_DIR_MODE)
            .create(dir)
            .map_err(|error| {
                failed(format!(
                    "failed to create it: {error}; create it or set storage.state_dir"
                ))
            }),
        Err(error) => Err(failed(format!(
            "failed to read it: {error}; check its permissions"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_state_dir_is_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("state/inner");
        prepare_state_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, STATE_DIR_MODE);
    }

    #[test]
    fn writable_state_dir_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = prepare_state_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("chmod 0700"), "{error}");
    }

    #[test]
    fn file_as_state_dir_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(prepare_state_dir(&file).is_err());
    }
}
