//! The JSON request body filter.
//!
//! Checks, in order:
//! 1. The `Content-Type` is `application/json`, else 415.
//! 2. A declared `Content-Length` is within the limit, else 413.
//! 3. The body read so far stays within the limit, else 413. This also
//!    covers chunked bodies without `Content-Length`, which warp's
//!    `content_length_limit` would reject with 411.
//! 4. The bytes parse as the target type, else 400. Request types use
//!    `#[serde(deny_unknown_fields)]`, and an unknown field is reported as
//!    `unknown_field` with its path.

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use warp::http::HeaderMap;
use warp::{Filter, Rejection};

use super::problem::{Problem, ProblemCode};

/// Maximum length of a serde error message passed on to the client, in
/// characters.
const MAX_PARSE_MESSAGE_CHARS: usize = 300;

/// Returns a filter that reads a JSON body of at most `limit` bytes and
/// deserializes it as `T`.
pub fn json_body<T>(limit: u64) -> impl Filter<Extract = (T,), Error = Rejection> + Clone
where
    T: DeserializeOwned + Send,
{
    warp::header::headers_cloned()
        .and_then(move |headers: HeaderMap| async move {
            check_headers(&headers, limit).map_err(warp::reject::custom)
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| async move {
            let bytes = read_limited(stream, limit).await?;
            parse_json::<T>(&bytes).map_err(warp::reject::custom)
        })
}

/// Checks `Content-Type` and a declared `Content-Length`.
fn check_headers(headers: &HeaderMap, limit: u64) -> Result<(), Problem> {
    let content_type = headers
        .get(warp::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !content_type.is_some_and(is_json_media_type) {
        return Err(Problem::new(
            ProblemCode::UnsupportedMediaType,
            "the request body must be JSON: send Content-Type: application/json",
        ));
    }

    if let Some(length) = headers.get(warp::http::header::CONTENT_LENGTH) {
        let length = length
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        match length {
            Some(length) if length > limit => return Err(too_large(limit)),
            Some(_) => {}
            None => {
                return Err(Problem::new(
                    ProblemCode::InvalidBody,
                    "the Content-Length header is not a number: send the body's size in bytes",
                ))
            }
        }
    }
    Ok(())
}

/// Returns true for `application/json`, with or without parameters such as
/// `charset=utf-8`, in any letter case.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn too_large(limit: u64) -> Problem {
    Problem::new(
        ProblemCode::BodyTooLarge,
        format!("the request body exceeds the limit of {limit} bytes: send a smaller body"),
    )
}

/// Reads the body until its end, failing as soon as it exceeds `limit`.
async fn read_limited<S, B>(stream: S, limit: u64) -> Result<BytesMut, Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut bytes = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|error| {
            tracing::debug!(%error, "failed to read a request body");
            warp::reject::custom(Problem::new(
                ProblemCode::InvalidBody,
                "the request body could not be read completely: send it again",
            ))
        })?;
        if bytes.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(warp::reject::custom(too_large(limit)));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            bytes.extend_from_slice(part);
            let advanced = part.len();
            chunk.advance(advanced);
        }
    }
    Ok(bytes)
}

/// Parses `bytes` as `T`, naming the failing field when there is one.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        parse_problem(&path, &inner)
    })?;
    deserializer.end().map_err(|error| {
        Problem::new(
            ProblemCode::InvalidBody,
            format!(
                "the request body has trailing data after the JSON value: {}",
                short(&error.to_string())
            ),
        )
    })?;
    Ok(value)
}

