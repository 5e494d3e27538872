//! Manifest text and plugin directories shared by the tests of this module.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Content of the `hello.sh` file that test plugins ship.
pub const HELLO_SCRIPT: &str = "#!/bin/sh\necho \"{}\"\n";

/// `sha256sum` of [`HELLO_SCRIPT`].
pub const HELLO_DIGEST: &str =
    "sha256:4496a8ff09bf51467689f43e34c1c2cd64be55d703f4ca767702b9060a27f7bb";

/// Builds a valid manifest, with some parts replaced.
///
/// Each override is `(part, toml)`. Parts `name`, `version`, `api_version`,
/// `description`, `executable` and `profile` replace that field's value, and
/// an empty value drops the field. Part `hello_digest` replaces the digest of
/// `hello.sh`, `files_extra` adds lines to `[files]`, and `handlers` replaces
/// the whole handler section.
pub fn manifest_text(overrides: &[(&str, &str)]) -> String {
    let part = |name: &str, default: &str| -> String {
        overrides
            .iter()
            .find(|(key, _)| *key == name)
            .map_or(default, |(_, value)| value)
            .to_owned()
    };
    let field = |name: &str, default: &str| -> String {
        let value = part(name, default);
        if value.is_empty() {
            String::new()
        } else {
            format!("{name} = {value}\n")
        }
    };

    let mut text = String::new();
    text.push_str(&field("name", "\"hello\""));
    text.push_str(&field("version", "\"1.0.0\""));
    text.push_str(&field("api_version", "1"));
    text.push_str(&field("description", "\"Greets someone.\""));
    text.push_str(&field("executable", "\"hello.sh\""));
    text.push_str(&field("profile", "\"strict\""));
    text.push_str(&part(
        "handlers",
        "[[handlers]]\nname = \"greet\"\ndescription = \"Returns a greeting.\"\n\
         [handlers.parameters.name]\ntype = \"string\"\nrequired = true\nmax_length = 64\n",
    ));
    text.push_str("\n[files]\n");
    text.push_str(&format!(
        "\"hello.sh\" = {}\n",
        part("hello_digest", &format!("\"{HELLO_DIGEST}\""))
    ));
    text.push_str(&part("files_extra", ""));
    text.push('\n');
    text
}

/// Writes a plugin directory `root/dir_name` with an executable `hello.sh`
/// and the given manifest, and returns the directory.
pub fn write_plugin(root: &Path, dir_name: &str, manifest: &str) -> PathBuf {
    let dir = root.join(dir_name);
    fs::create_dir_all(&dir).expect("create plugin dir");
    let script = dir.join("hello.sh");
    fs::write(&script, HELLO_SCRIPT).expect("write hello.sh");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod hello.sh");
    fs::write(dir.join("plugin.toml"), manifest).expect("write plugin.toml");
    dir
}

#[test]
fn hello_digest_matches_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hello.sh");
    fs::write(&path, HELLO_SCRIPT).expect("write");

    assert_eq!(super::sha256_file(&path).expect("hash"), HELLO_DIGEST);
}
