//! The database directory and files, and their permissions.
//!
//! Rules, checked before SQLite opens anything:
//! 1. A missing directory is created with mode 0700, and so are its missing
//!    parents.
//! 2. An existing directory that group or others can write to is rejected,
//!    because another account could replace the database or plant its WAL
//!    file. One that they can only read or search is used with a warning,
//!    because the files inside are 0600. Existing directories are never
//!    changed, because the path may be a shared one such as the working
//!    directory.
//! 3. The database file is created with mode 0600 by this module, before
//!    SQLite opens it, so it never exists with a looser mode. An existing
//!    file (and its `-wal`, `-shm` and `-journal` files) with a looser mode is
//!    tightened to 0600 with a warning. Symbolic links are rejected.
//!
//! SQLite creates the `-wal` and `-shm` files with the mode of the database
//! file (`findCreateFileMode` and `unixOpenSharedMemory` in the unix VFS of
//! the bundled SQLite 3.54), so they are 0600 too; a test checks it.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Mode of directories the store creates: owner only.
pub const DIRECTORY_MODE: u32 = 0o700;

/// Mode of the database file and its WAL, shared-memory and journal files.
pub const FILE_MODE: u32 = 0o600;

/// Permission bits of group and others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Write bits of group and others.
const GROUP_OTHER_WRITE_BITS: u32 = 0o022;

/// Suffixes SQLite appends to the database path for its side files.
const SIDE_FILE_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Returns the directory that holds `database`: its parent, or `.` for a
/// bare file name.
pub(super) fn database_directory(database: &Path) -> PathBuf {
    match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` with mode 0700 when it is missing, or checks the mode of
/// an existing one (see the module rules).
pub(super) fn prepare_directory(dir: &Path) -> Result<(), StoreError> {
    let metadata = match fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            // umask can only clear bits, so the result is 0700 or tighter.
            return DirBuilder::new()
                .recursive(true)
                .mode(DIRECTORY_MODE)
                .create(dir)
                .map_err(|source| StoreError::Io {
                    operation: "create database directory",
                    path: dir.to_path_buf(),
                    source,
                });
        }
        Err(source) => {
            return Err(StoreError::Io {
                operation: "inspect database directory",
                path: dir.to_path_buf(),
                source,
            })
        }
    };

    if !metadata.is_dir() {
        return Err(StoreError::invalid(
            "database path",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE_BITS != 0 {
        return Err(StoreError::InsecureDirectory {
            path: dir.to_path_buf(),
            mode,
        });
    }
    if mode & GROUP_OTHER_BITS != 0 {
        tracing::warn!(
            path = %dir.display(),
            mode = format_args!("{mode:04o}"),
            "database directory is readable by group or others; the database files are 0600, but `chmod 0700` hides their names too"
        );
    }
    Ok(())
}

/// Creates the database file with mode 0600 unless it exists, refusing a
/// symbolic link, and tightens an existing file's mode to 0600.
pub(super) fn prepare_database_file(path: &Path) -> Result<(), StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| {
            if source.raw_os_error() == Some(libc::ELOOP) {
                StoreError::NotRegularFile {
                    path: path.to_path_buf(),
                }
            } else {
                StoreError::Io {
                    operation: "create database file",
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
    let metadata = file.metadata().map_err(|source| StoreError::Io {
        operation: "inspect database file",
        path: path.to_path_buf(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(StoreError::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
    tighten_mode(&file, path, metadata.permissions().mode())
}

/// Tightens the mode of existing `-wal`, `-shm` and `-journal` files of
/// `database` to 0600, refusing symbolic links among them.
pub(super) fn tighten_side_files(database: &Path) -> Result<(), StoreError> {
    for suffix in SIDE_FILE_SUFFIXES {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);

        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(StoreError::Io {
                    operation: "inspect database side file",
                    path,
                    source,
                })
            }
        };
        if !metadata.is_file() {
            return Err(StoreError::NotRegularFile { path });
        }
        if metadata.permissions().mode() & GROUP_OTHER_BITS != 0 {
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|source| StoreError::Io {
                    operation: "open database side file",
                    path: path.clone(),
                    source,
                })?;
            tighten_mode(&file, &path, metadata.permissions().mode())?;
        }
    }
    Ok(())
}

/// Sets `file`'s mode to 0600 when group or others have any permission.
fn tighten_mode(file: &fs::File, path: &Path, mode: u32) -> Result<(), StoreError> {
    if mode & GROUP_OTHER_BITS == 0 {
        return Ok(());
    }
    tracing::warn!(
        path = %path.display(),
        mode = format_args!("{:04o}", mode & 0o7777),
        "database file was accessible to group or others; setting mode 0600"
    );
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|source| StoreError::Io {
            operation: "set mode 0600 on",
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn missing_directories_created_private() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/b");
        prepare_directory(&dir).unwrap();
        assert_eq!(mode_of(&temp.path().join("a")), DIRECTORY_MODE);
        assert_eq!(mode_of(&dir), DIRECTORY_MODE);
    }

    #[test]
    fn writable_directory_rejected() {
        let temp = tempfile::tempdir().unwrap();
        fs::set_permissions(temp.path(), Permissions::from_mode(0o777)).unwrap();
        let result = prepare_directory(temp.path());
        assert!(matches!(
            result,
            Err(StoreError::InsecureDirectory { mode: 0o777, .. })
        ));
    }

    #[test]
    fn readable_directory_accepted() {
        let temp = tempfile::tempdir().unwrap();
        fs::set_permissions(temp.path(), Permissions::from_mode(0o755)).unwrap();
        assert!(prepare_directory(temp.path()).is_ok());
        assert_eq!(mode_of(temp.path()), 0o755, "existing directory changed");
    }

    #[test]
    fn file_created_private() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("vwmp.db");
        prepare_database_file(&path).unwrap();
        assert_eq!(mode_of(&path), FILE_MODE);
    }

    #[test]
    fn loose_file_tightened() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("vwmp.db");
        fs::write(&path, b"").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        prepare_database_file(&path).unwrap();
        assert_eq!(mode_of(&path), FILE_MODE);
    }

    #[test]
    fn symlinked_file_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let target = temp.path().join("elsewhere.db");
        fs::write(&target, b"").unwrap();
        let link = temp.path().join("vwmp.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let result = prepare_database_file(&link);
        assert!(matches!(result, Err(StoreError::NotRegularFile { .. })));
    }

    #[test]
    fn loose_side_file_tightened() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("vwmp.db");
        let wal = temp.path().join("vwmp.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, Permissions::from_mode(0o666)).unwrap();
        tighten_side_files(&path).unwrap();
        assert_eq!(mode_of(&wal), FILE_MODE);
    }

    #[test]
    fn symlinked_side_file_rejected() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("vwmp.db");
        std::os::unix::fs::symlink("/etc/passwd", temp.path().join("vwmp.db-shm")).unwrap();
        let result = tighten_side_files(&path);
        assert!(matches!(result, Err(StoreError::NotRegularFile { .. })));
    }

    #[test]
    fn bare_name_uses_current_directory() {
        assert_eq!(database_directory(Path::new("vwmp.db")), PathBuf::from("."));
    }
}
