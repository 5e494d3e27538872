//! The engine's event sink that writes each event of one execution to the
//! store, committed before `record` returns.

use rusqlite::{params, Connection};

use super::codec::{db_error, now_millis, to_json};
use super::logs::insert_log;
use super::{Store, StoreError};
use crate::engine::{Event, EventSink, ExecutionStatus, RecordFuture, SinkError, StepReport};
use crate::model::ExecutionId;

/// Records the events of execution `execution_id`, each in one small
/// transaction. The execution and its steps must exist
/// ([`Store::create_execution`]); an event for an unknown step fails, and
/// the engine then stops the execution.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: Store,
    execution_id: ExecutionId,
}

impl StoreSink {
    /// Creates a sink for `execution_id` in `store`.
    pub fn new(store: Store, execution_id: ExecutionId) -> Self {
        StoreSink {
            store,
            execution_id,
        }
    }

    /// Returns the execution this sink records.
    pub fn execution_id(&self) -> &ExecutionId {
        &self.execution_id
    }

    async fn apply(&self, event: &Event) -> Result<(), StoreError> {
        let id = self.execution_id.clone();
        match event {
            Event::ExecutionStarted { execution_id } => {
                self.check_execution(execution_id)?;
                self.store
                    .write_grouped("record execution start", move |conn| {
                        execution_started(conn, &id)
                    })
                    .await
            }
            Event::StepStarted {
                step_id,
                profile,
                profile_hash,
            } => {
                let (step_id, profile, hash) =
                    (step_id.clone(), profile.clone(), profile_hash.clone());
                self.store
                    .write_grouped("record step start", move |conn| {
                        let changed = conn
                            .prepare_cached(
                                "UPDATE steps SET status = 'running', profile = ?3, profile_hash = ?4, started_at = ?5
                                 WHERE execution_id = ?1 AND step_id = ?2",
                            )
                            .and_then(|mut update| {
                                update.execute(params![id, step_id, profile, hash, now_millis()])
                            })
                            .map_err(db_error("record step start"))?;
                        step_changed(changed, &id, &step_id)
                    })
                    .await
            }
            Event::StepConfined {
                step_id,
                confinement,
            } => {
                let step_id = step_id.clone();
                let confinement = to_json("confinement", confinement)?;
                self.store
                    .write_grouped("record step confinement", move |conn| {
                        let changed = conn
                            .prepare_cached(
                                "UPDATE steps SET confinement = ?3 WHERE execution_id = ?1 AND step_id = ?2",
                            )
                            .and_then(|mut update| update.execute(params![id, step_id, confinement]))
                            .map_err(db_error("record step confinement"))?;
                        step_changed(changed, &id, &step_id)
                    })
                    .await
            }
            Event::StepLog {
                step_id,
                stream,
                line,
                truncated,
            } => {
                let (step_id, stream, line, truncated) =
                    (step_id.clone(), *stream, line.clone(), *truncated);
                self.store
                    .write_grouped("record step log", move |conn| {
                        insert_log(conn, &id, &step_id, stream, &line, truncated, now_millis())
                            .map_err(db_error("record step log"))
                    })
                    .await
            }
            Event::StepFinished { report } => {
                let report = report.clone();
                self.store
                    .write_grouped("record step end", move |conn| {
                        step_finished(conn, &id, &report)
                    })
                    .await
            }
            Event::ExecutionFinished {
                execution_id,
                status,
            } => {
                self.check_execution(execution_id)?;
                let status = *status;
                self.store
                    .write_grouped("record execution end", move |conn| {
                        execution_finished(conn, &id, status)
                    })
                    .await
            }
        }
    }

    /// Rejects an event that names another execution.
    fn check_execution(&self, execution_id: &str) -> Result<(), StoreError> {
        if execution_id == self.execution_id.as_str() {
            return Ok(());
        }
        Err(StoreError::invalid(
            "event",
            format!(
                "names execution `{execution_id}`, but this sink records `{}`",
                self.execution_id
            ),
        ))
    }
}

