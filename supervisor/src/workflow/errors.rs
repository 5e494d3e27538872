//! Field errors collected by validation, each tied to a path in the document.

use std::fmt;

/// Problem with one field, such as `steps[2].depends_on[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field in the document: `name`, `parameters[0].max_length`,
    /// `steps[1].inputs.text`.
    pub path: String,
    /// Description of the problem and of its fix, in lowercase.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.path, self.message)
    }
}

/// Every problem validation found, in document order. Displays as one line
/// per error, `path: message`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records a problem at `path`.
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Returns `Ok(())` when nothing was recorded, else the errors.
    pub(crate) fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str("\n")?;
            }
            write!(formatter, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Maximum number of characters of user text quoted in a message.
const MAX_QUOTED_CHARS: usize = 64;

/// Quotes user text for a message: shortened, with control characters
/// escaped so the message stays on one line.
pub(crate) fn quoted(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        return format!("{text:?}");
    }
    let shortened: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    format!("{shortened:?}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_one_line_per_error() {
        let mut errors = ValidationErrors::default();
        errors.push("name", "must not be empty");
        errors.push("steps[0].id", "invalid id");
        assert_eq!(
            errors.to_string(),
            "name: must not be empty\nsteps[0].id: invalid id"
        );
    }

    #[test]
    fn quoted_escapes_newline() {
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn quoted_shortens_long_text() {
        let text = quoted(&"x".repeat(100));
        assert!(text.ends_with("\"..."), "{text}");
        assert_eq!(text.len(), MAX_QUOTED_CHARS + 5);
    }

    #[test]
    fn empty_is_ok() {
        assert_eq!(ValidationErrors::default().into_result(), Ok(()));
    }
}
