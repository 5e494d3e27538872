//! Compilation of a schema's `pattern` into an anchored, size-limited regex.

use regex::{Regex, RegexBuilder};

use super::{MAX_PATTERN_BYTES, PATTERN_COMPILED_SIZE_LIMIT};

/// Reason a pattern could not be compiled, as one line of text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PatternProblem {
    /// The source is longer than [`MAX_PATTERN_BYTES`].
    TooLong { bytes: usize },
    /// The compiled program exceeds [`PATTERN_COMPILED_SIZE_LIMIT`].
    TooBig,
    /// The source is not valid `regex` syntax.
    Syntax { reason: String },
}

/// Compiles `source` so that it matches only the whole value.
///
/// The source is first compiled on its own: a source that compiles has
/// balanced groups, so wrapping it in `\A(?:...)\z` cannot change its meaning
/// (for example `a)|(b` cannot escape the wrapper).
pub(crate) fn compile_anchored(source: &str) -> Result<Regex, PatternProblem> {
    if source.len() > MAX_PATTERN_BYTES {
        return Err(PatternProblem::TooLong {
            bytes: source.len(),
        });
    }

    build(source)?;
    build(&format!(r"\A(?:{source})\z"))
}

fn build(source: &str) -> Result<Regex, PatternProblem> {
    RegexBuilder::new(source)
        .size_limit(PATTERN_COMPILED_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => PatternProblem::TooBig,
            other => PatternProblem::Syntax {
                reason: one_line_reason(&other.to_string()),
            },
        })
}

/// Reduces the multi-line syntax error of the `regex` crate (pattern, caret
/// line, `error: ...`) to its `error:` line, so messages stay on one line.
fn one_line_reason(text: &str) -> String {
    let reason = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "));
    match reason {
        Some(reason) => reason.to_string(),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_matches_whole_value() {
        let regex = compile_anchored("[a-z]+").unwrap();
        assert!(regex.is_match("abc"));
        assert!(!regex.is_match("abc1"));
        assert!(!regex.is_match("1abc"));
    }

    #[test]
    fn anchored_alternation_stays_anchored() {
        let regex = compile_anchored("a|b").unwrap();
        assert!(!regex.is_match("ax"));
        assert!(!regex.is_match("xb"));
    }

    #[test]
    fn anchored_rejects_trailing_newline() {
        let regex = compile_anchored("abc").unwrap();
        assert!(!regex.is_match("abc\n"));
    }

    #[test]
    fn anchored_multiline_flag_stays_inside() {
        let regex = compile_anchored("(?m)abc$").unwrap();
        assert!(!regex.is_match("abc\nx"));
    }

    #[test]
    fn unbalanced_group_rejected() {
        let problem = compile_anchored("a)|(b").unwrap_err();
        assert!(matches!(problem, PatternProblem::Syntax { .. }));
    }

    #[test]
    fn syntax_reason_is_one_line() {
        let PatternProblem::Syntax { reason } = compile_anchored("(abc").unwrap_err() else {
            panic!("expected a syntax problem");
        };
        assert!(!reason.contains('\n'));
        assert!(reason.contains("unclosed group"), "{reason}");
    }

    #[test]
    fn huge_program_rejected() {
        let problem = compile_anchored(r"\w{1000}").unwrap_err();
        assert_eq!(problem, PatternProblem::TooBig);
    }

    #[test]
    fn long_source_rejected() {
        let source = "a".repeat(MAX_PATTERN_BYTES + 1);
        let problem = compile_anchored(&source).unwrap_err();
        assert_eq!(
            problem,
            PatternProblem::TooLong {
                bytes: MAX_PATTERN_BYTES + 1
            }
        );
    }
}
