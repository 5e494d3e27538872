//! Audit timestamps as RFC 3339 in UTC with exactly three fractional digits
//! (`2024-05-01T12:00:00.123Z`), so stored values sort as text.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats `timestamp` in UTC with millisecond precision; `None` for years
/// outside 0..=9999, which RFC 3339 cannot express.
pub fn format_timestamp(timestamp: OffsetDateTime) -> Option<String> {
    let utc = timestamp.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    ))
}

/// Parses an RFC 3339 timestamp with any offset and converts it to UTC.
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339).map(|parsed| parsed.to_offset(UtcOffset::UTC))
}

pub(crate) fn serialize<S: Serializer>(
    timestamp: &OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match format_timestamp(*timestamp) {
        Some(text) => serializer.serialize_str(&text),
        None => Err(serde::ser::Error::custom(format!(
            "timestamp year {} is outside 0..=9999",
            timestamp.year()
        ))),
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_timestamp(&text)
        .map_err(|error| D::Error::custom(format!("invalid timestamp {text:?}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_pads_millis() {
        let timestamp =
            OffsetDateTime::from_unix_timestamp_nanos(1_000_000_000_005_000_000).unwrap();
        assert_eq!(
            format_timestamp(timestamp).as_deref(),
            Some("2001-09-09T01:46:40.005Z")
        );
    }

    #[test]
    fn parse_converts_offset() {
        let parsed = parse_timestamp("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(parsed.offset(), UtcOffset::UTC);
        assert_eq!(parsed.hour(), 12);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2024-05-01 12:00:00").is_err());
    }
}
