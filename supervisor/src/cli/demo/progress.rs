//! Follows an execution by polling `GET /executions/{id}/logs` (with
//! `after`) and `GET /executions/{id}`, printing log lines and step state
//! changes as they appear.
//!
//! NOTE: polling adds up to [`POLL_INTERVAL`] of delay to each line; the
//! WebSocket stream (`GET /executions/{id}/stream`) will remove it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warp::http::Method;

use super::summary::{confinement_text, printable};
use crate::client::{ApiClient, ExecutionDetail, LogLine, LogPage, StepDetail};

/// Time between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Log lines requested per page; the API accepts 1 to 200.
const LOG_PAGE_LIMIT: usize = 200;

/// Pages read in one poll at most, so a step that logs faster than the demo
/// prints cannot keep the state changes from being shown.
const MAX_PAGES_PER_POLL: usize = 20;

/// Time that a cancelled execution gets to finish before the demo gives up.
const CANCEL_GRACE: Duration = Duration::from_secs(60);

/// The parts of one step that the demo already printed.
#[derive(Default)]
struct Seen {
    started: bool,
    confined: bool,
    finished: bool,
}

/// A line to print, with the time its event happened when the server
/// reported one.
struct Pending {
    at: Option<OffsetDateTime>,
    step_id: String,
    text: String,
}

/// Collects step changes and log lines of one poll and prints them in the
/// order they happened, with step ids right-aligned.
struct Printer {
    width: usize,
    seen: HashMap<String, Seen>,
}

impl Printer {
    /// Adds a line for each step that started or reported its confinement
    /// since the last call.
    fn step_starts(&mut self, detail: &ExecutionDetail, out: &mut Vec<Pending>) {
        for step in &detail.steps {
            let seen = self.seen.entry(step.id.clone()).or_default();
            let at = parse_time(step.started_at.as_deref());
            let started = step.status == "running" || step.started_at.is_some();
            if started && !seen.started {
                seen.started = true;
                let profile = step.profile.as_deref().unwrap_or("-");
                out.push(Pending {
                    at,
                    step_id: step.id.clone(),
                    text: format!("started under profile {profile}"),
                });
            }
            if !seen.confined && step.confinement.is_some() {
                seen.confined = true;
                let text = confinement_text(step.confinement.as_ref());
                out.push(Pending {
                    at,
                    step_id: step.id.clone(),
                    text: format!("confined: {text}"),
                });
            }
        }
    }

    /// Adds a line for each step that finished since the last call.
    fn step_ends(&mut self, detail: &ExecutionDetail, out: &mut Vec<Pending>) {
        for step in &detail.steps {
            let seen = self.seen.entry(step.id.clone()).or_default();
            if !seen.finished && is_step_finished(&step.status) {
                seen.finished = true;
                out.push(Pending {
                    at: parse_time(step.finished_at.as_deref()),
                    step_id: step.id.clone(),
                    text: finished_text(step),
                });
            }
        }
    }

    /// Adds a log line; lines not on stderr carry their stream's name.
    fn log(&self, line: &LogLine, out: &mut Vec<Pending>) {
        let text = printable(&line.line);
        let text = match line.stream.as_deref() {
            Some("stderr") | None => text,
            Some(stream) => format!("[{stream}] {text}"),
        };
        out.push(Pending {
            at: parse_time(line.at.as_deref()),
            step_id: line.step_id.clone().unwrap_or_else(|| "-".to_string()),
            text,
        });
    }

    /// Prints the collected lines sorted by time. The sort is stable, so
    /// lines of equal time keep the order they were added in (start,
    /// confinement, logs, end), and lines without a time come last.
    fn flush(&self, mut lines: Vec<Pending>) {
        lines.sort_by_key(|line| (line.at.is_none(), line.at));
        let width = self.width;
        for line in lines {
            println!("{:>width$} | {}", line.step_id, line.text);
        }
    }
}

/// Parses an RFC 3339 time; `None` when missing or malformed, which only
/// affects the order of printed lines.
fn parse_time(text: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text?, &Rfc3339).ok()
}

/// Returns true for step states that cannot change any more.
fn is_step_finished(status: &str) -> bool {
    !matches!(status, "pending" | "queued" | "running")
}

/// Formats a finished step as "succeeded in 12 ms, exit code 0".
fn finished_text(step: &StepDetail) -> String {
    let mut text = step.status.clone();
    if let Some(ms) = step.duration_ms {
        text.push_str(&format!(" in {ms} ms"));
    }
    if let Some(code) = step.exit_code {
        text.push_str(&format!(", exit code {code}"));
    }
    if let Some(signal) = step.signal {
        text.push_str(&format!(", killed by signal {signal}"));
    }
    if let Some(error) = &step.error {
        if step.status != "succeeded" {
            text.push_str(&format!(": {}", printable(error)));
        }
    }
    text
}

