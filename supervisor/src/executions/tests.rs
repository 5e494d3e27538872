//! The execution service against real components: a SQLite file in a
//! temporary directory, real `vwmp-worker` processes, the example plugins
//! and small shell plugins. Without a built worker every test prints
//! "SKIPPED" and returns; build it with `cargo build --workspace`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::*;
use crate::engine::redact::MASK;
use crate::engine::{EngineSettings, StepStatus};
use crate::launcher::{Launcher, LauncherConfig};
use crate::model::Role;
use crate::plugins::{sha256_file, Registry};
use crate::profiles::ProfileSet;
use crate::store::{ExecutionDetail, ExecutionFilter, NewUser, Page, UserRecord};

/// Maximum time a test waits for an execution to end.
const END_WAIT: Duration = Duration::from_secs(120);

/// Tests that start workers run one at a time: the plugins' user (65534
/// when the tests run as root) has a process limit shared by every step.
static WORKERS: Mutex<()> = Mutex::const_new(());

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the supervisor crate has a parent directory")
        .to_path_buf()
}

/// Returns the worker binary, or prints a skip line and returns `None`.
fn worker_binary() -> Option<PathBuf> {
    let found = std::env::var_os("VWMP_WORKER")
        .map(PathBuf::from)
        .or_else(crate::launcher::find_worker_binary);
    if found.is_none() {
        let thread = std::thread::current();
        eprintln!(
            "SKIPPED: {}: vwmp-worker is not built; run `cargo build --workspace` first",
            thread.name().unwrap_or("test")
        );
    }
    found
}

/// Copies the example plugin `name` into `plugins`.
fn copy_example(plugins: &Path, name: &str) {
    let source = repository_root().join("examples/plugins").join(name);
    let target = plugins.join(name);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let to = target.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
    }
}

/// Writes a shell plugin `name` with one handler `run` (optional string
/// input `text`) whose body is `script`.
fn shell_plugin(plugins: &Path, name: &str, script: &str) {
    let dir = plugins.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let executable = dir.join("run.sh");
    std::fs::write(&executable, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755)).unwrap();
    let digest = sha256_file(&executable).unwrap();
    let manifest = format!(
        "name = \"{name}\"\nversion = \"1.0.0\"\napi_version = 1\n\
         description = \"Test plugin.\"\nexecutable = \"run.sh\"\nprofile = \"strict\"\n\n\
         [files]\n\"run.sh\" = \"{digest}\"\n\n\
         [[handlers]]\nname = \"run\"\n\
         [handlers.parameters.text]\ntype = \"string\"\nmax_length = 1000\n"
    );
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
}

/// A service over a fresh database, the example plugins `hello` and
/// `textutil`, and the shell plugins every test uses.
struct Harness {
    _dir: TempDir,
    root: PathBuf,
    store: Store,
    service: ExecutionService,
    metrics: Arc<Metrics>,
    user: UserRecord,
}

