//! Writing of the Prometheus text exposition format, version 0.0.4: `# HELP`
//! and `# TYPE` lines, then one `name{labels} value` line per series.

use std::fmt::Write as _;

/// `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Kind of a metric family, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Accumulates the exposition text.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    text: String,
}

impl Writer {
    /// Starts a metric family with its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, metric_type: MetricType) {
        // `fmt::Write` for `String` never returns an error, so the results are
        // ignored.
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {}", metric_type.as_str());
    }

    /// Writes one sample line; `labels` are name and value pairs.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl SampleValue) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (label, value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label_value(value));
            }
            self.text.push('}');
        }
        self.text.push(' ');
        value.write_to(&mut self.text);
        self.text.push('\n');
    }

    /// Returns the accumulated text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// A number that a sample line can carry.
pub(crate) trait SampleValue {
    fn write_to(&self, text: &mut String);
}

impl SampleValue for u64 {
    fn write_to(&self, text: &mut String) {
        let _ = write!(text, "{self}");
    }
}

impl SampleValue for i64 {
    fn write_to(&self, text: &mut String) {
        let _ = write!(text, "{self}");
    }
}

impl SampleValue for f64 {
    fn write_to(&self, text: &mut String) {
        text.push_str(&format_float(*self));
    }
}

/// Formats a float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or the
/// shortest decimal that round-trips.
pub(crate) fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Escapes help text: backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escaped() {
        let mut writer = Writer::default();
        writer.sample("m", &[("route", "a\"b\\c\nd")], 1u64);
        assert_eq!(writer.finish(), "m{route=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn family_header_lines() {
        let mut writer = Writer::default();
        writer.family("m_total", "Things.\nMore", MetricType::Counter);
        assert_eq!(
            writer.finish(),
            "# HELP m_total Things.\\nMore\n# TYPE m_total counter\n"
        );
    }

    #[test]
    fn floats_formatted() {
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(0.005), "0.005");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(1e-9), "0.000000001");
    }
}
