use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| {
        owned
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// Writes `text` as `vwmp.toml` in a new directory.
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vwmp.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let (_dir, path) = config_file(text);
    Config::load(Some(&path), &no_env)
}

fn error_text(text: &str) -> String {
    load_text(text).unwrap_err().to_string()
}

#[test]
fn load_without_file_is_default() {
    let config = Config::load(None, &no_env).unwrap();
    assert_eq!(config, Config::default_for_local());
}

#[test]
fn default_listens_on_loopback() {
    let config = Config::default_for_local();
    assert!(config.server.is_loopback());
    assert_eq!(config.server.listen.port(), 8080);
    assert!(config.auth.secure_cookies);
}

#[test]
fn default_paths_under_state_dir() {
    let config = Config::default_for_local();
    let state_dir = &config.storage.state_dir;
    assert!(state_dir.is_absolute());
    assert!(state_dir.ends_with("vwmp-state"));
    assert_eq!(config.storage.database, state_dir.join("vwmp.db"));
    assert_eq!(
        config.auth.signing_key_file,
        state_dir.join("jwt-signing.key")
    );
    assert_eq!(config.engine.workspace_root, state_dir.join("workspaces"));
}

#[test]
fn file_values_read() {
    let config = load_text(
        r#"
        [server]
        listen = "127.0.0.1:9090"
        max_body_bytes = "2MiB"
        public_origin = "HTTP://LOCALHOST:9090"
        allowed_origins = ["https://ci.example.com", "https://ci.example.com:443"]
        [retention]
        executions = "14d"
        audit = 7776000
        prune_interval = "30m"
        [auth]
        issuer = "vwmp-test"
        access_token_ttl = "5m"
        refresh_token_ttl = "1d"
        [engine]
        max_parallel_steps = 8
        run_as_uid = 1000
        run_as_gid = 1001
        [logging]
        format = "json"
        level = "warn,vwmp_supervisor=debug"
        "#,
    )
    .unwrap();

    assert_eq!(config.server.listen.port(), 9090);
    assert_eq!(config.server.max_body_bytes, 2 << 20);
    assert_eq!(
        config.server.public_origin.as_deref(),
        Some("http://localhost:9090")
    );
    assert_eq!(
        config.server.allowed_origins,
        vec!["https://ci.example.com"]
    );

    assert_eq!(
        config.retention.executions,
        Duration::from_secs(14 * 86_400)
    );
    assert_eq!(config.retention.audit, Duration::from_secs(90 * 86_400));
    assert_eq!(config.retention.prune_interval, Duration::from_secs(1800));

    assert_eq!(config.auth.issuer, "vwmp-test");
    assert_eq!(config.auth.access_token_ttl, Duration::from_secs(300));
    assert_eq!(config.auth.refresh_token_ttl, Duration::from_secs(86_400));

    assert_eq!(config.engine.max_parallel_steps, 8);
    assert_eq!(config.engine.run_as_uid, 1000);
    assert_eq!(config.engine.run_as_gid, 1001);

    assert_eq!(config.logging.format, LogFormat::Json);
    assert_eq!(config.logging.level, "warn,vwmp_supervisor=debug");
}

#[test]
fn relative_paths_follow_file() {
    let (dir, path) = config_file(
        r#"
        [storage]
        state_dir = "state"
        [engine]
        plugins_dir = "../plugins"
        worker_path = "/opt/vwmp/vwmp-worker"
        [logging]
        audit_file = "audit.log"
        "#,
    );
    let config = Config::load(Some(&path), &no_env).unwrap();
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    assert_eq!(config.storage.state_dir, dir.path().join("state"));
    assert_eq!(config.storage.database, dir.path().join("state/vwmp.db"));
    assert_eq!(config.engine.plugins_dir, dir.path().join("../plugins"));
    assert_eq!(
        config.engine.worker_path.as_deref(),
        Some(Path::new("/opt/vwmp/vwmp-worker"))
    );
    assert_eq!(
        config.logging.audit_file,
        Some(dir.path().join("audit.log"))
    );
}

