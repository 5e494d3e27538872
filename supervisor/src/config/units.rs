//! Durations ("30s", "15m", "1h", "7d") and sizes ("1MiB") as written in the
//! configuration file or in an environment variable.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration or size as written, before its unit is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Quantity {
    /// A bare integer: seconds or bytes.
    Integer(i64),
    /// A whole number with an optional unit suffix.
    Text(String),
}

const DURATION_UNITS: &[(&str, u64)] = &[("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

const SIZE_UNITS: &[(&str, u64)] = &[
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

/// Parses a duration from seconds or a string such as "15m".
pub(crate) fn parse_duration(value: &Quantity) -> Result<Duration, String> {
    parse_with_units(value, DURATION_UNITS)
        .map(Duration::from_secs)
        .map_err(|shown| {
            format!(
                "{shown} is not a duration; write a whole number with a unit s, m, h or d, \
                 such as \"30s\", \"15m\", \"1h\" or \"7d\""
            )
        })
}

/// Parses a size in bytes from an integer or a string such as "1MiB".
pub(crate) fn parse_size(value: &Quantity) -> Result<u64, String> {
    parse_with_units(value, SIZE_UNITS).map_err(|shown| {
        format!(
            "{shown} is not a size; write a number of bytes or a whole number with a unit \
             KiB, MiB or GiB, such as \"1MiB\""
        )
    })
}

/// Formats a duration with the largest unit that divides it exactly.
/// Sub-second parts are dropped because no setting uses them.
pub(crate) fn format_duration(duration: Duration) -> String {
    format_with_units(duration.as_secs(), DURATION_UNITS)
}

/// Formats a size with the largest unit that divides it exactly.
pub(crate) fn format_size(bytes: u64) -> String {
    format_with_units(bytes, SIZE_UNITS)
}

/// Applies the unit suffix; on failure returns the value as the user wrote it.
fn parse_with_units(value: &Quantity, units: &[(&str, u64)]) -> Result<u64, String> {
    let text = match value {
        Quantity::Integer(number) => return u64::try_from(*number).map_err(|_| number.to_string()),
        Quantity::Text(text) => text,
    };
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
    let suffix = suffix.trim_start();
    let multiplier = if suffix.is_empty() {
        1
    } else {
        units
            .iter()
            .find(|(name, _)| *name == suffix)
            .map(|(_, multiplier)| *multiplier)
            .ok_or_else(|| shown.clone())?
    };
    number.checked_mul(multiplier).ok_or(shown)
}

fn format_with_units(value: u64, units: &[(&str, u64)]) -> String {
    let chosen = units
        .iter()
        .find(|(_, multiplier)| value != 0 && value.checked_rem(*multiplier) == Some(0));
    match chosen {
        Some((name, multiplier)) => format!("{}{name}", value / multiplier),
        None => {
            let smallest = units.last().map(|(name, _)| *name).unwrap_or_default();
            format!("{value}{smallest}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Quantity {
        Quantity::Text(value.to_string())
    }

    #[test]
    fn duration_suffixes() {
        assert_eq!(parse_duration(&text("30s")), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(&text("15m")), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration(&text("1h")), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration(&text("7d")),
            Ok(Duration::from_secs(604_800))
        );
        assert_eq!(
            parse_duration(&text(" 2 h ")),
            Ok(Duration::from_secs(7200))
        );
    }

    #[test]
    fn duration_bare_number_is_seconds() {
        assert_eq!(parse_duration(&text("90")), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration(&Quantity::Integer(5)),
            Ok(Duration::from_secs(5))
        );
    }

    #[test]
    fn duration_rejects_bad_input() {
        for bad in [
            "",
            "m",
            "1.5h",
            "-1s",
            "10ms",
            "1w",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(&text(bad)).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_duration(&Quantity::Integer(-1)).is_err());
    }

    #[test]
    fn duration_overflow_rejected() {
        assert!(parse_duration(&text("300000000000000000d")).is_err());
    }

    #[test]
    fn duration_error_shows_value_and_fix() {
        let error = parse_duration(&text("soon")).unwrap_err();
        assert!(error.starts_with("\"soon\" is not a duration"), "{error}");
        assert!(error.contains("\"15m\""), "{error}");
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(parse_size(&text("1MiB")), Ok(1 << 20));
        assert_eq!(parse_size(&text("64 KiB")), Ok(64 << 10));
        assert_eq!(parse_size(&text("2GiB")), Ok(2 << 30));
        assert_eq!(parse_size(&text("512B")), Ok(512));
        assert_eq!(parse_size(&text("4096")), Ok(4096));
        assert_eq!(parse_size(&Quantity::Integer(1024)), Ok(1024));
    }

    #[test]
    fn size_rejects_decimal_units() {
        assert!(parse_size(&text("1MB")).is_err());
        assert!(parse_size(&text("1mib")).is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for seconds in [1, 59, 60, 900, 3600, 5400, 86_400, 30 * 86_400] {
            let duration = Duration::from_secs(seconds);
            let shown = format_duration(duration);
            assert_eq!(parse_duration(&text(&shown)), Ok(duration), "{shown}");
        }
        for bytes in [1, 1000, 1024, 1 << 20, 3 << 30] {
            let shown = format_size(bytes);
            assert_eq!(parse_size(&text(&shown)), Ok(bytes), "{shown}");
        }
    }

    #[test]
    fn formatting_picks_largest_unit() {
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(1500), "1500B");
    }
}
