//! Sizes and durations as written in profile files: an integer, or a string
//! with a unit suffix ("512MiB", "5m").

use serde::{Deserialize, Serialize};

/// A size or duration as written in a file, before its unit is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Quantity {
    /// A bare integer: bytes or seconds.
    Integer(i64),
    /// A number with a unit suffix, or the word `unlimited`.
    Text(String),
}

/// The word that lifts an optional limit, for example `memory = "unlimited"`.
pub(crate) const UNLIMITED: &str = "unlimited";

const SIZE_UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

const DURATION_UNITS: &[(&str, u64)] = &[("h", 3600), ("m", 60), ("s", 1)];

/// Parses a size in bytes from an integer or a string such as "100MiB".
pub(crate) fn parse_size(value: &Quantity) -> Result<u64, String> {
    let hint = "use a number of bytes or a suffix KiB, MiB or GiB, such as \"512MiB\"";
    parse_with_units(value, SIZE_UNITS).map_err(|shown| format!("invalid size {shown}; {hint}"))
}

/// Parses a duration in seconds from an integer or a string such as "5m".
pub(crate) fn parse_duration(value: &Quantity) -> Result<u64, String> {
    let hint = "use a number of seconds or a suffix s, m or h, such as \"300s\" or \"5m\"";
    parse_with_units(value, DURATION_UNITS)
        .map_err(|shown| format!("invalid duration {shown}; {hint}"))
}

/// Returns whether `value` is the word `unlimited`.
pub(crate) fn is_unlimited(value: &Quantity) -> bool {
    matches!(value, Quantity::Text(text) if text.trim() == UNLIMITED)
}

/// Formats bytes with the largest unit that divides them exactly.
pub(crate) fn format_size(bytes: u64) -> String {
    format_with_units(bytes, SIZE_UNITS)
}

/// Formats seconds with the largest unit that divides them exactly.
pub(crate) fn format_duration(seconds: u64) -> String {
    format_with_units(seconds, DURATION_UNITS)
}

/// Applies the unit suffix; on failure returns the value as the user wrote it.
fn parse_with_units(value: &Quantity, units: &[(&str, u64)]) -> Result<u64, String> {
    match value {
        Quantity::Integer(number) => u64::try_from(*number).map_err(|_| number.to_string()),
        Quantity::Text(text) => {
            let shown = format!("{text:?}");
            let trimmed = text.trim();
            let digits_end = trimmed
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(trimmed.len());
            let (digits, suffix) = trimmed.split_at(digits_end);
            if digits.is_empty() {
                return Err(shown);
            }
            let number: u64 = digits.parse().map_err(|_| shown.clone())?;
            let multiplier = if suffix.is_empty() {
                1
            } else {
                units
                    .iter()
                    .find(|(name, _)| *name == suffix.trim_start())
                    .map(|(_, multiplier)| *multiplier)
                    .ok_or_else(|| shown.clone())?
            };
            number.checked_mul(multiplier).ok_or(shown)
        }
    }
}

fn format_with_units(value: u64, units: &[(&str, u64)]) -> String {
    for (name, multiplier) in units {
        if value != 0 && value.checked_rem(*multiplier) == Some(0) {
            return format!("{}{name}", value / multiplier);
        }
    }
    let smallest = units.last().map(|(name, _)| *name).unwrap_or_default();
    format!("{value}{smallest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Quantity {
        Quantity::Text(value.to_string())
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(parse_size(&text("512MiB")), Ok(512 << 20));
        assert_eq!(parse_size(&text("1 GiB")), Ok(1 << 30));
        assert_eq!(parse_size(&text("4KiB")), Ok(4096));
        assert_eq!(parse_size(&text("100")), Ok(100));
        assert_eq!(parse_size(&Quantity::Integer(7)), Ok(7));
    }

    #[test]
    fn size_rejects_unknown_suffix() {
        let error = parse_size(&text("12XB")).unwrap_err();
        assert_eq!(
            error,
            "invalid size \"12XB\"; use a number of bytes or a suffix KiB, MiB or GiB, such as \"512MiB\""
        );
    }

    #[test]
    fn size_rejects_negative_and_overflow() {
        assert!(parse_size(&Quantity::Integer(-1)).is_err());
        assert!(parse_size(&text("99999999999999TiB")).is_err());
        assert!(parse_size(&text("1.5GiB")).is_err());
        assert!(parse_size(&text("MiB")).is_err());
    }

    #[test]
    fn duration_suffixes() {
        assert_eq!(parse_duration(&text("300s")), Ok(300));
        assert_eq!(parse_duration(&text("5m")), Ok(300));
        assert_eq!(parse_duration(&text("1h")), Ok(3600));
        assert_eq!(parse_duration(&Quantity::Integer(60)), Ok(60));
    }

    #[test]
    fn duration_rejects_unknown_suffix() {
        assert!(parse_duration(&text("5d")).is_err());
        assert!(parse_duration(&text("")).is_err());
    }

    #[test]
    fn format_round_trips() {
        for bytes in [0, 1, 1000, 4096, 512 << 20, 3 << 30, (1 << 30) + 1] {
            assert_eq!(parse_size(&text(&format_size(bytes))), Ok(bytes));
        }
        for seconds in [0, 1, 59, 300, 3600, 5400] {
            assert_eq!(
                parse_duration(&text(&format_duration(seconds))),
                Ok(seconds)
            );
        }
    }

    #[test]
    fn format_picks_largest_unit() {
        assert_eq!(format_size(512 << 20), "512MiB");
        assert_eq!(format_duration(300), "5m");
        assert_eq!(format_duration(90), "90s");
    }

    #[test]
    fn unlimited_word() {
        assert!(is_unlimited(&text("unlimited")));
        assert!(!is_unlimited(&Quantity::Integer(0)));
    }
}
