//! Tests of loading, resolving, rendering and comparing whole profiles.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use vwmp_protocol::{NamespaceMode, NetworkPolicy};

use super::*;

fn shipped_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox-profiles")
}

fn shipped() -> ProfileSet {
    ProfileSet::load(&shipped_dir()).unwrap()
}

/// Creates a profiles directory holding the shipped groups file and `files`.
fn profiles_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        shipped_dir().join(GROUPS_FILE_NAME),
        dir.path().join(GROUPS_FILE_NAME),
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = profiles_dir(files);
    ProfileSet::load(dir.path()).unwrap_err().to_string()
}

const BASE: &str = "[syscalls]\ngroups = [\"@ordinary\"]\n";

#[test]
fn shipped_names() {
    assert_eq!(
        shipped().names(),
        ["default", "network", "strict", "trusted"]
    );
}

#[test]
fn get_unknown_lists_available() {
    let error = shipped().get("stirct").unwrap_err().to_string();
    assert_eq!(
        error,
        "profile \"stirct\" not found; available profiles: default, network, strict, trusted"
    );
}

#[test]
fn strict_inherits_and_overrides() {
    let profiles = shipped();
    let strict = profiles.get("strict").unwrap();
    assert_eq!(strict.chain(), ["strict", "default"]);
    assert_eq!(strict.limits().memory_bytes, Some(256 << 20));
    assert_eq!(strict.limits().max_processes, Some(64));
    assert_eq!(strict.limits().timeout_secs, 300);
    assert_eq!(strict.limits().max_open_files, Some(1024));
    assert_eq!(
        strict.filesystem().read_write,
        ["${workspace}", "/dev/null"]
    );
    assert!(!strict.filesystem().read_only.contains(&"/etc".to_string()));
    assert_eq!(
        strict.environment().get("HOME").map(String::as_str),
        Some("${workspace}")
    );
    assert!(!strict.syscalls().allowed.contains("socket"));
    assert!(strict.syscalls().allowed.contains("socketpair"));
}

#[test]
fn network_profile_values() {
    let profiles = shipped();
    let network = profiles.get("network").unwrap();
    assert_eq!(network.network().mode, NetworkMode::Tcp);
    assert_eq!(network.network().connect_ports, [53, 80, 443]);
    assert_eq!(network.landlock().min_abi, 4);
    assert_eq!(
        network.environment().get("RES_OPTIONS").map(String::as_str),
        Some("use-vc")
    );
    assert!(network.environment().contains_key("PATH"));
}

#[test]
fn trusted_has_no_filters() {
    let profiles = shipped();
    let trusted = profiles.get("trusted").unwrap();
    assert!(trusted.seccomp().is_none());
    assert!(!trusted.landlock().enabled);
    assert_eq!(trusted.namespaces().pid, NamespaceSetting::Required);
}

#[test]
fn policy_substitutes_directories() {
    let profiles = shipped();
    let policy = profiles
        .policy(
            "default",
            Path::new("/srv/ws/1"),
            Path::new("/opt/plugins/echo/"),
            RunAs::default(),
        )
        .unwrap();
    let landlock = policy.landlock.unwrap();
    assert!(landlock.read_write.contains(&PathBuf::from("/srv/ws/1")));
    assert!(landlock
        .executable
        .contains(&PathBuf::from("/opt/plugins/echo")));
    assert!(landlock.ignore_missing_paths);
    assert!(policy
        .environment
        .contains(&("TMPDIR".to_string(), "/srv/ws/1".to_string())));
    assert_eq!(policy.network, NetworkPolicy::None);
    assert_eq!(policy.namespaces.pid, NamespaceMode::Required);
    assert_eq!(policy.limits.memory_bytes, Some(512 << 20));
    assert_eq!(policy.limits.max_line_bytes, 16 << 10);
}

