//! Launcher smoke test with a hand-built policy (no profile files).

mod common;

use std::path::PathBuf;

use tokio::sync::{mpsc, watch};
use vwmp_protocol::*;
use vwmp_supervisor::launcher::{self, LaunchEvent, LauncherConfig, StepEnd};

fn policy(workspace: &std::path::Path) -> SandboxPolicy {
    SandboxPolicy {
        profile_name: "smoke".into(),
        profile_hash: "sha256:0".into(),
        limits: Limits {
            timeout_secs: 10,
            kill_grace_secs: 0,
            memory_bytes: Some(512 << 20),
            cpu_time_secs: Some(10),
            max_file_size: Some(1 << 20),
            max_open_files: Some(64),
            max_processes: None,
            max_output_bytes: 1 << 20,
            max_line_bytes: 4096,
        },
        landlock: Some(LandlockPolicy {
            min_abi: 1,
            read_only: vec!["/etc".into()],
            read_write: vec![workspace.to_path_buf(), "/dev/null".into()],
            executable: vec!["/usr".into(), "/bin".into(), "/lib".into(), "/lib64".into()],
            ignore_missing_paths: true,
        }),
        network: NetworkPolicy::None,
        seccomp: None,
        namespaces: NamespacePolicy {
            user: NamespaceMode::Optional,
            pid: NamespaceMode::Required,
            net: NamespaceMode::Off,
            ipc: NamespaceMode::Off,
            uts: NamespaceMode::Off,
            mount: NamespaceMode::Off,
        },
        environment: vec![("PATH".into(), "/usr/bin:/bin".into())],
        run_as: RunAs::default(),
    }
}

fn shell_request(workspace: &std::path::Path, script: &str) -> StepRequest {
    StepRequest {
        execution_id: "e1".into(),
        step_id: "s1".into(),
        handler: "smoke".into(),
        program: PathBuf::from("/bin/sh"),
        program_digest: None,
        args: vec!["-c".into(), script.into()],
        stdin: Vec::new(),
        stdout_mode: StdoutMode::Stream,
        workspace: workspace.to_path_buf(),
        plugin_dir: PathBuf::from("/bin"),
        policy: policy(workspace),
    }
}

async fn run(request: StepRequest) -> (launcher::LaunchResult, Vec<String>) {
    let config = LauncherConfig::new(common::worker_binary());
    let (tx, mut rx) = mpsc::channel(64);
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let collector = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(event) = rx.recv().await {
            match event {
                LaunchEvent::Confined(c) => lines.push(format!("confined: {}", c.summary())),
                LaunchEvent::Log(f) => lines.push(format!(
                    "{:?}: {}",
                    f.stream,
                    String::from_utf8_lossy(&f.data)
                )),
            }
        }
        lines
    });
    let result = launcher::launch(&config, request, tx, cancel_rx).await;
    (result, collector.await.unwrap())
}

fn workspace() -> tempfile::TempDir {
    let workspace = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(workspace.path(), Some(65534), Some(65534)).ok();
    workspace
}

#[tokio::test]
async fn echo_runs_confined() {
    let workspace = workspace();
    let script = "echo hi; echo err >&2; ls /root; echo out > x; cat x";
    let (result, lines) = run(shell_request(workspace.path(), script)).await;
    assert!(
        matches!(result.end, StepEnd::Finished(_)),
        "{:?}",
        result.end
    );
    assert!(lines.contains(&"Stdout: hi".to_string()), "{lines:#?}");
    assert!(lines.contains(&"Stderr: err".to_string()), "{lines:#?}");
    assert!(lines.contains(&"Stdout: out".to_string()), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/root") && l.contains("Permission denied")),
        "{lines:#?}"
    );
    assert!(lines[0].starts_with("confined: landlock v"), "{lines:#?}");
}

#[tokio::test]
async fn newer_landlock_abi_refused() {
    let kernel = common::landlock_abi();
    if kernel == 0 {
        common::skip("the kernel offers no Landlock");
        return;
    }
    let workspace = workspace();
    let mut request = shell_request(workspace.path(), "echo should-not-run");
    if let Some(landlock) = request.policy.landlock.as_mut() {
        landlock.min_abi = kernel + 1;
    }
    let (result, lines) = run(request).await;
    let StepEnd::SandboxFailed(failure) = &result.end else {
        panic!("expected a sandbox failure, got {:?}", result.end);
    };
    assert_eq!(failure.layer, "landlock");
    assert!(
        failure
            .reason
            .contains(&format!("offers Landlock ABI {kernel}")),
        "{}",
        failure.reason
    );
    assert!(
        failure.reason.contains("landlock.min_abi"),
        "{}",
        failure.reason
    );
    assert!(
        lines.iter().all(|l| !l.contains("should-not-run")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn digest_mismatch_refused() {
    let workspace = workspace();
    let mut request = shell_request(workspace.path(), "echo should-not-run");
    request.program_digest = Some(format!("sha256:{}", "0".repeat(64)));
    let (result, lines) = run(request).await;
    let StepEnd::Failed(reason) = &result.end else {
        panic!("expected a failure, got {:?}", result.end);
    };
    assert!(reason.contains("digest mismatch"), "{reason}");
    assert!(
        lines.iter().all(|l| !l.contains("should-not-run")),
        "{lines:#?}"
    );
}
