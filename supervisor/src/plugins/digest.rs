//! Streaming SHA-256 of plugin files, and the `[files]` table helper for authors.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::PluginError;
use super::manifest::{DIGEST_PREFIX, MAX_FILES};
use super::MANIFEST_FILE_NAME;

/// Maximum size in bytes of one plugin file that is hashed (256 MiB). Every
/// listed file is hashed before each run, so this bounds the time of a check.
pub const MAX_HASHED_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Size of the read buffer used while hashing, in bytes.
const HASH_BUFFER_BYTES: usize = 64 * 1024;

/// Computes the SHA-256 of a file as `sha256:<hex>`, reading it in chunks.
///
/// Follows symlinks and has no size limit; plugin loading uses its own
/// checked variant.
pub fn sha256_file(path: &Path) -> Result<String, io::Error> {
    let file = File::open(path)?;
    let (digest, _) = sha256_reader(file)?;
    Ok(digest)
}

/// Hashes everything a reader yields, returning the digest and the byte count.
pub(crate) fn sha256_reader(mut reader: impl Read) -> Result<(String, u64), io::Error> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; HASH_BUFFER_BYTES];
    let mut total: u64 = 0;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((
        format!("{DIGEST_PREFIX}{}", hex::encode(hasher.finalize())),
        total,
    ))
}

/// Opens a file for reading without following a symlink in its last
/// component, and without blocking if it is a FIFO.
pub(crate) fn open_no_follow(path: &Path) -> Result<File, io::Error> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Hashes an already opened regular file, rejecting it once it exceeds
/// [`MAX_HASHED_FILE_BYTES`], even if it grows while being read.
pub(crate) fn sha256_limited(file: &File, path: &Path) -> Result<String, PluginError> {
    let too_large = || PluginError::FileTooLarge {
        file: path.to_path_buf(),
        max: MAX_HASHED_FILE_BYTES,
    };
    let hash_error = |source| PluginError::HashFile {
        file: path.to_path_buf(),
        source,
    };

    let size = file.metadata().map_err(hash_error)?.len();
    if size > MAX_HASHED_FILE_BYTES {
        return Err(too_large());
    }

    let (digest, total) =
        sha256_reader(file.take(MAX_HASHED_FILE_BYTES + 1)).map_err(hash_error)?;
    if total > MAX_HASHED_FILE_BYTES {
        return Err(too_large());
    }
    Ok(digest)
}

/// Builds the `[files]` table for every regular file under a plugin directory.
///
/// The manifest itself and hidden entries (names starting with `.`) are
/// left out. Symlinks are left out too, with a comment, because a manifest
/// may not list them. Paths are sorted.
pub fn digest_table(dir: &Path) -> Result<String, PluginError> {
    let mut files = Vec::new();
    let mut skipped_symlinks = Vec::new();
    collect_files(dir, dir, &mut files, &mut skipped_symlinks)?;
    files.sort();
    skipped_symlinks.sort();

    let mut table = String::from("[files]\n");
    for key in files {
        let path = dir.join(&key);
        let digest = sha256_file(&path).map_err(|source| PluginError::HashFile {
            file: path.clone(),
            source,
        })?;
        let quoted_key = toml::Value::String(key).to_string();
        table.push_str(&format!("{quoted_key} = \"{digest}\"\n"));
    }
    for key in skipped_symlinks {
        table.push_str(&format!(
            "# left out symlink {key:?}: manifests may not list symlinks\n"
        ));
    }
    Ok(table)
}

/// Walks `current` below `root`, collecting relative paths of regular files.
fn collect_files(
    root: &Path,
    current: &Path,
    files: &mut Vec<String>,
    skipped_symlinks: &mut Vec<String>,
) -> Result<(), PluginError> {
    let list_error = |source| PluginError::ListDir {
        dir: current.to_path_buf(),
        source,
    };

    for entry in fs::read_dir(current).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let path = entry.path();
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        if current == root && name == MANIFEST_FILE_NAME {
            continue;
        }

        let file_type = entry.file_type().map_err(list_error)?;
        if file_type.is_dir() {
            collect_files(root, &path, files, skipped_symlinks)?;
            continue;
        }
        if !file_type.is_file() && !file_type.is_symlink() {
            continue;
        }

        let key = relative_key(root, &path)?;
        if file_type.is_symlink() {
            skipped_symlinks.push(key);
            continue;
        }
        if files.len() >= MAX_FILES {
            return Err(PluginError::TooManyFiles {
                dir: root.to_path_buf(),
                max: MAX_FILES,
            });
        }
        files.push(key);
    }
    Ok(())
}

/// Returns `path` relative to `root` as a UTF-8 manifest key with `/` separators.
fn relative_key(root: &Path, path: &Path) -> Result<String, PluginError> {
    let non_utf8 = || PluginError::NonUtf8FileName {
        path: path.to_path_buf(),
    };
    let relative: PathBuf = path
        .strip_prefix(root)
        .map_err(|_| non_utf8())?
        .to_path_buf();
    relative.to_str().map(str::to_owned).ok_or_else(non_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn sha256_file_known_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc");
        fs::write(&path, "abc").expect("write");

        let digest = sha256_file(&path).expect("hash");

        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sha256_file_missing_errors() {
        let dir = tempfile::tempdir().expect("tempdir");

        let result = sha256_file(&dir.path().join("absent"));

        assert_eq!(
            result.map_err(|err| err.kind()),
            Err(io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn sha256_reader_spans_buffers() {
        let data = vec![7_u8; HASH_BUFFER_BYTES * 2 + 3];

        let (_, total) = sha256_reader(data.as_slice()).expect("hash");

        assert_eq!(total, data.len() as u64);
    }

    #[test]
    fn open_no_follow_rejects_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("target"), "x").expect("write");
        symlink("target", dir.path().join("link")).expect("symlink");

        let result = open_no_follow(&dir.path().join("link"));

        assert_eq!(
            result.map_err(|err| err.raw_os_error()).err(),
            Some(Some(libc::ELOOP))
        );
    }

    #[test]
    fn digest_table_lists_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("plugin.toml"), "name = \"x\"").expect("write");
        fs::write(dir.path().join("b.sh"), "abc").expect("write");
        fs::create_dir(dir.path().join("lib")).expect("mkdir");
        fs::write(dir.path().join("lib/a \"q\".txt"), "abc").expect("write");
        fs::write(dir.path().join(".hidden"), "abc").expect("write");
        symlink("/etc/passwd", dir.path().join("escape")).expect("symlink");
        let digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

        let table = digest_table(dir.path()).expect("table");

        let expected = format!(
            "[files]\n\"b.sh\" = \"{digest}\"\n'lib/a \"q\".txt' = \"{digest}\"\n\
             # left out symlink \"escape\": manifests may not list symlinks\n"
        );
        assert_eq!(table, expected);
    }

    #[test]
    fn digest_table_parses_as_toml() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("a\"b\\c"), "abc").expect("write");

        let table = digest_table(dir.path()).expect("table");
        let parsed: toml::Table = toml::from_str(&table).expect("valid toml");

        assert!(parsed["files"]
            .as_table()
            .expect("files")
            .contains_key("a\"b\\c"));
    }

    #[test]
    fn digest_table_missing_dir_errors() {
        let dir = tempfile::tempdir().expect("tempdir");

        let result = digest_table(&dir.path().join("absent"));

        assert!(matches!(result, Err(PluginError::ListDir { .. })));
    }
}
