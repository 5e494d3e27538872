//! Query strings and offset pagination.

use serde::de::DeserializeOwned;
use warp::{Filter, Rejection};

use super::problem::{Problem, ProblemCode};
use crate::store::{Page, MAX_PAGE_LIMIT};

/// Maximum length of a query string, in bytes. List filters are a few
/// short values.
pub const MAX_QUERY_BYTES: usize = 4096;

/// Returns a filter that parses the query string (empty when absent) as `T`.
/// Query types use `#[serde(deny_unknown_fields)]`, so a misspelt parameter
/// is a 400 instead of being ignored.
pub fn query<T>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone
where
    T: DeserializeOwned + Send + 'static,
{
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move { parse_query::<T>(&raw).map_err(warp::reject::custom) })
}

/// Parses a raw query string as `T`.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, Problem> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(Problem::new(
            ProblemCode::ValidationFailed,
            format!("the query string exceeds {MAX_QUERY_BYTES} bytes"),
        ));
    }
    serde_urlencoded::from_str(raw).map_err(|error| {
        Problem::new(
            ProblemCode::ValidationFailed,
            format!("invalid query parameters: {error}"),
        )
    })
}

/// Checks `limit` (1 to [`MAX_PAGE_LIMIT`], default 50) and `offset` and
/// returns the page.
pub fn page(limit: Option<u32>, offset: Option<u64>) -> Result<Page, Problem> {
    if let Some(limit) = limit {
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(Problem::invalid_field(
                "limit",
                format!("limit {limit} is out of range: use 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
    }
    if offset.is_some_and(|offset| offset > i64::MAX as u64) {
        return Err(Problem::invalid_field("offset", "offset is too large"));
    }
    Ok(Page::new(limit, offset))
}

/// Query of list routes that take only pagination.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

impl PageQuery {
    /// Checks the values and returns the page.
    pub fn page(&self) -> Result<Page, Problem> {
        page(self.limit, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_parsed() {
        let query: PageQuery = parse_query("limit=10&offset=20").unwrap();
        let page = query.page().unwrap();
        assert_eq!((page.limit, page.offset), (10, 20));
        let empty: PageQuery = parse_query("").unwrap();
        assert_eq!(empty.page().unwrap(), Page::default());
    }

    #[test]
    fn limit_out_of_range() {
        for raw in ["limit=0", "limit=201"] {
            let query: PageQuery = parse_query(raw).unwrap();
            let problem = query.page().unwrap_err();
            assert_eq!(problem.field.as_deref(), Some("limit"), "{raw}");
        }
    }

    #[test]
    fn unknown_and_malformed_parameters_rejected() {
        assert!(parse_query::<PageQuery>("limt=5").is_err());
        assert!(parse_query::<PageQuery>("limit=ten").is_err());
        assert!(parse_query::<PageQuery>("offset=-1").is_err());
    }
}