impl Harness {
    async fn new(settings: ServiceSettings, max_parallel: usize) -> Option<Harness> {
        let worker = worker_binary()?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // Workers run as another user when the tests run as root.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();

        let plugins = root.join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy_example(&plugins, "hello");
        copy_example(&plugins, "textutil");
        shell_plugin(&plugins, "ok", "cat >/dev/null; echo '{\"done\": true}'");
        shell_plugin(
            &plugins,
            "bad",
            "cat >/dev/null; echo 'failing on purpose' >&2; exit 3",
        );
        // The argument 47 marks these sleeps, so the tests can look for
        // survivors among all processes.
        shell_plugin(&plugins, "slow", "cat >/dev/null; exec sleep 47");
        shell_plugin(
            &plugins,
            "nap",
            "cat >/dev/null; sleep 0.5; echo 'woke up' >&2; echo '{}'",
        );
        // Prints the `text` input in plain and in base64 on stderr, and
        // returns it as an output.
        shell_plugin(
            &plugins,
            "leak",
            "input=$(tr '\\n' ' ')\n\
             text=$(printf '%s' \"$input\" | sed -n 's/.*\"text\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p')\n\
             echo \"the text is $text\" >&2\n\
             printf '%s' \"$text\" | base64 >&2\n\
             printf '{\"echo\": \"%s\", \"b64\": \"%s\"}\\n' \"$text\" \"$(printf '%s' \"$text\" | base64)\"",
        );

        let registry = Registry::load_dir(&plugins).unwrap();
        let profiles = ProfileSet::load(&repository_root().join("sandbox-profiles")).unwrap();
        let engine = Engine::new(
            Launcher::with_pool(LauncherConfig::new(worker), max_parallel),
            Arc::new(registry),
            Arc::new(profiles),
            EngineSettings {
                max_parallel,
                workspace_root: root.join("workspaces"),
                run_as: vwmp_protocol::RunAs::default(),
            },
        );
        let store = Store::open(&root.join("db/vwmp.db")).await.unwrap();
        let user = store
            .create_user(NewUser {
                username: "runner".to_string(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$notarealhash".to_string(),
                roles: vec![Role::Executor],
            })
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::new());
        let audit = Arc::new(
            crate::audit::AuditLog::new()
                .with_store(Arc::new(crate::server::StoreAuditSink::new(store.clone()))),
        );
        let service = ExecutionService::new(
            engine,
            store.clone(),
            Arc::clone(&metrics),
            Some(audit),
            settings,
        );
        Some(Harness {
            _dir: dir,
            root,
            store,
            service,
            metrics,
            user,
        })
    }

    async fn save(&self, definition: Value) -> WorkflowRecord {
        let name = definition["name"].as_str().unwrap().to_string();
        self.store
            .create_workflow(&self.user.id, &name, definition.to_string())
            .await
            .unwrap()
    }

    async fn try_start(
        &self,
        workflow: &WorkflowRecord,
        parameters: Value,
    ) -> Result<ExecutionRecord, StartError> {
        let Value::Object(parameters) = parameters else {
            panic!("parameters must be an object");
        };
        self.service
            .start(StartRequest {
                workflow,
                user_id: &self.user.id,
                parameters: &parameters,
            })
            .await
    }

    async fn start(&self, workflow: &WorkflowRecord, parameters: Value) -> ExecutionRecord {
        self.try_start(workflow, parameters).await.unwrap()
    }

    async fn detail(&self, id: &ExecutionId) -> ExecutionDetail {
        self.store.get_execution(id).await.unwrap().unwrap()
    }

    /// Polls the store until execution `id` reaches a final state.
    async fn wait_final(&self, id: &ExecutionId) -> ExecutionDetail {
        self.wait_until(id, |detail| is_final(detail.execution.status))
            .await
    }

