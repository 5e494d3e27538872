//! The demo's closing table: each step's state, duration, profile and the
//! confinement that held.

use vwmp_protocol::Confinement;

use crate::client::ExecutionDetail;

/// Returns `text` with control characters escaped, so that a plugin's log
/// line cannot move the cursor or change the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Formats a step's confinement as one line: the worker's own summary when
/// the value has the protocol's shape, else the compact JSON.
pub fn confinement_text(value: Option<&serde_json::Value>) -> String {
    let Some(value) = value else {
        return "not started".to_string();
    };
    match serde_json::from_value::<Confinement>(value.clone()) {
        Ok(confinement) => confinement.summary(),
        Err(_) => printable(&value.to_string()),
    }
}

/// Formats the table: a header and one row per step, in the order of
/// `step_ids` (the workflow file's order), then steps the file did not name.
pub fn table(detail: &ExecutionDetail, step_ids: &[String]) -> Vec<String> {
    let mut steps: Vec<_> = step_ids
        .iter()
        .filter_map(|id| detail.steps.iter().find(|step| &step.id == id))
        .collect();
    steps.extend(
        detail
            .steps
            .iter()
            .filter(|step| !step_ids.contains(&step.id)),
    );

    let id_width = steps
        .iter()
        .map(|step| step.id.len())
        .chain(["step".len()])
        .max()
        .unwrap_or(4);
    let profile_width = steps
        .iter()
        .map(|step| step.profile.as_deref().unwrap_or("-").len())
        .chain(["profile".len()])
        .max()
        .unwrap_or(7);

    let mut lines = vec![format!(
        "{:<id_width$}  {:<11} {:>9}  {:<profile_width$}  confinement",
        "step", "state", "duration", "profile"
    )];
    for step in steps {
        let duration = step
            .duration_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".to_string());
        lines.push(format!(
            "{:<id_width$}  {:<11} {:>9}  {:<profile_width$}  {}",
            step.id,
            step.status,
            duration,
            step.profile.as_deref().unwrap_or("-"),
            confinement_text(step.confinement.as_ref())
        ));
    }
    lines
}

/// Prints the table after a blank line.
pub fn print(detail: &ExecutionDetail, step_ids: &[String]) {
    println!();
    println!("summary of execution {} ({}):", detail.id, detail.status);
    for line in table(detail, step_ids) {
        println!("  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail() -> ExecutionDetail {
        let confinement = serde_json::to_value(Confinement {
            landlock_abi: Some(6),
            landlock_network: true,
            landlock_scoped: true,
            seccomp_instructions: Some(120),
            namespaces: vec!["pid".into(), "user".into()],
            cgroup: None,
            kill_scope: "pid-namespace".into(),
            uid: 65534,
            gid: 65534,
            no_new_privs: true,
            capabilities_dropped: true,
            rlimits: true,
        })
        .unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "e1", "status": "failed", "error": null,
            "steps": [
                {"id": "later", "status": "skipped"},
                {"id": "first", "status": "succeeded", "profile": "strict",
                 "duration_ms": 12, "confinement": confinement},
                {"id": "extra", "status": "failed", "confinement": {"unknown": true}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn table_rows_follow_file_order() {
        let lines = table(&detail(), &["first".to_string(), "later".to_string()]);
        assert!(lines[0].starts_with("step "), "{lines:?}");
        assert!(lines[1].starts_with("first "), "{lines:?}");
        assert!(lines[2].starts_with("later "), "{lines:?}");
        assert!(lines[3].starts_with("extra "), "{lines:?}");
    }

    #[test]
    fn table_shows_confinement_summary() {
        let lines = table(&detail(), &["first".to_string()]);
        let row = &lines[1];
        assert!(row.contains("succeeded"), "{row}");
        assert!(row.contains("12 ms"), "{row}");
        assert!(row.contains("strict"), "{row}");
        assert!(
            row.contains("landlock v6+net+scope, seccomp 120 insns"),
            "{row}"
        );
        assert!(row.contains("kill by pid-namespace, uid 65534"), "{row}");
    }

    #[test]
    fn table_marks_steps_never_started() {
        let lines = table(&detail(), &["later".to_string()]);
        assert!(lines[1].ends_with("not started"), "{lines:?}");
    }

    #[test]
    fn unknown_confinement_shape_shown_as_json() {
        let lines = table(&detail(), &[]);
        let extra = lines.iter().find(|line| line.starts_with("extra")).unwrap();
        assert!(extra.ends_with(r#"{"unknown":true}"#), "{extra}");
    }

    #[test]
    fn control_characters_escaped() {
        assert_eq!(printable("a\u{1b}[31mb\tc"), "a\\u{1b}[31mb\tc");
    }
}