impl EventSink for StoreSink {
    fn record<'a>(&'a self, event: &'a Event) -> RecordFuture<'a> {
        Box::pin(async move {
            self.apply(event)
                .await
                .map_err(|err| SinkError(err.to_string()))
        })
    }
}

fn step_changed(
    changed: usize,
    execution_id: &ExecutionId,
    step_id: &str,
) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: format!("step `{step_id}` of execution `{execution_id}`"),
        });
    }
    Ok(())
}

/// Moves a queued execution to running. An execution that is running or
/// was already ended (a cancel request that came first) keeps its state.
fn execution_started(conn: &Connection, id: &ExecutionId) -> Result<(), StoreError> {
    let failed = db_error("record execution start");
    conn.prepare_cached(
        "UPDATE executions SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'queued'",
    )
    .and_then(|mut update| update.execute(params![id, now_millis()]))
    .map_err(&failed)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM executions WHERE id = ?1")
        .and_then(|mut query| query.exists([id]))
        .map_err(&failed)?;
    if !exists {
        return Err(StoreError::not_found("execution", id));
    }
    Ok(())
}

/// Stores every field of a step's final report. Profile and confinement
/// keep their earlier values when the report has none.
fn step_finished(
    conn: &Connection,
    id: &ExecutionId,
    report: &StepReport,
) -> Result<(), StoreError> {
    let outputs = to_json("outputs", &report.outputs)?;
    let confinement = report
        .confinement
        .as_ref()
        .map(|confinement| to_json("confinement", confinement))
        .transpose()?;
    let usage = report
        .usage
        .as_ref()
        .map(|usage| to_json("usage", usage))
        .transpose()?;
    let denial_hints = to_json("denial hints", &report.denial_hints)?;
    let duration_ms = i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX);

    let changed = conn
        .prepare_cached(
            "UPDATE steps SET status = ?3, exit_code = ?4, signal = ?5, outputs = ?6, error = ?7,
                 profile = coalesce(?8, profile), profile_hash = coalesce(?9, profile_hash),
                 confinement = coalesce(?10, confinement), usage = ?11, denial_hints = ?12,
                 log_truncated = ?13, finished_at = ?14, duration_ms = ?15
             WHERE execution_id = ?1 AND step_id = ?2",
        )
        .and_then(|mut update| {
            update.execute(params![
                id,
                report.id,
                report.status,
                report.exit_code,
                report.signal,
                outputs,
                report.error,
                report.profile,
                report.profile_hash,
                confinement,
                usage,
                denial_hints,
                report.log_truncated,
                now_millis(),
                duration_ms
            ])
        })
        .map_err(db_error("record step end"))?;
    step_changed(changed, id, &report.id)
}

