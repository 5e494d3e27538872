//! `vwmp run FILE`: executes a workflow file locally through the engine.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use tokio::sync::watch;

use super::{defaults, EXIT_USAGE};
use crate::engine::{
    Engine, EngineSettings, Event, EventSink, ExecutionPlan, ExecutionStatus, RecordFuture,
    StepStatus, DEFAULT_MAX_PARALLEL, MAX_PARALLEL_LIMIT,
};
use crate::launcher::{Launcher, LauncherConfig};
use crate::plugins::Registry;
use crate::profiles::ProfileSet;
use crate::workflow::{self, Workflow};

/// Largest workflow file read, in bytes.
const MAX_WORKFLOW_FILE: u64 = 1024 * 1024;

/// Arguments of `vwmp run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workflow file (JSON).
    pub file: PathBuf,
    /// Parameter value as NAME=VALUE; repeat for several.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Directory of plugin directories [default: examples/plugins in a checkout, else /var/lib/vwmp/plugins].
    #[arg(long, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Directory of sandbox profiles [default: sandbox-profiles in a checkout, else /etc/vwmp/profiles].
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// Directory under which the execution's workspace is created [default: $TMPDIR/vwmp-workspaces].
    #[arg(long, value_name = "DIR")]
    pub workspace_root: Option<PathBuf>,
    /// Maximum number of steps running at the same time.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PARALLEL)]
    pub max_parallel: usize,
    /// Print one JSON summary on stdout at the end; progress goes to stderr.
    #[arg(long)]
    pub json: bool,
}

/// Prints progress and logs as events arrive.
struct PrintSink {
    to_stderr: bool,
    width: usize,
    lock: Mutex<()>,
}

impl PrintSink {
    fn line(&self, text: &str) {
        let _guard = self.lock.lock();
        if self.to_stderr {
            let _ = writeln!(std::io::stderr(), "{text}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

impl EventSink for PrintSink {
    fn record<'a>(&'a self, event: &'a Event) -> RecordFuture<'a> {
        Box::pin(async move {
            let width = self.width;
            match event {
                Event::ExecutionStarted { execution_id } => {
                    self.line(&format!("execution {execution_id} started"));
                }
                Event::StepStarted {
                    step_id, profile, ..
                } => {
                    self.line(&format!(
                        "{step_id:>width$} | started under profile {profile}"
                    ));
                }
                Event::StepConfined {
                    step_id,
                    confinement,
                } => {
                    self.line(&format!(
                        "{step_id:>width$} | confined: {}",
                        confinement.summary()
                    ));
                }
                Event::StepLog {
                    step_id,
                    line,
                    truncated,
                    ..
                } => {
                    let mark = if *truncated { " [line split]" } else { "" };
                    self.line(&format!("{step_id:>width$} | {line}{mark}"));
                }
                Event::StepFinished { report } => {
                    let mut text = format!(
                        "{:>width$} | {} in {} ms",
                        report.id,
                        report.status.as_str(),
                        report.duration.as_millis()
                    );
                    if let Some(code) = report.exit_code {
                        text.push_str(&format!(", exit code {code}"));
                    }
                    if let Some(error) = &report.error {
                        if report.status != StepStatus::Succeeded {
                            text.push_str(&format!(": {error}"));
                        }
                    }
                    self.line(&text);
                }
                Event::ExecutionFinished {
                    execution_id,
                    status,
                } => {
                    self.line(&format!("execution {execution_id} {}", status.as_str()));
                }
            }
            Ok(())
        })
    }
}

fn parse_params(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            return Err(format!("invalid --param `{item}`: expected NAME=VALUE"));
        };
        if params.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!(
                "--param {name} is given twice; give each parameter once"
            ));
        }
    }
    Ok(params)
}