    async fn wait_until(
        &self,
        id: &ExecutionId,
        condition: impl Fn(&ExecutionDetail) -> bool,
    ) -> ExecutionDetail {
        let deadline = Instant::now() + END_WAIT;
        loop {
            let detail = self.detail(id).await;
            if condition(&detail) {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} did not reach the expected state in {END_WAIT:?}: {detail:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the service tracks no execution, so the task has
    /// finished its last write.
    async fn wait_untracked(&self) {
        let deadline = Instant::now() + END_WAIT;
        while self.service.tracked_executions() > 0 {
            assert!(Instant::now() < deadline, "executions still tracked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn all_logs(&self, id: &ExecutionId) -> Vec<crate::store::LogRecord> {
        let mut records = Vec::new();
        loop {
            let after = records
                .last()
                .map(|record: &crate::store::LogRecord| record.id);
            let page = self.store.logs(id, after, 0).await.unwrap();
            if page.is_empty() {
                return records;
            }
            records.extend(page);
        }
    }
}

fn step<'a>(detail: &'a ExecutionDetail, id: &str) -> &'a crate::store::StepRecord {
    detail
        .steps
        .iter()
        .find(|step| step.step_id == id)
        .unwrap_or_else(|| panic!("no step {id} in {detail:#?}"))
}

/// Counts the processes running `sleep 47`, the marked sleep of the `slow`
/// plugin, across the whole machine.
fn marked_sleeps() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline.as_slice() == b"sleep\x0047\x00")
        .count()
}

fn one_step(handler: &str) -> Value {
    json!({
        "name": "one", "version": "1.0.0", "type": "test",
        "steps": [{"id": "only", "handler": handler}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_example_succeeds() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 4).await else {
        return;
    };
    let definition: Value = serde_json::from_slice(
        &std::fs::read(repository_root().join("examples/workflows/hello.json")).unwrap(),
    )
    .unwrap();
    let workflow = harness.save(definition).await;
    let created = harness.start(&workflow, json!({"who": "Ada"})).await;
    assert_eq!(created.status, ExecutionStatus::Queued);
    assert_eq!(created.workflow_version, workflow.version);
    assert_eq!(created.parameters, json!({"who": "Ada"}));

    let detail = harness.wait_final(&created.id).await;
    assert_eq!(
        detail.execution.status,
        ExecutionStatus::Succeeded,
        "{detail:#?}"
    );
    assert!(detail.execution.started_at.is_some());
    assert!(detail.execution.finished_at.is_some());
    assert_eq!(
        step(&detail, "greet").outputs,
        Some(json!({"message": "Hello, Ada!"}))
    );
    assert_eq!(
        step(&detail, "shout").outputs,
        Some(json!({"text": "HELLO, ADA!"}))
    );
    for record in &detail.steps {
        assert_eq!(record.status, StepStatus::Succeeded, "{record:#?}");
        assert_eq!(record.exit_code, Some(0));
        assert!(record.confinement.is_some(), "{record:#?}");
        assert_eq!(record.profile.as_deref(), Some("strict"));
    }

    // The workspace was created 0700 and contains the report.
    let workspace = harness.root.join("workspaces").join(created.id.as_str());
    let mode = std::fs::metadata(&workspace).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let report = std::fs::read_to_string(workspace.join("report.txt")).unwrap();
    assert_eq!(report, "HELLO, ADA! has 2 words");

    harness.wait_untracked().await;
    assert_eq!(harness.service.active_workers(), 0);
    let metrics = harness.metrics.render();
    assert!(metrics.contains("vwmp_steps_started_total 4"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_skips_dependents() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 4).await else {
        return;
    };
    let workflow = harness
        .save(json!({
            "name": "failing", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "first", "handler": "bad.run"},
                {"id": "second", "handler": "ok.run", "depends_on": ["first"]},
                {"id": "third", "handler": "ok.run", "depends_on": ["second"]},
                {"id": "independent", "handler": "ok.run"}
            ]
        }))
        .await;
    let created = harness.start(&workflow, json!({})).await;
    let detail = harness.wait_final(&created.id).await;

    assert_eq!(detail.execution.status, ExecutionStatus::Failed);
    let first = step(&detail, "first");
    assert_eq!(first.status, StepStatus::Failed);
    assert_eq!(first.exit_code, Some(3));
    assert!(first.error.as_deref().unwrap_or("").contains("code 3"));
    for id in ["second", "third"] {
        let skipped = step(&detail, id);
        assert_eq!(skipped.status, StepStatus::Skipped, "{skipped:#?}");
        assert_eq!(skipped.started_at, None);
        assert!(skipped.error.is_some());
    }
    assert_eq!(step(&detail, "independent").status, StepStatus::Succeeded);

    let logs = harness.all_logs(&created.id).await;
    assert!(
        logs.iter()
            .any(|record| record.step_id == "first" && record.line == "failing on purpose"),
        "{logs:#?}"
    );

    // The end of the execution is an audit event, written after the final
    // state.
    harness.wait_untracked().await;
    let filter = crate::store::AuditFilter {
        event_type: Some("execution_finished".to_string()),
        ..Default::default()
    };
    let events = harness
        .store
        .list_audit(filter, Page::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0].entry;
    assert_eq!(event.execution_id.as_ref(), Some(&created.id));
    assert_eq!(event.workflow_id.as_ref(), Some(&workflow.summary.id));
    assert_eq!(event.user_id.as_ref(), Some(&harness.user.id));
    assert_eq!(event.outcome, "failure");
    assert_eq!(event.details["status"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_running_step() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 4).await else {
        return;
    };
    let workflow = harness
        .save(json!({
            "name": "cancel me", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "wait", "handler": "slow.run"},
                {"id": "after", "handler": "ok.run", "depends_on": ["wait"]}
            ]
        }))
        .await;
    let created = harness.start(&workflow, json!({})).await;
    harness
        .wait_until(&created.id, |detail| {
            step(detail, "wait").status == StepStatus::Running
        })
        .await;
    // The worker may still be confining itself; wait for the plugin.
    let deadline = Instant::now() + Duration::from_secs(20);
    while marked_sleeps() == 0 {
        assert!(Instant::now() < deadline, "the slow plugin never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(harness.service.active_workers(), 1);

    let cancelled_at = Instant::now();
    let status = harness
        .service
        .cancel(&created.id, &harness.user.id)
        .await
        .unwrap();
    assert!(
        matches!(
            status,
            ExecutionStatus::Running | ExecutionStatus::Cancelled
        ),
        "{status:?}"
    );
    let detail = harness.wait_final(&created.id).await;
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(10),
        "cancel took {:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
    let error = detail.execution.error.clone().unwrap_or_default();
    assert!(error.contains(harness.user.id.as_str()), "{error}");
    assert_eq!(step(&detail, "wait").status, StepStatus::Cancelled);
    assert_eq!(step(&detail, "after").status, StepStatus::Skipped);

    harness.wait_untracked().await;
    assert_eq!(marked_sleeps(), 0, "the cancelled plugin survived");
    assert_eq!(harness.service.active_workers(), 0);

    // A finished execution cannot be cancelled again.
    let again = harness.service.cancel(&created.id, &harness.user.id).await;
    assert!(
        matches!(
            again,
            Err(CancelError::AlreadyFinished {
                status: ExecutionStatus::Cancelled,
                ..
            })
        ),
        "{again:?}"
    );
    let unknown = harness
        .service
        .cancel(&ExecutionId::generate(), &harness.user.id)
        .await;
    assert!(matches!(unknown, Err(CancelError::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_recorded() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 4).await else {
        return;
    };
    let workflow = harness
        .save(json!({
            "name": "slow", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "wait", "handler": "slow.run", "timeout_seconds": 1},
                {"id": "after", "handler": "ok.run", "depends_on": ["wait"]}
            ]
        }))
        .await;
    let started = Instant::now();
    let created = harness.start(&workflow, json!({})).await;
    let detail = harness.wait_final(&created.id).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(detail.execution.status, ExecutionStatus::TimedOut);
    let wait = step(&detail, "wait");
    assert_eq!(wait.status, StepStatus::TimedOut);
    assert!(wait.duration_ms.unwrap_or(0) >= 1000, "{wait:#?}");
    assert_eq!(step(&detail, "after").status, StepStatus::Skipped);
    harness.wait_untracked().await;
    assert_eq!(marked_sleeps(), 0, "the timed-out plugin survived");
}

/// Returns every byte of the database and its side files.
fn database_bytes(store: &Store) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = store.path().as_os_str().to_owned();
        path.push(suffix);
        if let Ok(content) = std::fs::read(PathBuf::from(path)) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_never_stored() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 4).await else {
        return;
    };
    let secret = "Sesame-Open-4711";
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
    let workflow = harness
        .save(json!({
            "name": "leaky", "version": "1.0.0", "type": "test",
            "parameters": [
                {"name": "token", "type": "string", "secret": true, "max_length": 100},
                {"name": "note", "type": "string", "default": "plain"}
            ],
            "steps": [
                {"id": "leak", "handler": "leak.run", "inputs": {"text": "${params.token}"}}
            ]
        }))
        .await;
    let created = harness
        .start(&workflow, json!({"token": secret, "note": "plain"}))
        .await;
    assert_eq!(created.parameters["token"], MASK);
    assert_eq!(created.parameters["note"], "plain");

    let detail = harness.wait_final(&created.id).await;
    assert_eq!(
        detail.execution.status,
        ExecutionStatus::Succeeded,
        "{detail:#?}"
    );
    let outputs = step(&detail, "leak").outputs.clone().unwrap();
    assert_eq!(outputs["echo"], MASK, "{outputs}");
    assert_eq!(outputs["b64"], MASK, "{outputs}");

    // The plugin printed the secret in plain and in base64; both lines
    // reached the store masked.
    let lines: Vec<String> = harness
        .all_logs(&created.id)
        .await
        .into_iter()
        .map(|record| record.line)
        .collect();
    assert!(lines.contains(&format!("the text is {MASK}")), "{lines:#?}");
    assert!(lines.contains(&MASK.to_string()), "{lines:#?}");

    // No database file contains the secret in any form.
    harness.wait_untracked().await;
    let bytes = database_bytes(&harness.store);
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, secret), "the secret is in the database");
    assert!(
        !contains(&bytes, &encoded),
        "the base64 secret is in the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_of_200_steps_finishes() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 8).await else {
        return;
    };
    let mut steps = vec![json!({"id": "root", "handler": "ok.run"})];
    let children: Vec<String> = (0..198).map(|index| format!("child{index}")).collect();
    for child in &children {
        steps.push(json!({"id": child, "handler": "ok.run", "depends_on": ["root"]}));
    }
    steps.push(json!({"id": "join", "handler": "ok.run", "depends_on": children}));
    let workflow = harness
        .save(json!({"name": "fan out", "version": "1.0.0", "type": "test", "steps": steps}))
        .await;

    let started = Instant::now();
    let created = harness.start(&workflow, json!({})).await;
    let detail = harness.wait_final(&created.id).await;
    eprintln!("200 steps took {:?}", started.elapsed());
    assert_eq!(detail.steps.len(), 200);
    assert_eq!(
        detail.execution.status,
        ExecutionStatus::Succeeded,
        "{detail:#?}"
    );
    let not_succeeded: Vec<&str> = detail
        .steps
        .iter()
        .filter(|step| step.status != StepStatus::Succeeded)
        .map(|step| step.step_id.as_str())
        .collect();
    assert!(not_succeeded.is_empty(), "{not_succeeded:?}");
    let join = step(&detail, "join");
    let last_child_end = detail
        .steps
        .iter()
        .filter(|step| step.step_id.starts_with("child"))
        .filter_map(|step| step.finished_at)
        .max()
        .unwrap();
    assert!(join.started_at.unwrap() >= last_child_end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_rejected() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 2).await else {
        return;
    };
    let workflow = harness
        .save(json!({
            "name": "typed", "version": "1.0.0", "type": "test",
            "parameters": [
                {"name": "count", "type": "integer", "required": true, "min": 1},
                {"name": "token", "type": "string", "secret": true, "min_length": 12}
            ],
            "steps": [{"id": "only", "handler": "ok.run"}]
        }))
        .await;

    let cases = [
        (json!({}), "parameters.count"),
        (json!({"count": 0}), "parameters.count"),
        (json!({"count": "3"}), "parameters.count"),
        (json!({"count": 1, "token": "short-pw"}), "parameters.token"),
        (json!({"count": 1, "extra": true}), "parameters"),
    ];
    for (parameters, path) in cases {
        let result = harness.try_start(&workflow, parameters.clone()).await;
        let Err(StartError::InvalidParameters(errors)) = result else {
            panic!("{parameters}: expected invalid parameters, got {result:?}");
        };
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(errors.0[0].path, path, "{parameters}: {errors}");
    }
    let short_secret = harness
        .try_start(&workflow, json!({"count": 1, "token": "short-pw"}))
        .await
        .unwrap_err();
    assert!(!short_secret.to_string().contains("short-pw"));

    // Nothing was recorded for the rejected requests.
    let listed = harness
        .store
        .list_executions(ExecutionFilter::default(), Page::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "{:?}", listed.items);
    assert_eq!(harness.service.tracked_executions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_with_unknown_handler_rejected() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 2).await else {
        return;
    };
    // The store takes any JSON; the service validates against the plugins
    // it has now.
    let workflow = harness.save(one_step("gone.run")).await;
    let result = harness.try_start(&workflow, json!({})).await;
    let Err(StartError::InvalidWorkflow { errors, .. }) = result else {
        panic!("expected an invalid workflow, got {result:?}");
    };
    assert_eq!(errors.0[0].path, "steps[0].handler", "{errors}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_bounds_running_executions() {
    let _machine = WORKERS.lock().await;
    let settings = ServiceSettings {
        max_running: 1,
        max_queued: 1,
    };
    let Some(harness) = Harness::new(settings, 2).await else {
        return;
    };
    let workflow = harness.save(one_step("nap.run")).await;
    let first = harness.start(&workflow, json!({})).await;
    let second = harness.start(&workflow, json!({})).await;
    let third = harness.try_start(&workflow, json!({})).await;
    assert!(
        matches!(third, Err(StartError::QueueFull { limit: 2 })),
        "{third:?}"
    );

    // While the first runs, the second stays queued.
    harness
        .wait_until(&first.id, |detail| {
            detail.execution.status == ExecutionStatus::Running
        })
        .await;
    assert_eq!(
        harness.detail(&second.id).await.execution.status,
        ExecutionStatus::Queued
    );

    let first = harness.wait_final(&first.id).await;
    let second = harness.wait_final(&second.id).await;
    assert_eq!(first.execution.status, ExecutionStatus::Succeeded);
    assert_eq!(second.execution.status, ExecutionStatus::Succeeded);
    assert!(
        second.execution.started_at.unwrap() >= first.execution.finished_at.unwrap(),
        "the second started before the first finished"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_queued() {
    let _machine = WORKERS.lock().await;
    let settings = ServiceSettings {
        max_running: 1,
        max_queued: 10,
    };
    let Some(harness) = Harness::new(settings, 2).await else {
        return;
    };
    let slow = harness.save(one_step("slow.run")).await;
    let quick = harness.save(one_step("ok.run")).await;
    let running = harness.start(&slow, json!({})).await;
    let queued = harness.start(&quick, json!({})).await;

    let status = harness
        .service
        .cancel(&queued.id, &harness.user.id)
        .await
        .unwrap();
    assert!(
        matches!(status, ExecutionStatus::Queued | ExecutionStatus::Cancelled),
        "{status:?}"
    );
    let detail = harness.wait_final(&queued.id).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
    assert_eq!(detail.execution.started_at, None);
    assert_eq!(step(&detail, "only").status, StepStatus::Skipped);

    harness
        .service
        .cancel(&running.id, &harness.user.id)
        .await
        .unwrap();
    let detail = harness.wait_final(&running.id).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
    harness.wait_untracked().await;
    assert_eq!(marked_sleeps(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_follow_store() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 2).await else {
        return;
    };
    let workflow = harness.save(one_step("nap.run")).await;
    let created = harness.start(&workflow, json!({})).await;
    let mut events = harness
        .service
        .subscribe(&created.id)
        .expect("a queued execution has a live channel");

    let mut received = Vec::new();
    loop {
        let event = tokio::time::timeout(END_WAIT, events.recv())
            .await
            .expect("no live event in time")
            .expect("the live channel closed before the final event");
        let last = event.is_final();
        received.push(event);
        if last {
            break;
        }
    }

    let logs = harness.all_logs(&created.id).await;
    let live_logs: Vec<(i64, String)> = received
        .iter()
        .filter_map(|event| match event {
            LiveEvent::Log { seq, line, .. } => Some((*seq, line.clone())),
            _ => None,
        })
        .collect();
    let stored_logs: Vec<(i64, String)> = logs
        .iter()
        .map(|record| (record.id, record.line.clone()))
        .collect();
    assert_eq!(live_logs, stored_logs);
    assert!(live_logs.iter().any(|(_, line)| line == "woke up"));
    assert!(received.contains(&LiveEvent::Step {
        step_id: "only".to_string(),
        status: StepStatus::Running,
        exit_code: None,
        error: None,
    }));
    assert_eq!(
        received.last(),
        Some(&LiveEvent::Execution {
            status: ExecutionStatus::Succeeded
        })
    );
    harness.wait_untracked().await;
    assert!(harness.service.subscribe(&created.id).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_interrupts_after_grace() {
    let _machine = WORKERS.lock().await;
    let settings = ServiceSettings {
        max_running: 1,
        max_queued: 10,
    };
    let Some(harness) = Harness::new(settings, 2).await else {
        return;
    };
    let slow = harness
        .save(json!({
            "name": "slow", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "wait", "handler": "slow.run"},
                {"id": "after", "handler": "ok.run", "depends_on": ["wait"]}
            ]
        }))
        .await;
    let running = harness.start(&slow, json!({})).await;
    let queued = harness.start(&slow, json!({})).await;
    harness
        .wait_until(&running.id, |detail| {
            step(detail, "wait").status == StepStatus::Running
        })
        .await;

    let report = harness.service.shutdown(Duration::from_millis(300)).await;
    assert!(!harness.service.is_accepting());
    let mut interrupted = report.interrupted.clone();
    interrupted.sort();
    let mut expected = vec![running.id.clone(), queued.id.clone()];
    expected.sort();
    assert_eq!(interrupted, expected);

    let running = harness.detail(&running.id).await;
    assert_eq!(running.execution.status, ExecutionStatus::Interrupted);
    assert!(running.execution.error.is_some());
    assert_eq!(step(&running, "wait").status, StepStatus::Interrupted);
    assert_eq!(step(&running, "after").status, StepStatus::Skipped);

    let queued = harness.detail(&queued.id).await;
    assert_eq!(queued.execution.status, ExecutionStatus::Interrupted);
    assert_eq!(queued.execution.started_at, None);
    assert!(queued
        .steps
        .iter()
        .all(|step| step.status == StepStatus::Interrupted));

    assert_eq!(harness.service.tracked_executions(), 0);
    assert_eq!(harness.service.active_workers(), 0);
    assert_eq!(marked_sleeps(), 0, "a plugin survived the shutdown");

    let refused = harness.try_start(&slow, json!({})).await;
    assert!(
        matches!(refused, Err(StartError::ShuttingDown)),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_short_runs_finish() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 2).await else {
        return;
    };
    let workflow = harness.save(one_step("nap.run")).await;
    let created = harness.start(&workflow, json!({})).await;
    // Executions still queued when the shutdown begins never start.
    harness
        .wait_until(&created.id, |detail| {
            detail.execution.status == ExecutionStatus::Running
        })
        .await;
    let report = harness.service.shutdown(Duration::from_secs(60)).await;
    assert!(report.interrupted.is_empty(), "{report:?}");
    let detail = harness.detail(&created.id).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_workspace_root_fails_cleanly() {
    let _machine = WORKERS.lock().await;
    let Some(harness) = Harness::new(ServiceSettings::default(), 2).await else {
        return;
    };
    // A file where the workspace root should be makes every workspace fail.
    std::fs::write(harness.root.join("workspaces"), "not a directory").unwrap();
    let workflow = harness
        .save(json!({
            "name": "two", "version": "1.0.0", "type": "test",
            "steps": [
                {"id": "a", "handler": "ok.run"},
                {"id": "b", "handler": "ok.run", "depends_on": ["a"]}
            ]
        }))
        .await;
    let created = harness.start(&workflow, json!({})).await;
    harness.wait_final(&created.id).await;
    // The execution's error is written after its final state.
    harness.wait_untracked().await;
    let detail = harness.detail(&created.id).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Failed);
    let error = detail.execution.error.unwrap_or_default();
    assert!(error.contains("workspace"), "{error}");
    for record in &detail.steps {
        assert_eq!(record.status, StepStatus::Skipped, "{record:#?}");
    }
}
