//! Masks secret parameter values in text and JSON before anything stores or
//! prints them, including their base64 forms.

use base64::Engine as _;

/// Replacement for a masked value.
pub const MASK: &str = "********";

/// Shortest secret that is masked; shorter values would mask ordinary text
/// everywhere, so such parameters should not be marked secret.
pub const MIN_SECRET_LENGTH: usize = 3;

/// Masks a fixed set of secret values.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Base64 forms, matched exactly.
    needles: Vec<String>,
    /// Secrets themselves, lowercased and matched without regard to ASCII
    /// case, so a plugin that upper-cases a secret does not reveal it.
    plain: Vec<String>,
}

impl Redactor {
    /// Creates a redactor for `secrets`, adding their standard and URL-safe
    /// base64 encodings, with and without padding.
    pub fn new(secrets: &[String]) -> Self {
        let mut needles = Vec::new();
        let mut plain = Vec::new();
        for secret in secrets {
            if secret.len() < MIN_SECRET_LENGTH {
                continue;
            }
            plain.push(secret.to_ascii_lowercase());
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                needles.push(engine.encode(secret.as_bytes()));
            }
        }
        // Longest first, so a secret inside a longer encoding is not masked
        // piecewise.
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        needles.dedup();
        plain.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        plain.dedup();
        Self { needles, plain }
    }

    /// Returns true when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty() && self.plain.is_empty()
    }

    /// Masks every secret in `text`.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.plain {
            out = replace_ignoring_ascii_case(&out, needle);
        }
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }

    /// Masks every secret in the strings and keys of a JSON value.
    pub fn json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, v)| (self.text(key), self.json(v)))
                    .collect(),
            ),
            other => {
                let text = other.to_string();
                if self.text(&text) != text {
                    Value::String(MASK.to_string())
                } else {
                    other.clone()
                }
            }
        }
    }
}

/// Replaces every match of `needle` (lowercase) in `text`, comparing ASCII
/// letters without case. ASCII lowercasing keeps byte offsets, so the offsets
/// found in the lowered copy are valid in `text`.
fn replace_ignoring_ascii_case(text: &str, needle: &str) -> String {
    let lowered = text.to_ascii_lowercase();
    if !lowered.contains(needle) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in lowered.match_indices(needle) {
        if start < last {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str(MASK);
        last = start + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_base64() {
        let redactor = Redactor::new(&["hunter2secret".to_string()]);
        let encoded = base64::engine::general_purpose::STANDARD.encode("hunter2secret");
        let line = format!("token hunter2secret and {encoded}");
        let masked = redactor.text(&line);
        assert!(!masked.contains("hunter2secret"));
        assert!(!masked.contains(&encoded));
        assert_eq!(masked.matches(MASK).count(), 2);
    }

    #[test]
    fn masks_json_strings_and_numbers() {
        let redactor = Redactor::new(&["12345".to_string()]);
        let value = serde_json::json!({"a": "x12345y", "b": 12345, "c": [1, "12345"]});
        let masked = redactor.json(&value);
        assert!(!masked.to_string().contains("12345"));
    }

    #[test]
    fn masks_changed_case() {
        let redactor = Redactor::new(&["Secret-Value".to_string()]);
        let masked = redactor.text("SECRET-VALUE and secret-value");
        assert_eq!(masked, format!("{MASK} and {MASK}"));
    }

    #[test]
    fn short_secrets_ignored() {
        let redactor = Redactor::new(&["ab".to_string()]);
        assert!(redactor.is_empty());
    }
}
