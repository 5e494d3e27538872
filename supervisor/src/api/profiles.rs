//! `GET /profiles` and `GET /profiles/{name}` (admin): the loaded sandbox
//! profiles, resolved.

use serde::Serialize;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::principal::{authorized, Caller};
use super::problem::Problem;
use super::{finish, one_of, with_state, Route};
use crate::auth::rbac::Action;
use crate::profiles::{is_valid_profile_name, ResolvedProfile};
use crate::server::AppState;

/// Route templates of this file.
pub const PROFILES: &str = "/api/v1/profiles";
pub const PROFILE: &str = "/api/v1/profiles/{name}";

/// A profile in the list.
#[derive(Debug, Serialize)]
struct ProfileSummary<'a> {
    name: &'a str,
    /// The profile this one extends directly, if any.
    extends: Option<&'a str>,
    hash: &'a str,
}

fn summary(profile: &ResolvedProfile) -> ProfileSummary<'_> {
    ProfileSummary {
        name: profile.name(),
        extends: profile.chain().get(1).map(String::as_str),
        hash: profile.hash(),
    }
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let list = warp::path!("api" / "v1" / "profiles")
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::ListProfiles))
        .and_then(|state: AppState, _caller: Caller| async move {
            list_profiles(&state).await.map_err(warp::reject::custom)
        });

    let get = warp::path!("api" / "v1" / "profiles" / String)
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::GetProfile))
        .and_then(
            |name: String, state: AppState, _caller: Caller| async move {
                get_profile(&state, &name)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    one_of(vec![
        finish(state, PROFILES, list),
        finish(state, PROFILE, get),
    ])
}

async fn list_profiles(state: &AppState) -> Result<Response, Problem> {
    let names = state.profiles.names();
    let items: Vec<ProfileSummary<'_>> = names
        .iter()
        .filter_map(|name| state.profiles.get(name).ok())
        .map(summary)
        .collect();
    Ok(warp::reply::json(&serde_json::json!({ "items": items })).into_response())
}

async fn get_profile(state: &AppState, name: &str) -> Result<Response, Problem> {
    if !is_valid_profile_name(name) {
        return Err(Problem::not_found("profile"));
    }
    let profile = state
        .profiles
        .get(name)
        .map_err(|_| Problem::not_found("profile"))?;
    Ok(warp::reply::json(&profile_json(profile)?).into_response())
}

/// Renders a resolved profile as JSON: its canonical TOML converted, plus
/// its name, `extends` chain and hash.
fn profile_json(profile: &ResolvedProfile) -> Result<serde_json::Value, Problem> {
    let table: toml::Table = toml::from_str(&profile.to_toml()).map_err(|error| {
        tracing::error!(profile = profile.name(), %error, "failed to read back a resolved profile");
        Problem::internal()
    })?;
    let mut value = serde_json::to_value(table).map_err(|error| {
        tracing::error!(profile = profile.name(), %error, "failed to convert a profile to JSON");
        Problem::internal()
    })?;
    if let Some(object) = value.as_object_mut() {
        object.insert("name".into(), profile.name().into());
        object.insert("chain".into(), profile.chain().into());
        object.insert("hash".into(), profile.hash().into());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_render_as_json() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox-profiles");
        let profiles = crate::profiles::ProfileSet::load(&dir).unwrap();
        for name in profiles.names() {
            let profile = profiles.get(&name).unwrap();
            let json = profile_json(profile).unwrap();
            assert_eq!(json["name"], name.as_str());
            assert_eq!(json["hash"], profile.hash());
            assert!(json.as_object().unwrap().len() > 3, "{name}: {json}");
        }
    }
}