fn load_workflow(path: &PathBuf) -> Result<Workflow, String> {
    let meta = std::fs::metadata(path)
        .map_err(|err| format!("failed to read {}: {err}", path.display()))?;
    if meta.len() > MAX_WORKFLOW_FILE {
        return Err(format!(
            "{} is {} bytes; workflow files are limited to {MAX_WORKFLOW_FILE} bytes",
            path.display(),
            meta.len()
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|err| format!("failed to read {}: {err}", path.display()))?;
    Workflow::from_json(&bytes).map_err(|err| format!("{}: {err}", path.display()))
}

/// Runs `vwmp run`.
pub async fn run(args: RunArgs) -> i32 {
    if args.max_parallel == 0 || args.max_parallel > MAX_PARALLEL_LIMIT {
        eprintln!(
            "vwmp: invalid --max-parallel {}: use a number from 1 to {MAX_PARALLEL_LIMIT}",
            args.max_parallel
        );
        return EXIT_USAGE;
    }
    let prepared = prepare(&args);
    let (engine, plan) = match prepared {
        Ok(pair) => pair,
        Err(message) => {
            eprintln!("vwmp: {message}");
            return EXIT_USAGE;
        }
    };

    let width = plan
        .workflow
        .steps
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(4);
    let sink = Arc::new(PrintSink {
        to_stderr: args.json,
        width,
        lock: Mutex::new(()),
    });
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Ctrl-C cancels the execution: running steps are killed, the rest skipped.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("vwmp: cancelling");
            let _ = cancel_tx.send(true);
        }
    });
    let workspace = engine.settings().workspace_root.join(&plan.execution_id);
    let report = engine.execute(plan, sink.clone(), cancel_rx).await;

    // Summary: one line per step with its state and confinement.
    sink.line("");
    sink.line("summary:");
    for step in &report.steps {
        let confinement = step
            .confinement
            .as_ref()
            .map(|c| c.summary())
            .unwrap_or_else(|| "not started".to_string());
        sink.line(&format!(
            "  {:<width$}  {:<11} {:>6} ms  {}  [{}]",
            step.id,
            step.status.as_str(),
            step.duration.as_millis(),
            step.profile.as_deref().unwrap_or("-"),
            confinement
        ));
    }
    sink.line(&format!("  workspace: {}", workspace.display()));
    if let Some(error) = &report.error {
        sink.line(&format!("  error: {error}"));
    }
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(err) => eprintln!("vwmp: failed to encode the JSON summary: {err}"),
        }
    }
    if report.status == ExecutionStatus::Succeeded {
        0
    } else {
        1
    }
}

fn prepare(args: &RunArgs) -> Result<(Engine, ExecutionPlan), String> {
    let workflow = load_workflow(&args.file)?;
    let profiles_dir = defaults::profiles_dir(args.profiles_dir.clone());
    let plugins_dir = defaults::plugins_dir(args.plugins_dir.clone());
    let profiles = ProfileSet::load(&profiles_dir).map_err(|err| err.to_string())?;
    let registry = Registry::load_dir(&plugins_dir).map_err(|err| err.to_string())?;

    let catalog = crate::plugins::RegistryCatalog(&registry);
    workflow::validate(&workflow, &catalog)
        .map_err(|errors| format!("{} is invalid:\n{errors}", args.file.display()))?;
    let params = parse_params(&args.params)?;
    let parameters = workflow::resolve_parameters(&workflow, &params)
        .map_err(|errors| format!("invalid parameters:\n{errors}"))?;
    let secrets = workflow::secret_values(&workflow, &parameters);

    let worker = defaults::worker_binary()?;
    let engine = Engine::new(
        Launcher::with_pool(LauncherConfig::new(worker), args.max_parallel),
        Arc::new(registry),
        Arc::new(profiles),
        EngineSettings {
            max_parallel: args.max_parallel,
            workspace_root: defaults::workspace_root(args.workspace_root.clone()),
            run_as: vwmp_protocol::RunAs::default(),
        },
    );
    let plan = ExecutionPlan {
        execution_id: defaults::execution_id(),
        workflow: Arc::new(workflow),
        parameters,
        secrets,
    };
    Ok((engine, plan))
}
