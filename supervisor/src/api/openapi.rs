//! `GET /api/v1/openapi.json`: the OpenAPI document of every route,
//! embedded from docs/openapi.json at build time.

use warp::Filter;

use super::{finish, one_of, Route};
use crate::server::AppState;

/// Route template of this file.
pub const OPENAPI: &str = "/api/v1/openapi.json";

/// The OpenAPI 3.1 document.
pub const OPENAPI_DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let document = warp::path!("api" / "v1" / "openapi.json")
        .and(warp::get())
        .map(|| warp::reply::with_header(OPENAPI_DOCUMENT, "content-type", "application/json"));
    one_of(vec![finish(state, OPENAPI, document)])
}
