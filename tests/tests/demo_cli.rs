//! `vwmp demo` end to end: the real binary starts its server, real workers
//! run the example plugins, and the test checks the printed output.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vwmp_supervisor::plugins::sha256_file;

/// Seconds the demo may wait for its execution (`--timeout`), well above
/// the few seconds a debug build needs.
const DEMO_TIMEOUT_SECS: &str = "120";

fn demo(extra: &[&str]) -> Output {
    let mut args = vec!["--timeout", DEMO_TIMEOUT_SECS];
    args.extend_from_slice(extra);
    demo_with(&args)
}

fn demo_with(args: &[&str]) -> Output {
    Command::new(common::vwmp_binary())
        .arg("demo")
        .args([
            "--profiles-dir".as_ref(),
            common::profiles_dir().as_os_str(),
        ])
        .args(args)
        .current_dir(common::repo_root())
        .env("VWMP_WORKER", common::worker_binary())
        .env_remove("VWMP_LOG")
        .output()
        .expect("start vwmp demo")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Returns the example workflow file named in the demo's `created workflow` line.
fn workflow_file(stdout: &str) -> PathBuf {
    let name = stdout
        .lines()
        .find_map(|line| line.split(" from examples/workflows/").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `created workflow` line in:\n{stdout}"));
    common::repo_root().join("examples/workflows").join(name)
}

fn step_ids(workflow: &Path) -> Vec<String> {
    let definition: Value = serde_json::from_slice(&std::fs::read(workflow).unwrap()).unwrap();
    definition["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap().to_string())
        .collect()
}

/// Returns the summary table row of `step_id`.
fn summary_row<'a>(stdout: &'a str, step_id: &str) -> &'a str {
    let table = stdout
        .split("summary of execution")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary table in:\n{stdout}"));
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(step_id))
        .unwrap_or_else(|| panic!("no summary row for step {step_id} in:\n{stdout}"))
}

/// Makes `dir` and its contents readable by the worker user (65534) when
/// the suite runs as root.
fn open_to_workers(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn demo_succeeds_and_shows_confinement() {
    if !common::require_landlock(1, "vwmp demo under the shipped strict profile") {
        return;
    }
    let output = demo(&[]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("logged in over HTTP as demo"), "{all}");
    let steps = step_ids(&workflow_file(&stdout));
    assert!(!steps.is_empty(), "{all}");
    for step in &steps {
        let row = summary_row(&stdout, step);
        assert!(row.contains("succeeded"), "step {step}: {row}\n{all}");
        assert!(row.contains("strict"), "step {step}: {row}\n{all}");
        assert!(row.contains("landlock v"), "step {step}: {row}\n{all}");
        assert!(row.contains("seccomp "), "step {step}: {row}\n{all}");
        assert!(row.contains("kill by "), "step {step}: {row}\n{all}");
        let confined = format!("{step} | confined: landlock v");
        assert!(
            stdout.contains(&confined),
            "no live line `{confined}`\n{all}"
        );
    }
    assert!(stdout.contains("succeeded\n"), "{all}");
}

/// Returns a plugins directory without the checksum plugin, so the demo
/// runs hello.json, with the example textutil plugin and a `hello` plugin
/// whose script body is `script`.
fn plugins_with_hello(script_body: &str) -> tempfile::TempDir {
    let plugins = tempfile::tempdir().unwrap();
    open_to_workers(plugins.path());
    let hello = plugins.path().join("hello");
    std::fs::create_dir(&hello).unwrap();
    open_to_workers(&hello);
    let script = hello.join("hello.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{script_body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let example = common::repo_root().join("examples/plugins/hello/plugin.toml");
    let manifest = std::fs::read_to_string(example)
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("\"hello.sh\"") {
                format!("\"hello.sh\" = \"{}\"", sha256_file(&script).unwrap())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(hello.join("plugin.toml"), manifest).unwrap();
    let textutil = plugins.path().join("textutil");
    std::fs::create_dir(&textutil).unwrap();
    open_to_workers(&textutil);
    for file in ["plugin.toml", "textutil.py"] {
        let source = common::repo_root()
            .join("examples/plugins/textutil")
            .join(file);
        std::fs::copy(&source, textutil.join(file)).unwrap();
    }
    plugins
}

#[test]
fn demo_timeout_cancels_execution() {
    if !common::require_landlock(1, "vwmp demo under the shipped strict profile") {
        return;
    }
    let plugins = plugins_with_hello("echo 'hello: sleeping' >&2\nexec sleep 60");
    let started = std::time::Instant::now();
    let output = demo_with(&[
        "--timeout",
        "2",
        "--plugins-dir",
        plugins.path().to_str().unwrap(),
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "the demo took {:?}\n{all}",
        started.elapsed()
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("(--timeout); cancelling it"), "{all}");
    assert!(stdout.contains("greet | hello: sleeping"), "{all}");
    let greet = summary_row(&stdout, "greet");
    assert!(greet.contains("cancelled"), "{greet}\n{all}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ended cancelled"), "{all}");
}

#[test]
fn demo_failing_plugin_exits_nonzero() {
    if !common::require_landlock(1, "vwmp demo under the shipped strict profile") {
        return;
    }
    let plugins = plugins_with_hello("echo 'hello: refusing to greet on purpose' >&2\nexit 3");
    let output = demo(&["--plugins-dir", plugins.path().to_str().unwrap()]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("running hello.json instead"), "{all}");
    assert!(
        stdout.contains("greet | hello: refusing to greet on purpose"),
        "{all}"
    );
    let greet = summary_row(&stdout, "greet");
    assert!(greet.contains("failed"), "{greet}\n{all}");
    assert!(greet.contains("landlock v"), "{greet}\n{all}");
    let report = summary_row(&stdout, "report");
    assert!(report.contains("skipped"), "{report}\n{all}");
    assert!(report.contains("not started"), "{report}\n{all}");
    assert!(stderr.contains("ended failed"), "{all}");
}

#[test]
fn demo_state_dir_kept_and_reuse_rejected() {
    if !common::require_landlock(1, "vwmp demo under the shipped strict profile") {
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    open_to_workers(parent.path());
    let state = parent.path().join("state");
    let state_arg = state.to_str().unwrap();

    let first = demo(&["--state-dir", state_arg]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(state.join("vwmp.db").is_file(), "{}", text(&first));
    let password_file = state.join("demo-password");
    let mode = std::fs::metadata(&password_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", text(&first));

    // The demo user exists now, so a second run must stop with a clear
    // message instead of reusing the account.
    let second = demo(&["--state-dir", state_arg]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("use a new directory"), "{}", text(&second));
}

#[test]
fn demo_invalid_timeout_is_usage_error() {
    let output = demo_with(&["--timeout", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --timeout 0"), "{}", text(&output));
}
