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

#[tokio::test]
async fn echo_runs_confined() {
    let workspace = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(workspace.path(), Some(65534), Some(65534)).ok();
    let request = StepRequest {
        execution_id: "e1".into(),
        step_id: "s1".into(),
        handler: "smoke".into(),
        program: PathBuf::from("/bin/sh"),
        program_digest: None,
        args: vec![
            "-c".into(),
            "echo hi; echo err >&2; id -u; cat /etc/hostname; ls /root; echo out > x; cat x".into(),
        ],
        stdin: Vec::new(),
        stdout_mode: StdoutMode::Stream,
        workspace: workspace.path().to_path_buf(),
        plugin_dir: PathBuf::from("/bin"),
        policy: policy(workspace.path()),
    };
    let config = LauncherConfig::new(common::worker_binary());
    let (tx, mut rx) = mpsc::channel(64);
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let printer = tokio::spawn(async move {
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
    let lines = printer.await.unwrap();
    eprintln!("{lines:#?}\n{:?}", result.end);
    assert!(matches!(result.end, StepEnd::Finished(_)));
}