/// Stores the final status of an execution.
fn execution_finished(
    conn: &Connection,
    id: &ExecutionId,
    status: ExecutionStatus,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached("UPDATE executions SET status = ?2, finished_at = ?3 WHERE id = ?1")
        .and_then(|mut update| update.execute(params![id, status, now_millis()]))
        .map_err(db_error("record execution end"))?;
    if changed == 0 {
        return Err(StoreError::not_found("execution", id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use vwmp_protocol::{Confinement, LogStream, ResourceUsage};

    use super::*;
    use crate::engine::StepStatus;
    use crate::store::test_support::{new_execution, open_store, seed_workflow};
    use crate::store::{ExecutionDetail, LogRecord, MAX_LOG_PAGE};

    fn confinement() -> Confinement {
        Confinement {
            landlock_abi: Some(6),
            seccomp_instructions: Some(120),
            namespaces: vec!["pid".to_string()],
            kill_scope: "pid-namespace".to_string(),
            uid: 65534,
            gid: 65534,
            no_new_privs: true,
            ..Default::default()
        }
    }

    fn log(step_id: &str, line: &str) -> Event {
        Event::StepLog {
            step_id: step_id.to_string(),
            stream: LogStream::Stdout,
            line: line.to_string(),
            truncated: false,
        }
    }

    async fn record_all(sink: &StoreSink, events: &[Event]) {
        for event in events {
            sink.record(event).await.unwrap();
        }
    }

    async fn started_sink() -> (tempfile::TempDir, Store, StoreSink) {
        let (dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let execution = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let sink = StoreSink::new(store.clone(), execution.id);
        (dir, store, sink)
    }

    async fn detail(store: &Store, sink: &StoreSink) -> ExecutionDetail {
        store
            .get_execution(sink.execution_id())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn records_realistic_sequence() {
        let (_dir, store, sink) = started_sink().await;
        let id = sink.execution_id().to_string();
        let fetch = StepReport {
            id: "fetch".to_string(),
            status: StepStatus::Succeeded,
            exit_code: Some(0),
            signal: None,
            outputs: serde_json::json!({ "files": 3 }),
            error: None,
            duration: Duration::from_millis(42),
            profile: Some("default".to_string()),
            profile_hash: Some("ab12".to_string()),
            confinement: Some(confinement()),
            usage: Some(ResourceUsage {
                max_rss_kib: 2048,
                user_cpu_micros: 100,
                system_cpu_micros: 50,
            }),
            denial_hints: vec![],
            log_truncated: false,
        };
        let build = StepReport::not_run(
            "build",
            StepStatus::Skipped,
            Some("dependency failed".to_string()),
        );
        record_all(
            &sink,
            &[
                Event::ExecutionStarted {
                    execution_id: id.clone(),
                },
                Event::StepStarted {
                    step_id: "fetch".to_string(),
                    profile: "default".to_string(),
                    profile_hash: "ab12".to_string(),
                },
                Event::StepConfined {
                    step_id: "fetch".to_string(),
                    confinement: confinement(),
                },
                log("fetch", "downloading"),
                log("fetch", "done"),
                Event::StepFinished { report: fetch },
                Event::StepFinished { report: build },
                Event::ExecutionFinished {
                    execution_id: id,
                    status: ExecutionStatus::Failed,
                },
            ],
        )
        .await;

        let detail = detail(&store, &sink).await;
        let execution = &detail.execution;
        assert_eq!(execution.status, ExecutionStatus::Failed);
        assert!(execution.started_at.is_some());
        assert!(execution.finished_at.is_some());

        let fetch = &detail.steps[0];
        assert_eq!(fetch.status, StepStatus::Succeeded);
        assert_eq!(fetch.exit_code, Some(0));
        assert_eq!(fetch.outputs, Some(serde_json::json!({ "files": 3 })));
        assert_eq!(fetch.profile.as_deref(), Some("default"));
        assert_eq!(fetch.profile_hash.as_deref(), Some("ab12"));
        assert_eq!(fetch.confinement, Some(confinement()));
        assert_eq!(fetch.usage.map(|u| u.max_rss_kib), Some(2048));
        assert_eq!(fetch.duration_ms, Some(42));
        assert!(fetch.started_at.is_some());
        assert!(fetch.finished_at.is_some());

        let build = &detail.steps[1];
        assert_eq!(build.status, StepStatus::Skipped);
        assert_eq!(build.error.as_deref(), Some("dependency failed"));
        assert_eq!(build.started_at, None);

        let lines: Vec<String> = store
            .logs(sink.execution_id(), None, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|record| record.line)
            .collect();
        assert_eq!(lines, ["downloading", "done"]);
    }

    #[tokio::test]
    async fn report_keeps_earlier_confinement() {
        let (_dir, store, sink) = started_sink().await;
        record_all(
            &sink,
            &[
                Event::StepConfined {
                    step_id: "fetch".to_string(),
                    confinement: confinement(),
                },
                Event::StepFinished {
                    report: StepReport::not_run(
                        "fetch",
                        StepStatus::Failed,
                        Some("killed".to_string()),
                    ),
                },
            ],
        )
        .await;
        let detail = detail(&store, &sink).await;
        assert_eq!(detail.steps[0].confinement, Some(confinement()));
    }

    #[tokio::test]
    async fn unknown_step_fails() {
        let (_dir, _store, sink) = started_sink().await;
        let result = sink.record(&log("nope", "x")).await;
        assert!(result.is_err());
        let result = sink
            .record(&Event::StepStarted {
                step_id: "nope".to_string(),
                profile: "default".to_string(),
                profile_hash: "ab".to_string(),
            })
            .await;
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn other_execution_rejected() {
        let (_dir, _store, sink) = started_sink().await;
        let result = sink
            .record(&Event::ExecutionStarted {
                execution_id: ExecutionId::generate().to_string(),
            })
            .await;
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn start_keeps_cancelled_state() {
        let (_dir, store, sink) = started_sink().await;
        store
            .set_execution_status(sink.execution_id(), ExecutionStatus::Cancelled, None)
            .await
            .unwrap();
        sink.record(&Event::ExecutionStarted {
            execution_id: sink.execution_id().to_string(),
        })
        .await
        .unwrap();
        let detail = detail(&store, &sink).await;
        assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
    }

    #[tokio::test]
    async fn logs_paginate_by_id() {
        let (_dir, store, sink) = started_sink().await;
        for index in 0..5 {
            sink.record(&log("fetch", &format!("line {index}")))
                .await
                .unwrap();
        }
        let first = store.logs(sink.execution_id(), None, 2).await.unwrap();
        assert_eq!(first.len(), 2);
        let rest = store
            .logs(sink.execution_id(), Some(first[1].id), 10)
            .await
            .unwrap();
        let lines: Vec<_> = rest.iter().map(|r| r.line.as_str()).collect();
        assert_eq!(lines, ["line 2", "line 3", "line 4"]);
    }

    #[tokio::test]
    async fn log_limit_capped() {
        let (_dir, store, sink) = started_sink().await;
        // The cap is checked on a count just above it, written in one go.
        let id = sink.execution_id().clone();
        store
            .write("seed logs", move |conn| {
                let tx = conn.transaction().map_err(db_error("seed logs"))?;
                for index in 0..=MAX_LOG_PAGE {
                    insert_log(
                        &tx,
                        &id,
                        "fetch",
                        LogStream::Stderr,
                        &index.to_string(),
                        false,
                        0,
                    )
                    .map_err(db_error("seed logs"))?;
                }
                tx.commit().map_err(db_error("seed logs"))
            })
            .await
            .unwrap();
        let page = store
            .logs(sink.execution_id(), None, u32::MAX)
            .await
            .unwrap();
        assert_eq!(page.len(), MAX_LOG_PAGE as usize);
    }

    /// Eight tasks append 200 lines each to their own step at the same
    /// time; every line is stored once and each step's lines keep their order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_log_writes_consistent() {
        const TASKS: usize = 8;
        const LINES: usize = 200;
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let mut execution = new_execution(&user, &workflow);
        execution.step_ids = (0..TASKS).map(|task| format!("step{task}")).collect();
        let execution = store.create_execution(execution).await.unwrap();
        let sink = Arc::new(StoreSink::new(store.clone(), execution.id.clone()));

        let started = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let sink = Arc::clone(&sink);
            tasks.spawn(async move {
                for line in 0..LINES {
                    sink.record(&log(&format!("step{task}"), &line.to_string()))
                        .await?;
                }
                Ok::<_, SinkError>(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap().unwrap();
        }
        eprintln!("{} log inserts took {:?}", TASKS * LINES, started.elapsed());

        let mut records: Vec<LogRecord> = Vec::new();
        loop {
            let after = records.last().map(|record| record.id);
            let page = store
                .logs(&execution.id, after, MAX_LOG_PAGE)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            records.extend(page);
        }
        assert_eq!(records.len(), TASKS * LINES);
        for task in 0..TASKS {
            let step_id = format!("step{task}");
            let lines: Vec<usize> = records
                .iter()
                .filter(|record| record.step_id == step_id)
                .filter_map(|record| record.line.parse().ok())
                .collect();
            assert_eq!(lines, (0..LINES).collect::<Vec<_>>(), "{step_id}");
        }
    }
}
