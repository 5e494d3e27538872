//! `vwmp run` end to end: real binaries, real workers, real plugins.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use vwmp_supervisor::plugins::sha256_file;

fn vwmp(args: &[&str], workspace_root: &Path) -> Output {
    let output = Command::new(common::vwmp_binary())
        .args(args)
        .arg("--workspace-root")
        .arg(workspace_root)
        .arg("--profiles-dir")
        .arg(common::profiles_dir())
        .output()
        .expect("start vwmp");
    output
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}\n{}", text(output)))
}

fn step<'a>(summary: &'a Value, id: &str) -> &'a Value {
    summary["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {summary}"))
}

/// Writes a shell plugin `name` with one handler `run` whose body is `script`.
fn shell_plugin(plugins: &Path, name: &str, script: &str) {
    let dir = plugins.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let executable = dir.join("run.sh");
    std::fs::write(&executable, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755)).unwrap();
    let digest = sha256_file(&executable).unwrap();
    let manifest = format!(
        "name = \"{name}\"\nversion = \"1.0.0\"\napi_version = 1\ndescription = \"Test plugin.\"\n\
         executable = \"run.sh\"\nprofile = \"strict\"\n\n[files]\n\"run.sh\" = \"{digest}\"\n\n\
         [[handlers]]\nname = \"run\"\n"
    );
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
}

fn plugins_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn workflow(dir: &Path, document: &Value) -> PathBuf {
    let path = dir.join("workflow.json");
    std::fs::write(&path, serde_json::to_vec_pretty(document).unwrap()).unwrap();
    path
}

#[test]
fn hello_example_succeeds() {
    let root = tempfile::tempdir().unwrap();
    let file = common::repo_root().join("examples/workflows/hello.json");
    let output = vwmp(
        &[
            "run",
            file.to_str().unwrap(),
            "--param",
            "who=Ada",
            "--json",
        ],
        root.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let summary = summary(&output);
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(step(&summary, "greet")["outputs"]["message"], "Hello, Ada!");
    assert_eq!(step(&summary, "shout")["outputs"]["text"], "HELLO, ADA!");
    assert_eq!(step(&summary, "report")["exit_code"], 0);
    let confinement = &step(&summary, "greet")["confinement"];
    assert_eq!(confinement["kill_scope"], "pid-namespace");
    assert!(confinement["seccomp_instructions"].as_u64().unwrap_or(0) > 0);

    // Logs stream on stderr with the step id, and the report landed in the workspace.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("greet | "), "{stderr}");
    let execution = summary["execution_id"].as_str().unwrap();
    let report = std::fs::read_to_string(root.path().join(execution).join("report.txt")).unwrap();
    assert_eq!(report, "HELLO, ADA! has 2 words");
}

#[test]
fn failed_step_skips_dependents() {
    let root = tempfile::tempdir().unwrap();
    let plugins = plugins_dir();
    shell_plugin(
        plugins.path(),
        "ok",
        "cat >/dev/null; echo '{\"done\": true}'",
    );
    shell_plugin(
        plugins.path(),
        "bad",
        "cat >/dev/null; echo 'failing on purpose' >&2; exit 3",
    );
    let file = workflow(
        root.path(),
        &serde_json::json!({
            "name": "failing", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "first", "handler": "bad.run"},
                {"id": "second", "handler": "ok.run", "depends_on": ["first"]},
                {"id": "third", "handler": "ok.run", "depends_on": ["second"]},
                {"id": "independent", "handler": "ok.run"}
            ]
        }),
    );
    let output = vwmp(
        &[
            "run",
            file.to_str().unwrap(),
            "--json",
            "--plugins-dir",
            plugins.path().to_str().unwrap(),
        ],
        root.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let summary = summary(&output);
    assert_eq!(summary["status"], "failed");
    assert_eq!(step(&summary, "first")["status"], "failed");
    assert_eq!(step(&summary, "first")["exit_code"], 3);
    assert_eq!(step(&summary, "second")["status"], "skipped");
    assert_eq!(step(&summary, "third")["status"], "skipped");
    assert_eq!(step(&summary, "independent")["status"], "succeeded");
    assert_eq!(step(&summary, "independent")["outputs"]["done"], true);
}

#[test]
fn step_timeout_recorded() {
    let root = tempfile::tempdir().unwrap();
    let plugins = plugins_dir();
    shell_plugin(plugins.path(), "slow", "sleep 30");
    let file = workflow(
        root.path(),
        &serde_json::json!({
            "name": "slow", "version": "1.0.0", "type": "test",
            "steps": [{"id": "wait", "handler": "slow.run", "timeout_seconds": 1}]
        }),
    );
    let started = Instant::now();
    let output = vwmp(
        &[
            "run",
            file.to_str().unwrap(),
            "--json",
            "--plugins-dir",
            plugins.path().to_str().unwrap(),
        ],
        root.path(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let summary = summary(&output);
    assert_eq!(summary["status"], "timed_out");
    assert_eq!(step(&summary, "wait")["status"], "timed_out");
}

#[test]
fn independent_steps_run_in_parallel() {
    let root = tempfile::tempdir().unwrap();
    let plugins = plugins_dir();
    shell_plugin(plugins.path(), "nap", "cat >/dev/null; sleep 1");
    let steps: Vec<Value> = (0..4)
        .map(|i| serde_json::json!({"id": format!("nap{i}"), "handler": "nap.run"}))
        .collect();
    let file = workflow(
        root.path(),
        &serde_json::json!({"name": "naps", "version": "1.0.0", "type": "test", "steps": steps}),
    );
    let started = Instant::now();
    let output = vwmp(
        &[
            "run",
            file.to_str().unwrap(),
            "--max-parallel",
            "4",
            "--plugins-dir",
            plugins.path().to_str().unwrap(),
        ],
        root.path(),
    );
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        elapsed < Duration::from_millis(3500),
        "four 1 s steps took {elapsed:?}"
    );
}

#[test]
fn secret_parameter_masked() {
    let root = tempfile::tempdir().unwrap();
    let file = common::repo_root().join("examples/workflows/secret.json");
    let secret = "Hunter2-Very-Secret";
    let output = vwmp(
        &[
            "run",
            file.to_str().unwrap(),
            "--json",
            "--param",
            &format!("token={secret}"),
        ],
        root.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let all = text(&output);
    assert!(
        !all.to_lowercase().contains(&secret.to_lowercase()),
        "{all}"
    );
    assert!(all.contains("********"), "{all}");
}

#[test]
fn invalid_workflow_names_field() {
    let root = tempfile::tempdir().unwrap();
    let file = workflow(
        root.path(),
        &serde_json::json!({
            "name": "bad", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "a", "handler": "hello.greet", "inputs": {"name": "x"}},
                {"id": "b", "handler": "hello.greet", "inputs": {"name": "y"}, "depends_on": ["a", "missing"]}
            ]
        }),
    );
    let output = vwmp(&["run", file.to_str().unwrap()], root.path());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("steps[1].depends_on[1]"), "{stderr}");
}

#[test]
fn bad_param_format_rejected() {
    let root = tempfile::tempdir().unwrap();
    let file = common::repo_root().join("examples/workflows/hello.json");
    let output = vwmp(
        &["run", file.to_str().unwrap(), "--param", "who"],
        root.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NAME=VALUE"), "{stderr}");
}
