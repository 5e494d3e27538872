//! Identifier newtypes, validated where they enter the system.
//!
//! Every id is a lowercase hyphenated UUID (version 4 when generated here),
//! so a path segment or JSON field that is not one is rejected before it
//! reaches the store.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An id that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id: expected a UUID such as 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b")]
pub struct IdError {
    pub kind: &'static str,
}

fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    bytes.iter().enumerate().all(|(index, &byte)| match index {
        8 | 13 | 18 | 23 => byte == b'-',
        _ => byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte),
    })
}

macro_rules! id_type {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("Identifier of a ", $kind, ".")]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Creates a new random id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Parses and validates an id.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                if is_uuid(text) {
                    Ok(Self(text.to_string()))
                } else {
                    Err(IdError { kind: $kind })
                }
            }

            /// Returns the id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }
    };
}

id_type!(UserId, "user");
id_type!(WorkflowId, "workflow");
id_type!(ExecutionId, "execution");
id_type!(ApiKeyId, "API key");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        let id = ExecutionId::generate();
        assert_eq!(ExecutionId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn malformed_ids_rejected() {
        for text in [
            "",
            "1",
            "../../etc/passwd",
            "3F2B8C1E-9D4A-4F6B-8E2A-1C5D7E9F0A3B",
            "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3",
            "3f2b8c1e09d4a-4f6b-8e2a-1c5d7e9f0a3b",
            "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3g",
        ] {
            assert!(WorkflowId::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn serde_rejects_bad_id() {
        let result: Result<UserId, _> = serde_json::from_str("\"nope\"");
        assert!(result.is_err());
    }
}