/// Builds the problem for a serde error at `path` (`.` for the root).
fn parse_problem(path: &str, error: &serde_json::Error) -> Problem {
    let message = short(&error.to_string());
    let field = (path != ".").then(|| path.to_string());

    if let Some(name) = unknown_field_name(&message) {
        // serde_path_to_error's path already ends with the unknown key.
        let full = field.unwrap_or_else(|| name.to_string());
        return Problem::new(
            ProblemCode::UnknownField,
            format!("unknown field `{full}`: remove it or check its spelling ({message})"),
        )
        .with_field(full);
    }

    let syntax = matches!(
        error.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    );
    if syntax {
        return Problem::new(
            ProblemCode::InvalidBody,
            format!("the request body is not valid JSON: {message}"),
        );
    }
    let detail = match &field {
        Some(field) => format!("invalid value for `{field}`: {message}"),
        None => format!("the request body has the wrong shape: {message}"),
    };
    let problem = Problem::new(ProblemCode::InvalidBody, detail);
    match field {
        Some(field) => problem.with_field(field),
        None => problem,
    }
}

/// Extracts `name` from serde's "unknown field `name`, expected ..." message.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

fn short(message: &str) -> String {
    match message.char_indices().nth(MAX_PARSE_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        count: u32,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn parse_accepts_valid_body() {
        let outer: Outer = parse_json(br#"{"count": 2, "items": [{"name": "a"}]}"#).unwrap();
        assert_eq!(outer.count, 2);
        assert_eq!(outer.items[0].name, "a");
    }

    #[test]
    fn unknown_root_field_named() {
        let problem = parse_json::<Outer>(br#"{"count": 1, "colour": 3}"#).unwrap_err();
        assert_eq!(problem.code, ProblemCode::UnknownField);
        assert_eq!(problem.field.as_deref(), Some("colour"));
    }

    #[test]
    fn unknown_nested_field_has_path() {
        let problem =
            parse_json::<Outer>(br#"{"count": 1, "items": [{"name": "a"}, {"nam": "b"}]}"#)
                .unwrap_err();
        assert_eq!(problem.code, ProblemCode::UnknownField);
        assert_eq!(problem.field.as_deref(), Some("items[1].nam"));
    }

    #[test]
    fn wrong_type_names_field() {
        let problem = parse_json::<Outer>(br#"{"count": "two"}"#).unwrap_err();
        assert_eq!(problem.code, ProblemCode::InvalidBody);
        assert_eq!(problem.field.as_deref(), Some("count"));
    }

    #[test]
    fn syntax_error_is_invalid_body() {
        let problem = parse_json::<Outer>(br#"{"count": "#).unwrap_err();
        assert_eq!(problem.code, ProblemCode::InvalidBody);
        assert_eq!(problem.field, None);
    }

    #[test]
    fn trailing_data_rejected() {
        let problem = parse_json::<Outer>(br#"{"count": 1} {"count": 2}"#).unwrap_err();
        assert_eq!(problem.code, ProblemCode::InvalidBody);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/jsonx"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
    }

    #[test]
    fn declared_length_over_limit() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("content-length", "2048".parse().unwrap());
        let problem = check_headers(&headers, 1024).unwrap_err();
        assert_eq!(problem.code, ProblemCode::BodyTooLarge);
        headers.insert("content-length", "1024".parse().unwrap());
        assert!(check_headers(&headers, 1024).is_ok());
    }

    #[test]
    fn missing_content_type_is_415() {
        let problem = check_headers(&HeaderMap::new(), 1024).unwrap_err();
        assert_eq!(problem.code, ProblemCode::UnsupportedMediaType);
    }

    #[tokio::test]
    async fn stream_over_limit_rejected() {
        let chunks = || {
            let parts: Vec<Result<bytes::Bytes, warp::Error>> = vec![
                Ok(bytes::Bytes::from_static(b"{\"count\":")),
                Ok(bytes::Bytes::from_static(b" 1}")),
            ];
            parts
        };
        let stream = futures_util::stream::iter(chunks());
        let read = read_limited(stream, 12).await.unwrap();
        assert_eq!(&read[..], b"{\"count\": 1}");

        let stream = futures_util::stream::iter(chunks());
        let rejection = read_limited(stream, 11).await.unwrap_err();
        let problem = rejection.find::<Problem>().unwrap();
        assert_eq!(problem.code, ProblemCode::BodyTooLarge);
    }
}