#[test]
fn policy_carries_hash_and_program() {
    let profiles = shipped();
    let policy = profiles
        .policy("strict", Path::new("/w"), Path::new("/p"), RunAs::default())
        .unwrap();
    let strict = profiles.get("strict").unwrap();
    assert_eq!(policy.profile_name, "strict");
    assert_eq!(policy.profile_hash, strict.hash());
    assert!(policy.profile_hash.starts_with("sha256:"));
    assert_eq!(policy.profile_hash.len(), "sha256:".len() + 64);
    assert_eq!(policy.seccomp.as_ref(), strict.seccomp());
}

#[test]
fn policy_for_trusted() {
    let profiles = shipped();
    let policy = profiles
        .policy(
            "trusted",
            Path::new("/w"),
            Path::new("/p"),
            RunAs::default(),
        )
        .unwrap();
    assert!(policy.landlock.is_none());
    assert!(policy.seccomp.is_none());
    assert_eq!(policy.network, NetworkPolicy::Host);
}

#[test]
fn policy_tcp_ports() {
    let profiles = shipped();
    let policy = profiles
        .policy(
            "network",
            Path::new("/w"),
            Path::new("/p"),
            RunAs::default(),
        )
        .unwrap();
    let expected = NetworkPolicy::Tcp {
        connect: vec![53, 80, 443],
        bind: Vec::new(),
    };
    assert_eq!(policy.network, expected);
}

#[test]
fn policy_rejects_relative_workspace() {
    let error = shipped()
        .policy(
            "default",
            Path::new("ws"),
            Path::new("/p"),
            RunAs::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("invalid workspace directory ws: "),
        "{error}"
    );
}

#[test]
fn shown_profiles_round_trip() {
    let profiles = shipped();
    for name in profiles.names() {
        let profile = profiles.get(&name).unwrap();
        let dir = profiles_dir(&[(&format!("{name}.toml"), &profile.to_toml())]);
        let reloaded = ProfileSet::load(dir.path()).unwrap();
        let again = reloaded.get(&name).unwrap();
        assert_eq!(again.hash(), profile.hash(), "{name}");
        assert_eq!(again.limits(), profile.limits(), "{name}");
        assert_eq!(again.syscalls(), profile.syscalls(), "{name}");
        assert_eq!(again.seccomp(), profile.seccomp(), "{name}");
        assert_eq!(again.environment(), profile.environment(), "{name}");
    }
}

#[test]
fn show_starts_with_header() {
    let profiles = shipped();
    let text = profiles.get("strict").unwrap().to_toml();
    assert!(text.starts_with("# Resolved sandbox profile \"strict\" (strict extends default)."));
    assert!(text.contains("memory = \"256MiB\""), "{text}");
}

#[test]
fn hash_follows_groups_file() {
    let dir = profiles_dir(&[("a.toml", BASE)]);
    let before = ProfileSet::load(dir.path())
        .unwrap()
        .get("a")
        .unwrap()
        .hash()
        .to_string();
    let groups_path = dir.path().join(GROUPS_FILE_NAME);
    let groups = std::fs::read_to_string(&groups_path).unwrap();
    let groups = groups.replace("\"uname\", ", "");
    std::fs::write(&groups_path, groups).unwrap();
    let after = ProfileSet::load(dir.path())
        .unwrap()
        .get("a")
        .unwrap()
        .hash()
        .to_string();
    assert_ne!(before, after);
}

#[test]
fn extends_cycle_reported() {
    let error = load_error(&[
        ("a.toml", "extends = \"b\"\n"),
        ("b.toml", "extends = \"c\"\n"),
        ("c.toml", "extends = \"a\"\n"),
    ]);
    assert_eq!(
        error,
        "profiles extend each other in a cycle: a -> b -> c -> a; remove one of these `extends`"
    );
}

#[test]
fn extends_self_reported() {
    let error = load_error(&[("a.toml", "extends = \"a\"\n")]);
    assert!(error.contains("a -> a"), "{error}");
}

