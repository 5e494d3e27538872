//! One step: resolve the handler and profile, render the inputs, launch the
//! worker, relay its logs and turn its outcome into a [`StepReport`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use vwmp_protocol::stdio::PluginInput;
use vwmp_protocol::{ExitStatus, StdoutMode, StepRequest, PLUGIN_API_VERSION};

use super::events::{Event, EventSink, StepReport, StepStatus};
use super::redact::Redactor;
use super::scheduler::ExecutionPlan;
use super::Engine;
use crate::launcher::{LaunchEvent, StepEnd};
use crate::workflow::{self, TemplateContext};

/// Start of the error of a step whose sandbox could not be applied; the
/// execution service recognizes such steps by it.
pub const SANDBOX_FAILED_ERROR: &str = "the sandbox could not be applied";

/// Log events buffered between the launcher and the sink.
const LOG_CHANNEL_CAPACITY: usize = 256;

/// Everything a step task needs.
pub struct StepContext {
    pub engine: Engine,
    pub plan: Arc<ExecutionPlan>,
    pub index: usize,
    pub workspace: PathBuf,
    /// Outputs of the step's direct dependencies, by step id.
    pub outputs: BTreeMap<String, serde_json::Value>,
    pub sink: Arc<dyn EventSink>,
    pub cancel: watch::Receiver<bool>,
}

/// Creates the execution's workspace (mode 0700), owned by the worker user
/// when the supervisor runs as root.
pub fn prepare_workspace(engine: &Engine, execution_id: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    let root = &engine.settings().workspace_root;
    std::fs::create_dir_all(root).map_err(|err| {
        format!(
            "failed to create the workspace root {}: {err}; set --workspace-root to a writable directory",
            root.display()
        )
    })?;
    let path = root.join(execution_id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|err| format!("failed to create the workspace {}: {err}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
        .map_err(|err| format!("failed to set the mode of {}: {err}", path.display()))?;
    if running_as_root() {
        let run_as = engine.settings().run_as;
        std::os::unix::fs::chown(&path, Some(run_as.uid), Some(run_as.gid)).map_err(|err| {
            format!(
                "failed to give the workspace {} to uid {}: {err}",
                path.display(),
                run_as.uid
            )
        })?;
        // Workers run as another user and must reach the workspace root.
        let _ = traversable_by_all(root);
    }
    std::fs::canonicalize(&path)
        .map_err(|err| format!("failed to resolve the workspace {}: {err}", path.display()))
}

fn traversable_by_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o111))
}

/// Returns true when the supervisor's effective uid is 0.
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
        .unwrap_or(false)
}