#[test]
fn empty_optional_path_is_unset() {
    let config = load_text("[logging]\naudit_file = \"\"\n").unwrap();
    assert_eq!(config.logging.audit_file, None);
}

#[test]
fn env_relative_path_follows_cwd() {
    let (_dir, path) = config_file("");
    let env = env_of(&[("VWMP_STORAGE_STATE_DIR", "elsewhere")]);
    let config = Config::load(Some(&path), &env).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(config.storage.state_dir, cwd.join("elsewhere"));
}

#[test]
fn env_beats_file() {
    let (_dir, path) = config_file("[server]\nlisten = \"127.0.0.1:9090\"\n");
    let env = env_of(&[("VWMP_SERVER_LISTEN", "[::1]:7000")]);
    let config = Config::load(Some(&path), &env).unwrap();
    assert_eq!(config.server.listen, "[::1]:7000".parse().unwrap());
}

#[test]
fn state_dir_override_moves_derived_paths() {
    let env = env_of(&[("VWMP_STORAGE_STATE_DIR", "/srv/vwmp")]);
    let config = Config::load(None, &env).unwrap();
    assert_eq!(config.storage.database, Path::new("/srv/vwmp/vwmp.db"));
    assert_eq!(
        config.auth.signing_key_file,
        Path::new("/srv/vwmp/jwt-signing.key")
    );
    assert_eq!(
        config.engine.workspace_root,
        Path::new("/srv/vwmp/workspaces")
    );
}

#[test]
fn systemd_state_directory_default() {
    let env = env_of(&[("STATE_DIRECTORY", "/var/lib/vwmp:/var/lib/other")]);
    let config = Config::load(None, &env).unwrap();
    assert_eq!(config.storage.state_dir, Path::new("/var/lib/vwmp"));
}

#[test]
fn explicit_state_dir_beats_systemd() {
    let env = env_of(&[
        ("STATE_DIRECTORY", "/var/lib/vwmp"),
        ("VWMP_STORAGE_STATE_DIR", "/srv/vwmp"),
    ]);
    let config = Config::load(None, &env).unwrap();
    assert_eq!(config.storage.state_dir, Path::new("/srv/vwmp"));
}

#[test]
fn unknown_field_names_file_and_field() {
    let (_dir, path) = config_file("[server]\nlistn = \"127.0.0.1:1\"\n");
    let error = Config::load(Some(&path), &no_env).unwrap_err().to_string();
    assert!(error.starts_with("invalid config file "), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("unknown field `listn`"), "{error}");
    assert!(error.contains("`listen`"), "{error}");
}

#[test]
fn unknown_section_rejected() {
    let error = error_text("[database]\npath = \"x\"\n");
    assert!(error.contains("unknown field `database`"), "{error}");
}

#[test]
fn wrong_type_rejected() {
    let error = error_text("[server]\ntrusted_proxy = \"yes\"\n");
    assert!(error.contains("trusted_proxy"), "{error}");
}

#[test]
fn missing_file_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let error = Config::check_file(&path).unwrap_err();
    assert!(matches!(error, ConfigError::ReadFile { .. }), "{error}");
    assert!(error.to_string().contains("absent.toml"), "{error}");
}

#[test]
fn bad_listen_says_fix() {
    let (_dir, path) = config_file("[server]\nlisten = \"localhost:8080\"\n");
    let error = Config::load(Some(&path), &no_env).unwrap_err().to_string();
    let expected = format!(
        "invalid `server.listen` in {}: \"localhost:8080\" is not a socket address; use an IP \
         address and port such as 127.0.0.1:8080 or [::1]:8080",
        path.display()
    );
    assert_eq!(error, expected);
}

#[test]
fn public_listen_needs_proxy() {
    let error = error_text("[server]\nlisten = \"0.0.0.0:8080\"\n");
    assert!(error.contains("not a loopback address"), "{error}");
    assert!(error.contains("trusted_proxy = true"), "{error}");
}