#[test]
fn extends_depth_capped() {
    let mut files: Vec<(String, String)> = (0..10)
        .map(|level| {
            (
                format!("p{level}.toml"),
                format!("extends = \"p{}\"\n", level + 1),
            )
        })
        .collect();
    files.push(("p10.toml".into(), BASE.into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let error = load_error(&files);
    assert!(error.contains("longer than 8 profiles"), "{error}");
}

#[test]
fn extends_missing_parent() {
    let error = load_error(&[("a.toml", "extends = \"base\"\n")]);
    assert!(
        error.contains("a.toml: extends: profile \"base\" not found"),
        "{error}"
    );
    assert!(error.ends_with("available profiles: a"), "{error}");
}

#[test]
fn deny_accumulates() {
    let dir = profiles_dir(&[
        (
            "base.toml",
            "[syscalls]\ngroups = [\"@ordinary\"]\ndeny = [\"uname\"]\n",
        ),
        (
            "child.toml",
            "extends = \"base\"\n[syscalls]\ndeny = []\nallow = [\"uname\"]\n",
        ),
    ]);
    let profiles = ProfileSet::load(dir.path()).unwrap();
    let child = profiles.get("child").unwrap();
    assert!(child.syscalls().denied.contains("uname"));
    assert!(!child.syscalls().allowed.contains("uname"));
}

#[test]
fn tcp_needs_landlock_abi_four() {
    let error = load_error(&[(
        "web.toml",
        "[syscalls]\ngroups = [\"@ordinary\"]\n[network]\nmode = \"tcp\"\nconnect_ports = [443]\n",
    )]);
    assert!(error.contains("web.toml: landlock.min_abi: "), "{error}");
    assert!(error.contains("set landlock.min_abi = 4"), "{error}");
}

#[test]
fn tcp_needs_landlock_enabled() {
    let error = load_error(&[(
        "web.toml",
        "[landlock]\nenabled = false\n[syscalls]\ngroups = [\"@ordinary\"]\n\
         [network]\nmode = \"tcp\"\nconnect_ports = [443]\n",
    )]);
    assert!(error.contains("landlock.enabled"), "{error}");
}

#[test]
fn ports_need_tcp_mode() {
    let error = load_error(&[(
        "a.toml",
        "[syscalls]\ngroups = [\"@ordinary\"]\n[network]\nconnect_ports = [80]\n",
    )]);
    assert!(
        error.contains("a.toml: network.connect_ports: ports apply only"),
        "{error}"
    );
}

#[test]
fn tcp_without_ports_rejected() {
    let error = load_error(&[(
        "a.toml",
        "[landlock]\nmin_abi = 4\n[syscalls]\ngroups = [\"@ordinary\"]\n[network]\nmode = \"tcp\"\n",
    )]);
    assert!(error.contains("opens nothing"), "{error}");
}

#[test]
fn net_namespace_conflicts_with_host() {
    let error = load_error(&[(
        "a.toml",
        "[syscalls]\ngroups = [\"@ordinary\"]\n[network]\nmode = \"host\"\n[namespaces]\nnet = \"optional\"\n",
    )]);
    assert!(error.contains("a.toml: namespaces.net: "), "{error}");
}

#[test]
fn unenforced_none_rejected() {
    let error = load_error(&[("a.toml", "[syscalls]\nenabled = false\n")]);
    assert!(error.contains("a.toml: network.mode: "), "{error}");
}

#[test]
fn empty_allowlist_rejected() {
    let error = load_error(&[("a.toml", "description = \"x\"\n")]);
    assert!(
        error.contains("a.toml: syscalls.groups: the filter allows no syscall"),
        "{error}"
    );
}

#[test]
fn grace_shorter_than_timeout() {
    let error = load_error(&[(
        "a.toml",
        "[limits]\ntimeout = 5\nkill_grace = 5\n[syscalls]\ngroups = [\"@ordinary\"]\n",
    )]);
    assert!(error.contains("limits.kill_grace"), "{error}");
}

#[test]
fn invalid_file_name_rejected() {
    let error = load_error(&[("Bad Name.toml", BASE)]);
    assert!(
        error.contains("file name: invalid profile name \"Bad Name\""),
        "{error}"
    );
}

#[test]
fn other_files_ignored() {
    let dir = profiles_dir(&[
        ("a.toml", BASE),
        ("README.md", "# notes"),
        ("a.toml.bak", "x"),
    ]);
    assert_eq!(ProfileSet::load(dir.path()).unwrap().names(), ["a"]);
}

#[test]
fn missing_groups_file() {
    let dir = tempfile::tempdir().unwrap();
    let error = ProfileSet::load(dir.path()).unwrap_err().to_string();
    assert!(error.contains("syscall-groups.toml"), "{error}");
}

#[test]
fn check_files_per_file() {
    let dir = profiles_dir(&[
        ("base.toml", BASE),
        (
            "good.toml",
            "extends = \"base\"\n[limits]\nmemory = \"64MiB\"\n",
        ),
        (
            "bad.toml",
            "extends = \"base\"\n[limits]\nmemory = \"12XB\"\n",
        ),
    ]);
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    let results = check_files(&[good.clone(), bad.clone()]);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].0, good);
    assert!(results[0].1.is_ok());
    let error = results[1].1.as_ref().unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{}: limits.memory: invalid size \"12XB\"; use a number of bytes or a suffix KiB, MiB or GiB, such as \"512MiB\"",
            bad.display()
        )
    );
}

