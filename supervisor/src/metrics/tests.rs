//! Tests that render the registry and parse the text back.

use std::collections::{BTreeMap, HashMap};

use super::*;

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: family types and samples in order.
#[derive(Debug, Default)]
struct Parsed {
    types: HashMap<String, String>,
    helps: HashMap<String, String>,
    samples: Vec<Sample>,
}

impl Parsed {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }
}

/// Parses the text format strictly enough to catch malformed output: every
/// sample's family must have been declared by `# TYPE` before it.
fn parse(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').ok_or(format!("bad HELP: {line}"))?;
            parsed.helps.insert(name.to_string(), help.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line}"))?;
            if !parsed.helps.contains_key(name) {
                return Err(format!("TYPE before HELP for {name}"));
            }
            parsed.types.insert(name.to_string(), kind.to_string());
            continue;
        }
        let sample = parse_sample(line)?;
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| sample.name.strip_suffix(suffix))
            .filter(|base| parsed.types.get(*base).map(String::as_str) == Some("histogram"))
            .unwrap_or(&sample.name)
            .to_string();
        if !parsed.types.contains_key(&family) {
            return Err(format!("sample before TYPE: {line}"));
        }
        parsed.samples.push(sample);
    }
    Ok(parsed)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().map_err(|_| format!("bad value: {line}"))?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest
                .strip_suffix('}')
                .ok_or(format!("unclosed labels: {line}"))?;
            (name, parse_labels(body)?)
        }
    };
    let valid_name = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if name.is_empty() || !valid_name {
        return Err(format!("bad metric name: {line}"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_labels(body: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return Err(format!("label {name} value not quoted"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(escaped) => value.push(escaped),
                    None => return Err("dangling escape".to_string()),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => return Err(format!("label {name} value not closed")),
            }
        }
        labels.insert(name, value);
        match chars.next() {
            Some(',') | None => {}
            Some(other) => return Err(format!("unexpected {other:?} after label")),
        }
    }
    Ok(labels)
}

fn rendered(metrics: &Metrics) -> Parsed {
    let text = metrics.render();
    parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

#[test]
fn empty_registry_parses() {
    let parsed = rendered(&Metrics::new());
    assert_eq!(parsed.value("vwmp_steps_started_total", &[]), Some(0.0));
    assert_eq!(parsed.value("vwmp_active_workers", &[]), Some(0.0));
    assert_eq!(
        parsed.value("vwmp_step_duration_seconds_count", &[]),
        Some(0.0)
    );
}

#[test]
fn family_types_declared() {
    let parsed = rendered(&Metrics::new());
    let expected = [
        ("vwmp_steps_started_total", "counter"),
        ("vwmp_steps_finished_total", "counter"),
        ("vwmp_sandbox_denials_total", "counter"),
        ("vwmp_http_requests_total", "counter"),
        ("vwmp_active_workers", "gauge"),
        ("vwmp_step_duration_seconds", "histogram"),
    ];
    for (name, kind) in expected {
        assert_eq!(
            parsed.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
        assert!(parsed.helps.contains_key(name), "{name} has no HELP");
    }
}

#[test]
fn step_counters_by_status() {
    let metrics = Metrics::new();
    metrics.step_started();
    metrics.step_started();
    metrics.step_finished(StepStatus::Succeeded, Duration::from_millis(20));
    metrics.step_finished(StepStatus::TimedOut, Duration::from_secs(30));
    metrics.step_finished(StepStatus::Running, Duration::from_secs(1));
    let parsed = rendered(&metrics);
    let finished = |status| parsed.value("vwmp_steps_finished_total", &[("status", status)]);
    assert_eq!(parsed.value("vwmp_steps_started_total", &[]), Some(2.0));
    assert_eq!(finished("succeeded"), Some(1.0));
    assert_eq!(finished("timed_out"), Some(1.0));
    assert_eq!(finished("failed"), Some(0.0));
    assert_eq!(finished("running"), None);
}

#[test]
fn skipped_step_not_timed() {
    let metrics = Metrics::new();
    metrics.step_finished(StepStatus::Skipped, Duration::ZERO);
    let parsed = rendered(&metrics);
    let skipped = parsed.value("vwmp_steps_finished_total", &[("status", "skipped")]);
    assert_eq!(skipped, Some(1.0));
    assert_eq!(
        parsed.value("vwmp_step_duration_seconds_count", &[]),
        Some(0.0)
    );
}

#[test]
fn histogram_cumulative() {
    let metrics = Metrics::new();
    for millis in [3, 40, 40, 700, 20_000] {
        metrics.step_finished(StepStatus::Succeeded, Duration::from_millis(millis));
    }
    metrics.step_finished(StepStatus::Failed, Duration::from_secs(5000));
    let parsed = rendered(&metrics);
    let bucket = |le| parsed.value("vwmp_step_duration_seconds_bucket", &[("le", le)]);
    assert_eq!(bucket("0.005"), Some(1.0));
    assert_eq!(bucket("0.05"), Some(3.0));
    assert_eq!(bucket("1"), Some(4.0));
    assert_eq!(bucket("30"), Some(5.0));
    assert_eq!(bucket("3600"), Some(5.0));
    assert_eq!(bucket("+Inf"), Some(6.0));
    assert_eq!(
        parsed.value("vwmp_step_duration_seconds_count", &[]),
        Some(6.0)
    );
    let sum = parsed.value("vwmp_step_duration_seconds_sum", &[]).unwrap();
    assert!((sum - 5020.783).abs() < 1e-9, "{sum}");
}

#[test]
fn histogram_buckets_monotonic() {
    let metrics = Metrics::new();
    for millis in [1, 10, 100, 1000, 10_000] {
        metrics.step_finished(StepStatus::Succeeded, Duration::from_millis(millis));
    }
    let parsed = rendered(&metrics);
    let buckets: Vec<f64> = parsed
        .samples
        .iter()
        .filter(|sample| sample.name == "vwmp_step_duration_seconds_bucket")
        .map(|sample| sample.value)
        .collect();
    assert_eq!(buckets.len(), STEP_DURATION_BUCKETS.len() + 1);
    for pair in buckets.windows(2) {
        assert!(pair[0] <= pair[1], "{buckets:?}");
    }
}

#[test]
fn denials_by_kind() {
    let metrics = Metrics::new();
    metrics.sandbox_denied(SandboxDenial::Seccomp);
    metrics.sandbox_denied(SandboxDenial::Seccomp);
    metrics.sandbox_denied(SandboxDenial::SetupFailed);
    let parsed = rendered(&metrics);
    let denials = |kind| parsed.value("vwmp_sandbox_denials_total", &[("kind", kind)]);
    assert_eq!(denials("seccomp"), Some(2.0));
    assert_eq!(denials("setup_failed"), Some(1.0));
    assert_eq!(denials("landlock"), Some(0.0));
    assert_eq!(denials("resource_limit"), Some(0.0));
}

#[test]
fn http_requests_by_route_status() {
    let metrics = Metrics::new();
    metrics.http_request("/api/v1/workflows/{id}", 200);
    metrics.http_request("/api/v1/workflows/{id}", 200);
    metrics.http_request("/api/v1/workflows/{id}", 404);
    metrics.http_request("/api/v1/auth/login", 401);
    let parsed = rendered(&metrics);
    let requests = |route, status| {
        parsed.value(
            "vwmp_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/api/v1/workflows/{id}", "200"), Some(2.0));
    assert_eq!(requests("/api/v1/workflows/{id}", "404"), Some(1.0));
    assert_eq!(requests("/api/v1/auth/login", "401"), Some(1.0));
    assert_eq!(requests("other", "other"), None);
}

#[test]
fn http_series_capped() {
    let metrics = Metrics::new();
    for status in 0..MAX_HTTP_SERIES as u16 + 3 {
        metrics.http_request("/healthz", status);
    }
    metrics.http_request("/healthz", 0);
    let parsed = rendered(&metrics);
    let series = parsed
        .samples
        .iter()
        .filter(|sample| sample.name == "vwmp_http_requests_total")
        .count();
    assert_eq!(series, MAX_HTTP_SERIES + 1);
    let other = parsed.value(
        "vwmp_http_requests_total",
        &[("route", "other"), ("status", "other")],
    );
    assert_eq!(other, Some(3.0));
    let first = parsed.value(
        "vwmp_http_requests_total",
        &[("route", "/healthz"), ("status", "0")],
    );
    assert_eq!(first, Some(2.0));
}

#[test]
fn route_label_escaped() {
    let metrics = Metrics::new();
    metrics.http_request("/odd\"route\\", 200);
    let parsed = rendered(&metrics);
    let value = parsed.value(
        "vwmp_http_requests_total",
        &[("route", "/odd\"route\\"), ("status", "200")],
    );
    assert_eq!(value, Some(1.0));
}

#[test]
fn worker_guard_decrements() {
    let metrics = Arc::new(Metrics::new());
    let first = metrics.track_worker();
    let second = metrics.track_worker();
    assert_eq!(
        rendered(&metrics).value("vwmp_active_workers", &[]),
        Some(2.0)
    );
    drop(first);
    assert_eq!(
        rendered(&metrics).value("vwmp_active_workers", &[]),
        Some(1.0)
    );
    drop(second);
    assert_eq!(
        rendered(&metrics).value("vwmp_active_workers", &[]),
        Some(0.0)
    );
}

#[test]
fn counters_concurrent() {
    let metrics = Arc::new(Metrics::new());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let metrics = Arc::clone(&metrics);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    metrics.step_started();
                    metrics.http_request("/api/v1/executions", 200);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let parsed = rendered(&metrics);
    assert_eq!(parsed.value("vwmp_steps_started_total", &[]), Some(4000.0));
    let requests = parsed.value(
        "vwmp_http_requests_total",
        &[("route", "/api/v1/executions"), ("status", "200")],
    );
    assert_eq!(requests, Some(4000.0));
}

#[test]
fn parser_rejects_malformed() {
    assert!(parse("x 1").is_err());
    assert!(parse("# HELP x h\n# TYPE x counter\nx{a=\"1} 2").is_err());
    assert!(parse("# HELP x h\n# TYPE x counter\nx one").is_err());
}