/// Follows execution `id` until it finishes and returns its final state.
/// Ctrl-C, or `timeout` passing, cancels the execution through the API and
/// keeps following it until it stops.
pub async fn follow(
    client: &ApiClient,
    id: &str,
    step_ids: &[String],
    timeout: Duration,
) -> Result<ExecutionDetail, String> {
    let mut printer = Printer {
        width: step_ids.iter().map(String::len).max().unwrap_or(0).max(4),
        seen: HashMap::new(),
    };
    let deadline = Instant::now() + timeout;
    let mut cancelled_at: Option<Instant> = None;
    let mut after: Option<u64> = None;

    loop {
        // The state is read before the logs: a step that the state shows
        // finished wrote all its lines before, so the read below gets them
        // and they appear above the step's closing line.
        let detail: ExecutionDetail = client
            .get_json(&format!("/executions/{id}"))
            .await
            .map_err(|error| format!("failed to read execution {id}: {error}"))?;
        let mut lines = Vec::new();
        printer.step_starts(&detail, &mut lines);
        after = read_new_logs(client, id, after, &printer, &mut lines).await?;
        printer.step_ends(&detail, &mut lines);
        printer.flush(lines);
        if detail.is_finished() {
            return Ok(detail);
        }

        if let Some(at) = cancelled_at {
            if at.elapsed() > CANCEL_GRACE {
                return Err(format!(
                    "execution {id} is still {} {} s after it was cancelled; check the server \
                     log",
                    detail.status,
                    CANCEL_GRACE.as_secs()
                ));
            }
        } else if Instant::now() >= deadline {
            println!(
                "vwmp demo: execution {id} is still running after {} s (--timeout); cancelling it",
                timeout.as_secs()
            );
            cancel(client, id).await?;
            cancelled_at = Some(Instant::now());
        }

        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            result = tokio::signal::ctrl_c(), if cancelled_at.is_none() => {
                if result.is_ok() {
                    println!("vwmp demo: cancelling execution {id}");
                    cancel(client, id).await?;
                    cancelled_at = Some(Instant::now());
                }
            }
        }
    }
}

/// Adds the log lines after sequence `after` to `out` and returns the
/// sequence to continue from.
async fn read_new_logs(
    client: &ApiClient,
    id: &str,
    mut after: Option<u64>,
    printer: &Printer,
    out: &mut Vec<Pending>,
) -> Result<Option<u64>, String> {
    for _ in 0..MAX_PAGES_PER_POLL {
        let path = match after {
            Some(seq) => format!("/executions/{id}/logs?after={seq}&limit={LOG_PAGE_LIMIT}"),
            None => format!("/executions/{id}/logs?limit={LOG_PAGE_LIMIT}"),
        };
        let page: LogPage = client
            .get_json(&path)
            .await
            .map_err(|error| format!("failed to read the logs of execution {id}: {error}"))?;
        for line in &page.items {
            printer.log(line, out);
        }
        let last = page.items.last().map(|line| line.seq);
        let next = page.next_after.or(last).or(after);
        // An empty page, or one that does not move forward, ends this poll.
        if page.items.is_empty() || next == after || page.next_after.is_none() {
            return Ok(next);
        }
        after = next;
    }
    Ok(after)
}

/// Cancels the execution through the API. A 409 means it finished
/// meanwhile, which the next poll shows.
async fn cancel(client: &ApiClient, id: &str) -> Result<(), String> {
    let path = format!("/executions/{id}/cancel");
    match client.send(Method::POST, &path, None).await {
        Ok(_) => Ok(()),
        Err(error) if error.status() == Some(warp::http::StatusCode::CONFLICT) => Ok(()),
        Err(error) => Err(format!("failed to cancel execution {id}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(status: &str) -> StepDetail {
        serde_json::from_value(serde_json::json!({
            "id": "hash", "status": status, "exit_code": 3, "duration_ms": 41,
            "error": "plugin exited with code 3\u{1b}[2J"
        }))
        .unwrap()
    }

    #[test]
    fn finished_step_text() {
        assert_eq!(
            finished_text(&step("failed")),
            "failed in 41 ms, exit code 3: plugin exited with code 3\\u{1b}[2J"
        );
    }

    #[test]
    fn succeeded_step_hides_error() {
        assert_eq!(
            finished_text(&step("succeeded")),
            "succeeded in 41 ms, exit code 3"
        );
    }

    #[test]
    fn running_states_not_finished() {
        for status in ["pending", "queued", "running"] {
            assert!(!is_step_finished(status), "{status}");
        }
        for status in ["succeeded", "failed", "skipped", "cancelled", "timed_out"] {
            assert!(is_step_finished(status), "{status}");
        }
    }
}