#[test]
fn check_files_groups_file() {
    let dir = profiles_dir(&[]);
    let groups = dir.path().join(GROUPS_FILE_NAME);
    std::fs::write(
        &groups,
        "[io]\ndescription = \"io\"\nsyscalls = [\"raed\"]\n",
    )
    .unwrap();
    let results = check_files(&[groups]);
    let error = results[0].1.as_ref().unwrap_err().to_string();
    assert!(
        error.contains("io.syscalls: unknown syscall \"raed\""),
        "{error}"
    );
}

#[test]
fn check_files_reports_parent_errors() {
    let dir = profiles_dir(&[
        ("base.toml", "[limits]\ntimeout = \"forever\"\n"),
        ("child.toml", "extends = \"base\"\n"),
    ]);
    let results = check_files(&[dir.path().join("child.toml")]);
    let error = results[0].1.as_ref().unwrap_err().to_string();
    assert!(error.contains("base.toml: limits.timeout"), "{error}");
}

#[test]
fn check_files_shipped() {
    let paths: Vec<PathBuf> = ["default", "strict", "network", "trusted", "syscall-groups"]
        .iter()
        .map(|name| shipped_dir().join(format!("{name}.toml")))
        .collect();
    for (path, result) in check_files(&paths) {
        assert!(result.is_ok(), "{}: {:?}", path.display(), result);
    }
}

#[test]
fn stricter_step_accepted() {
    let profiles = shipped();
    let strict = profiles.get("strict").unwrap();
    let default = profiles.get("default").unwrap();
    assert_eq!(ensure_not_looser(strict, default), Ok(()));
    assert_eq!(ensure_not_looser(default, default), Ok(()));
    assert_eq!(
        ensure_not_looser(strict, profiles.get("trusted").unwrap()),
        Ok(())
    );
}

#[test]
fn looser_step_rejected() {
    let profiles = shipped();
    let violations = ensure_not_looser(
        profiles.get("default").unwrap(),
        profiles.get("strict").unwrap(),
    )
    .unwrap_err();
    let joined = violations.join("\n");
    assert!(
        joined.contains("read-only path /etc is not covered"),
        "{joined}"
    );
    assert!(
        joined.contains("limits.memory 536870912 is higher than the cap's 268435456"),
        "{joined}"
    );
    assert!(joined.contains("limits.max_processes"), "{joined}");

    let network = ensure_not_looser(
        profiles.get("network").unwrap(),
        profiles.get("default").unwrap(),
    )
    .unwrap_err()
    .join("\n");
    assert!(network.contains("syscalls "), "{network}");
}