#[test]
fn public_listen_with_proxy_accepted() {
    let config = load_text("[server]\nlisten = \"10.0.0.5:8080\"\ntrusted_proxy = true\n").unwrap();
    assert!(!config.server.is_loopback());
}

#[test]
fn env_error_names_variable() {
    let env = env_of(&[("VWMP_SERVER_LISTEN", "0.0.0.0:80")]);
    let error = Config::load(None, &env).unwrap_err().to_string();
    assert!(
        error.starts_with("invalid environment variable VWMP_SERVER_LISTEN (`server.listen`): "),
        "{error}"
    );
}

#[test]
fn tls_rejected_for_now() {
    let error = error_text("[server]\ntls_cert_file = \"cert.pem\"\ntls_key_file = \"key.pem\"\n");
    assert!(error.contains("`server.tls_cert_file`"), "{error}");
    assert!(error.contains("built-in TLS is not available"), "{error}");
}

#[test]
fn body_limit_bounds() {
    assert!(load_text("[server]\nmax_body_bytes = 100\n").is_err());
    assert!(load_text("[server]\nmax_body_bytes = \"1GiB\"\n").is_err());
    assert!(load_text("[server]\nmax_body_bytes = \"64MiB\"\n").is_ok());
}

#[test]
fn bad_origin_rejected() {
    let error =
        error_text("[server]\nallowed_origins = [\"https://ok.example\", \"https://x/\"]\n");
    assert!(error.contains("`server.allowed_origins`"), "{error}");
    assert!(error.contains("\"https://x/\""), "{error}");
}

#[test]
fn access_ttl_capped() {
    let error = error_text("[auth]\naccess_token_ttl = \"2h\"\n");
    assert!(error.contains("`auth.access_token_ttl`"), "{error}");
    assert!(error.contains("use a duration from 1m to 1h"), "{error}");
}

#[test]
fn refresh_ttl_outlives_access() {
    let error = error_text("[auth]\naccess_token_ttl = \"1h\"\nrefresh_token_ttl = \"1h\"\n");
    assert!(error.contains("`auth.refresh_token_ttl`"), "{error}");
    assert!(error.contains("not longer than"), "{error}");
}

#[test]
fn bad_duration_says_fix() {
    let error = error_text("[retention]\naudit = \"three months\"\n");
    assert!(error.contains("`retention.audit`"), "{error}");
    assert!(error.contains("is not a duration"), "{error}");
}

#[test]
fn retention_bounds() {
    assert!(load_text("[retention]\nexecutions = \"10m\"\n").is_err());
    assert!(load_text("[retention]\nprune_interval = \"10s\"\n").is_err());
    assert!(load_text("[retention]\nprune_interval = \"30d\"\n").is_err());
}

#[test]
fn insecure_cookies_only_on_loopback() {
    let loopback = load_text("[auth]\nsecure_cookies = false\n").unwrap();
    assert!(!loopback.auth.secure_cookies);
    let error = error_text(
        "[server]\nlisten = \"10.0.0.5:8080\"\ntrusted_proxy = true\n[auth]\nsecure_cookies = false\n",
    );
    assert!(error.contains("`auth.secure_cookies`"), "{error}");
}

#[test]
fn empty_issuer_rejected() {
    let error = error_text("[auth]\nissuer = \" \"\n");
    assert!(error.contains("`auth.issuer`"), "{error}");
}

#[test]
fn root_ids_rejected() {
    let error = error_text("[engine]\nrun_as_uid = 0\n");
    assert!(error.contains("`engine.run_as_uid`"), "{error}");
    assert!(error.contains("must not run as user 0"), "{error}");
    let error = error_text("[engine]\nrun_as_gid = 0\n");
    assert!(error.contains("must not run as group 0"), "{error}");
}

#[test]
fn unusable_ids_rejected() {
    assert!(load_text("[engine]\nrun_as_uid = 4294967295\n").is_err());
    assert!(load_text("[engine]\nrun_as_uid = -5\n").is_err());
    assert!(load_text("[engine]\nrun_as_gid = 4294967296\n").is_err());
}