/// Runs one step to its end; never panics on bad input.
pub async fn run(context: StepContext) -> StepReport {
    let step = &context.plan.workflow.steps[context.index];
    let redactor = Redactor::new(&context.plan.secrets);
    let fail = |error: String| {
        StepReport::not_run(&step.id, StepStatus::Failed, Some(redactor.text(&error)))
    };

    // Resolve the handler and re-check the plugin's digests.
    let engine = &context.engine;
    let (plugin, handler) = match engine.plugins().resolve_handler(&step.handler) {
        Ok(found) => found,
        Err(err) => return fail(err.to_string()),
    };
    if let Err(err) = plugin.verify_digests() {
        return fail(err.to_string());
    }

    // The step may ask for a stricter profile than the plugin's, never a
    // looser one.
    let plugin_profile = plugin.manifest.profile.as_str();
    let profile_name = step.profile.as_deref().unwrap_or(plugin_profile);
    if profile_name != plugin_profile {
        let (Ok(requested), Ok(cap)) = (
            engine.profiles().get(profile_name),
            engine.profiles().get(plugin_profile),
        ) else {
            return fail(format!(
                "profile `{profile_name}` or the plugin's profile `{plugin_profile}` is not loaded"
            ));
        };
        if let Err(violations) = crate::profiles::ensure_not_looser(requested, cap) {
            return fail(format!(
                "profile `{profile_name}` is looser than `{plugin_profile}`, the profile of plugin `{}`: {}",
                plugin.manifest.name,
                violations.join("; ")
            ));
        }
    }

    // Render the inputs from parameters and dependency outputs, then check
    // them against the handler's schema.
    let template_context = TemplateContext {
        params: &context.plan.parameters,
        outputs: &context.outputs,
    };
    let mut inputs = match workflow::render_inputs(&step.inputs, &template_context) {
        Ok(inputs) => inputs,
        Err(err) => return fail(format!("steps[{}].inputs: {err}", context.index)),
    };
    workflow::fill_input_defaults(&handler.parameters, &mut inputs);
    if let Err(err) = workflow::validate_inputs(&handler.parameters, &inputs, context.index) {
        return fail(err.to_string());
    }

    let mut policy = match engine.profiles().policy(
        profile_name,
        &context.workspace,
        &plugin.dir,
        engine.settings().run_as,
    ) {
        Ok(policy) => policy,
        Err(err) => return fail(err.to_string()),
    };
    if let Some(timeout) = step.timeout_seconds {
        // The profile's timeout is the ceiling an administrator set.
        policy.limits.timeout_secs = policy.limits.timeout_secs.min(timeout);
    }
    let profile = policy.profile_name.clone();
    let profile_hash = policy.profile_hash.clone();

    let input = PluginInput {
        api_version: PLUGIN_API_VERSION,
        execution_id: context.plan.execution_id.clone(),
        step_id: step.id.clone(),
        handler: handler.name.clone(),
        parameters: inputs,
        workspace: context.workspace.clone(),
    };
    let stdin = match serde_json::to_vec(&input) {
        Ok(bytes) => bytes,
        Err(err) => return fail(format!("failed to encode the plugin input: {err}")),
    };
    let request = StepRequest {
        execution_id: context.plan.execution_id.clone(),
        step_id: step.id.clone(),
        handler: step.handler.clone(),
        program: plugin.executable_path(),
        program_digest: Some(plugin.executable_digest().to_string()),
        args: vec![handler.name.clone()],
        stdin,
        stdout_mode: StdoutMode::CaptureOutputs,
        workspace: context.workspace.clone(),
        plugin_dir: plugin.dir.clone(),
        policy,
    };

    if let Err(err) = context
        .sink
        .record(&Event::StepStarted {
            step_id: step.id.clone(),
            profile: profile.clone(),
            profile_hash: profile_hash.clone(),
        })
        .await
    {
        return fail(err.to_string());
    }

    // Relay events to the sink while the launcher runs the step.
    let (events_tx, mut events_rx) = mpsc::channel(LOG_CHANNEL_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut cancel = context.cancel.clone();
    let launch = engine.launcher().launch(request, events_tx, stop_rx);
    let sink = Arc::clone(&context.sink);
    let step_id = step.id.clone();
    let relay_redactor = redactor.clone();
    let relay = async move {
        let mut sink_error = None;
        while let Some(event) = events_rx.recv().await {
            let event = match event {
                LaunchEvent::Confined(confinement) => Event::StepConfined {
                    step_id: step_id.clone(),
                    confinement,
                },
                LaunchEvent::Log(frame) => Event::StepLog {
                    step_id: step_id.clone(),
                    stream: frame.stream,
                    line: relay_redactor.text(&String::from_utf8_lossy(&frame.data)),
                    truncated: frame.truncated,
                },
            };
            if let Err(err) = sink.record(&event).await {
                sink_error.get_or_insert(err.to_string());
            }
        }
        sink_error
    };
    let forward_cancel = async move {
        loop {
            if *cancel.borrow_and_update() {
                let _ = stop_tx.send(true);
                return;
            }
            if cancel.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let work = async { tokio::join!(launch, relay) };
    tokio::pin!(work);
    let (result, sink_error) = tokio::select! {
        pair = &mut work => pair,
        // After forwarding a cancel, wait for the launcher to kill the step.
        () = forward_cancel => work.await,
    };

    let mut report = StepReport::not_run(&step.id, StepStatus::Failed, None);
    report.duration = result.duration;
    report.profile = Some(profile);
    report.profile_hash = Some(profile_hash);
    report.confinement = result.confinement;
    match result.end {
        StepEnd::Finished(outcome) => {
            report.usage = Some(outcome.usage);
            report.denial_hints = outcome.denial_hints.clone();
            report.log_truncated = outcome.log_truncated;
            match outcome.status {
                ExitStatus::Exited(code) => {
                    report.exit_code = Some(code);
                    if code == 0 {
                        match parse_outputs(&outcome.stdout, outcome.stdout_truncated) {
                            Ok(outputs) => {
                                report.status = StepStatus::Succeeded;
                                report.outputs = redactor.json(&outputs);
                            }
                            Err(err) => report.error = Some(err),
                        }
                    } else {
                        report.error = Some(format!("the plugin exited with code {code}"));
                    }
                }
                ExitStatus::Signaled(signal) => {
                    report.signal = Some(signal);
                    let mut error = format!("the plugin was killed by signal {signal}");
                    for hint in &outcome.denial_hints {
                        error.push_str(&format!(" ({hint})"));
                    }
                    report.error = Some(error);
                }
            }
        }
        StepEnd::TimedOut => {
            report.status = StepStatus::TimedOut;
            report.error = Some(format!(
                "the step ran longer than its timeout of {} s and was killed",
                result.duration.as_secs().max(1)
            ));
        }
        StepEnd::Cancelled => {
            report.status = StepStatus::Cancelled;
            report.error = Some("the execution was cancelled".to_string());
        }
        StepEnd::SandboxFailed(failure) => {
            report.error = Some(format!(
                "{SANDBOX_FAILED_ERROR} ({}): {}; no plugin code ran",
                failure.layer, failure.reason
            ));
        }
        StepEnd::Failed(reason) => report.error = Some(redactor.text(&reason)),
    }
    if let Some(err) = sink_error {
        report.status = StepStatus::Failed;
        report.error = Some(err);
    }
    report
}

/// Parses a plugin's stdout: empty, or exactly one JSON object.
fn parse_outputs(stdout: &[u8], truncated: bool) -> Result<serde_json::Value, String> {
    if truncated {
        return Err(format!(
            "the plugin printed more than {} bytes on stdout; outputs must be one small JSON object",
            vwmp_protocol::MAX_STDOUT_CAPTURE
        ));
    }
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err("the plugin's stdout is JSON but not an object; print one JSON object".to_string()),
        Err(err) => Err(format!(
            "the plugin's stdout is not one JSON object ({err}); print logs on stderr and only the outputs on stdout"
        )),
    }
}