#[test]
fn trusted_step_under_strict_cap() {
    let profiles = shipped();
    let violations = ensure_not_looser(
        profiles.get("trusted").unwrap(),
        profiles.get("strict").unwrap(),
    )
    .unwrap_err();
    assert!(violations
        .iter()
        .any(|v| v.starts_with("Landlock is disabled")));
    assert!(violations
        .iter()
        .any(|v| v.starts_with("the syscall filter is disabled")));
    assert!(violations
        .iter()
        .any(|v| v.starts_with("network mode Host")));
}

#[test]
fn network_step_under_default_cap() {
    let profiles = shipped();
    let violations = ensure_not_looser(
        profiles.get("network").unwrap(),
        profiles.get("default").unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        violations,
        [
            "network mode Tcp is wider than the cap's None",
            "syscalls accept, accept4, bind, connect, getpeername, getsockname, listen, socket \
             are allowed, but not by the cap",
        ]
    );
}

#[test]
fn tcp_ports_compared_as_sets() {
    let dir = profiles_dir(&[
        (
            "web.toml",
            "[landlock]\nmin_abi = 4\n[syscalls]\ngroups = [\"@ordinary\", \"@network-io\"]\n\
             [network]\nmode = \"tcp\"\nconnect_ports = [80, 443]\n",
        ),
        (
            "https.toml",
            "extends = \"web\"\n[network]\nconnect_ports = [443]\n",
        ),
        (
            "mail.toml",
            "extends = \"web\"\n[network]\nconnect_ports = [25, 443]\n",
        ),
    ]);
    let profiles = ProfileSet::load(dir.path()).unwrap();
    let web = profiles.get("web").unwrap();
    assert_eq!(
        ensure_not_looser(profiles.get("https").unwrap(), web),
        Ok(())
    );
    let violations = ensure_not_looser(profiles.get("mail").unwrap(), web).unwrap_err();
    assert_eq!(
        violations,
        ["TCP connect ports 25 are not allowed by the cap"]
    );
}

#[test]
fn weaker_namespaces_and_action_rejected() {
    let dir = profiles_dir(&[
        ("cap.toml", "[syscalls]\ngroups = [\"@ordinary\"]\naction = \"kill\"\n[namespaces]\nnet = \"required\"\n"),
        ("step.toml", "extends = \"cap\"\n[syscalls]\naction = \"log\"\n[namespaces]\nnet = \"optional\"\n"),
    ]);
    let profiles = ProfileSet::load(dir.path()).unwrap();
    let violations =
        ensure_not_looser(profiles.get("step").unwrap(), profiles.get("cap").unwrap()).unwrap_err();
    assert_eq!(
        violations,
        [
            "syscall action Log is weaker than the cap's Kill",
            "net namespace is optional, but the cap makes it required",
        ]
    );
}

#[test]
fn workspace_subpath_covered() {
    let dir = profiles_dir(&[
        ("cap.toml", BASE),
        (
            "step.toml",
            "extends = \"cap\"\n[filesystem]\nread_write = [\"${workspace}/out\"]\nread_only = [\"${workspace}\"]\n",
        ),
        ("wide.toml", "extends = \"cap\"\n[filesystem]\nread_write = [\"/tmp\"]\n"),
    ]);
    let profiles = ProfileSet::load(dir.path()).unwrap();
    let cap_dir = profiles_dir(&[(
        "cap.toml",
        "[filesystem]\nread_write = [\"${workspace}\"]\n[syscalls]\ngroups = [\"@ordinary\"]\n",
    )]);
    let caps = ProfileSet::load(cap_dir.path()).unwrap();
    let cap = caps.get("cap").unwrap();
    assert_eq!(
        ensure_not_looser(profiles.get("step").unwrap(), cap),
        Ok(())
    );
    let violations = ensure_not_looser(profiles.get("wide").unwrap(), cap).unwrap_err();
    assert_eq!(
        violations,
        ["read-write path /tmp is not covered by a cap path with that right"]
    );
}