#[test]
fn parallel_steps_bounds() {
    assert!(load_text("[engine]\nmax_parallel_steps = 0\n").is_err());
    assert!(load_text("[engine]\nmax_parallel_steps = 257\n").is_err());
    assert!(load_text("[engine]\nmax_parallel_steps = 1\n").is_ok());
}

#[test]
fn bad_log_settings_rejected() {
    let error = error_text("[logging]\nformat = \"xml\"\n");
    assert!(error.contains("`logging.format`"), "{error}");
    let error = error_text("[logging]\nlevel = \"info,[\"\n");
    assert!(error.contains("`logging.level`"), "{error}");
}

#[test]
fn nul_in_path_rejected() {
    let error = error_text("[storage]\nstate_dir = \"a\\u0000b\"\n");
    assert!(error.contains("NUL"), "{error}");
}

#[test]
fn redacted_toml_round_trips() {
    let (dir, path) = config_file(
        "[server]\npublic_origin = \"https://vwmp.example.com\"\n[auth]\naccess_token_ttl = \"10m\"\n",
    );
    let config = Config::load(Some(&path), &no_env).unwrap();
    let rendered = config.to_toml_redacted().unwrap();
    let copy = dir.path().join("rendered.toml");
    std::fs::write(&copy, &rendered).unwrap();
    let reloaded = Config::check_file(&copy).unwrap();
    assert_eq!(reloaded.source.as_deref(), Some(copy.as_path()));
    assert_eq!(
        Config {
            source: None,
            ..reloaded
        },
        Config {
            source: None,
            ..config
        }
    );
}

#[test]
fn redacted_toml_shows_units() {
    let rendered = Config::default_for_local().to_toml_redacted().unwrap();
    assert!(rendered.starts_with("[server]\n"), "{rendered}");
    assert!(
        rendered.contains("access_token_ttl = \"15m\""),
        "{rendered}"
    );
    assert!(rendered.contains("max_body_bytes = \"1MiB\""), "{rendered}");
}

#[test]
fn mask_keys_masks_values() {
    let mut table: toml::Table =
        toml::from_str("[auth]\nissuer = \"x\"\naudience = \"y\"\n").unwrap();
    mask_keys(&mut table, &["auth.issuer", "auth.missing", "nosection"]);
    assert_eq!(table["auth"]["issuer"].as_str(), Some(MASK));
    assert_eq!(table["auth"]["audience"].as_str(), Some("y"));
}

#[test]
fn loopback_allows_own_origin() {
    let server = Config::default_for_local().server;
    assert!(server.is_origin_allowed("http://127.0.0.1:8080"));
    assert!(server.is_origin_allowed("http://localhost:8080"));
    assert!(!server.is_origin_allowed("http://localhost:9999"));
    assert!(!server.is_origin_allowed("https://evil.example"));
    assert!(!server.is_origin_allowed("null"));
}

#[test]
fn public_origin_replaces_own() {
    let config = load_text(
        "[server]\npublic_origin = \"https://vwmp.example.com\"\nallowed_origins = [\"https://ci.example.com\"]\n",
    )
    .unwrap();
    assert!(config
        .server
        .is_origin_allowed("https://VWMP.example.com:443"));
    assert!(config.server.is_origin_allowed("https://ci.example.com"));
    assert!(!config.server.is_origin_allowed("http://127.0.0.1:8080"));
    assert!(!config.server.is_origin_allowed("http://vwmp.example.com"));
}

#[test]
fn proxy_without_origin_warns() {
    let config = load_text("[server]\nlisten = \"0.0.0.0:8080\"\ntrusted_proxy = true\n").unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("public_origin"), "{}", warnings[0]);
    assert!(warnings[1].contains("every interface"), "{}", warnings[1]);
}

#[test]
fn default_has_no_warnings() {
    assert!(Config::default_for_local().warnings().is_empty());
}
