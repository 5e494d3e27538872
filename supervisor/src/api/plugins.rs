//! `GET /plugins` (viewer): the loaded plugins and their handlers.

use serde::Serialize;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::principal::{authorized, Caller};
use super::problem::Problem;
use super::{finish, one_of, with_state, Route};
use crate::auth::rbac::Action;
use crate::plugins::{Handler, Plugin};
use crate::server::AppState;

/// Route template of this file.
pub const PLUGINS: &str = "/api/v1/plugins";

/// Status of plugins loaded from the plugins directory: an operator placed
/// them there and their digests were checked at load time.
const DIRECTORY_PLUGIN_STATUS: &str = "approved";

#[derive(Serialize)]
struct PluginView<'a> {
    name: &'a str,
    version: String,
    description: &'a str,
    profile: &'a str,
    status: &'static str,
    handlers: Vec<HandlerView<'a>>,
}

#[derive(Serialize)]
struct HandlerView<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a std::collections::BTreeMap<String, crate::plugins::ParameterSchema>,
}

fn plugin_view(plugin: &Plugin) -> PluginView<'_> {
    let manifest = &plugin.manifest;
    PluginView {
        name: &manifest.name,
        version: manifest.version.to_string(),
        description: &manifest.description,
        profile: &manifest.profile,
        status: DIRECTORY_PLUGIN_STATUS,
        handlers: manifest.handlers.iter().map(handler_view).collect(),
    }
}

fn handler_view(handler: &Handler) -> HandlerView<'_> {
    HandlerView {
        name: &handler.name,
        description: &handler.description,
        parameters: &handler.parameters,
    }
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let list = warp::path!("api" / "v1" / "plugins")
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::ListPlugins))
        .and_then(|state: AppState, _caller: Caller| async move {
            list_plugins(&state).await.map_err(warp::reject::custom)
        });
    one_of(vec![finish(state, PLUGINS, list)])
}

async fn list_plugins(state: &AppState) -> Result<Response, Problem> {
    let items: Vec<PluginView<'_>> = state.plugins.plugins().map(plugin_view).collect();
    Ok(warp::reply::json(&serde_json::json!({ "items": items })).into_response())
}

#[cfg(test)]
mod tests {
    use crate::api::routes;
    use crate::api::tests::{body_json, test_state, user_with_token};
    use crate::model::Role;

    #[tokio::test]
    async fn lists_loaded_plugins_with_handlers() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let (_, bearer) = user_with_token(&state, "vic", &[Role::Viewer]).await;
        let response = warp::test::request()
            .path("/api/v1/plugins")
            .header("authorization", &bearer)
            .reply(&routes(&state))
            .await;
        assert_eq!(response.status(), 200);
        let body = body_json(&response);
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), state.plugins.plugins().count());
        for (item, plugin) in items.iter().zip(state.plugins.plugins()) {
            assert_eq!(item["name"], plugin.manifest.name.as_str());
            assert_eq!(
                item["handlers"].as_array().unwrap().len(),
                plugin.manifest.handlers.len()
            );
        }
    }
}
