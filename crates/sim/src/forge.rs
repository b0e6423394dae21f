//! The Forge token minter: what Atlassian does when a Confluence user's click on the arkbridge
//! macro makes Forge call arkbridge as a Forge Remote.
//!
//! `GET /forge/.well-known/jwks.json` is the JWKS (Atlassian's lives at
//! `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`), with a key id of the form
//! `forge/invocation-token/<…>`. `POST /forge/__arkbridge_sim/fit` (the simulator's admin
//! authentication) signs a Forge Invocation Token for a seeded Confluence account: RS256,
//! `iss` `forge/invocation-token`, `aud` the app's ARI, `iat` = `nbf`, `exp` 25 seconds later, a
//! 40-hex-digit `jti`, `principal` the account id, and the `app` and `context` objects of Forge's
//! documented example (installation and environment ARIs, `xen:macro` module, the site's
//! `cloudId` and URL, the macro's page and space).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::http::{self, LooseBody};
use crate::idp::IdpState;
use crate::wiki::stable_uuid;

/// The issuer of every Forge Invocation Token.
const ISSUER: &str = "forge/invocation-token";
/// Forge's observed token lifetime.
const LIFETIME_SECS: i64 = 25;

/// `GET /forge/.well-known/jwks.json`.
pub(crate) async fn jwks(State(s): State<Arc<IdpState>>) -> Response {
    http::json(StatusCode::OK, &json!({"keys": [s.forge_key.jwk()]}))
}

fn error(status: StatusCode, msg: &str) -> Response {
    let code = if status == StatusCode::NOT_FOUND {
        "ARKSIM404E"
    } else {
        "ARKSIM400E"
    };
    http::json(status, &json!({"ErrorCode": code, "ErrorMessage": msg}))
}

/// What the token says about the macro's page.
struct Content {
    id: String,
    space_key: String,
    space_id: String,
}

/// Finds the page (by id) and the space (by key) a mint request names; they must agree.
fn content(
    s: &IdpState,
    content_id: Option<&str>,
    space_key: Option<&str>,
) -> Result<Option<Content>, Response> {
    let wiki = s.world.wiki();
    let page_space = match content_id {
        Some(id) => {
            let page = id
                .parse::<u64>()
                .ok()
                .and_then(|n| wiki.pages.iter().find(|p| p.id == n))
                .ok_or_else(|| error(StatusCode::NOT_FOUND, "No page has this `contentId`."))?;
            Some((page.id.to_string(), page.space_id))
        }
        None => None,
    };
    let space = match (&page_space, space_key) {
        (Some((_, sid)), _) => wiki.spaces.iter().find(|sp| sp.id == *sid),
        (None, Some(key)) => wiki
            .spaces
            .iter()
            .find(|sp| sp.key.eq_ignore_ascii_case(key)),
        (None, None) => return Ok(None),
    };
    let space =
        space.ok_or_else(|| error(StatusCode::NOT_FOUND, "No space has this `spaceKey`."))?;
    if space_key.is_some_and(|k| !k.eq_ignore_ascii_case(&space.key)) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The page named by `contentId` is not in the space named by `spaceKey`.",
        ));
    }
    Ok(Some(Content {
        id: page_space.map(|(id, _)| id).unwrap_or_default(),
        space_key: space.key.clone(),
        space_id: space.id.to_string(),
    }))
}

/// `POST /forge/__arkbridge_sim/fit` with `{"accountId" | "email", "contentId", "spaceKey",
/// "moduleKey", "localId"}` (all but the user optional).
pub(crate) async fn mint(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = crate::admin::authorize(&s.world, &headers) {
        return r;
    }
    let Some(b) = LooseBody::parse(&body) else {
        return error(StatusCode::BAD_REQUEST, "The body must be a JSON object.");
    };
    let account_id = {
        let wiki = s.world.wiki();
        let user = match (b.str("accountId"), b.str("email")) {
            (Some(id), _) => wiki.users.iter().find(|u| u.account_id == id),
            (None, Some(email)) => wiki
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(email)),
            (None, None) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "`accountId` or `email` is required.",
                );
            }
        };
        match user {
            Some(u) => u.account_id.clone(),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "No Confluence user has this account.",
                );
            }
        }
    };
    let content = match content(&s, b.str("contentId"), b.str("spaceKey")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let f = &s.forge;
    let module_key = b.str("moduleKey").unwrap_or(&f.module_key);
    let local_id = b.str("localId").map(String::from).unwrap_or_else(|| {
        stable_uuid(&format!(
            "forge-macro:{}:{module_key}",
            content.as_ref().map_or("", |c| c.id.as_str())
        ))
        .to_string()
    });
    let app_ari = format!("ari:cloud:ecosystem::app/{}", f.app_uuid);
    let installation = format!(
        "ari:cloud:ecosystem::installation/{}",
        stable_uuid(&format!("forge-installation:{}:{}", f.app_uuid, f.cloud_id))
    );
    let environment = format!(
        "ari:cloud:ecosystem::environment/{}/{}",
        f.app_uuid,
        stable_uuid(&format!(
            "forge-environment:{}:{}",
            f.app_uuid, f.environment_type
        ))
    );
    let site = &s.world.confluence_base;
    let api_base = format!("{site}/ex/confluence/{}", f.cloud_id);
    let mut extension =
        json!({"type": "macro", "isEditing": false, "references": [], "config": {}});
    if let Some(c) = &content {
        if !c.id.is_empty() {
            extension["content"] = json!({"id": c.id, "type": "page"});
        }
        extension["space"] = json!({"key": c.space_key, "id": c.space_id});
    }
    let now = s.now();
    let jti = {
        let mut bytes = [0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        hex_lower(&bytes)
    };
    let claims = json!({
        "app": {
            "id": app_ari, "appVersion": f.app_version, "installationId": installation,
            "apiBaseUrl": api_base,
            "environment": {"type": f.environment_type, "id": environment},
            "module": {"type": "xen:macro", "key": module_key},
            "installation": {"id": installation,
                             "contexts": [{"name": "confluence", "apiBaseUrl": api_base}]},
        },
        "context": {
            "localId": local_id, "cloudId": f.cloud_id, "moduleKey": module_key, "siteUrl": site,
            "environmentId": environment, "environmentType": f.environment_type,
            "appVersion": f.app_version, "extension": extension,
            "userAccess": {"enabled": false, "hasAccess": true},
            "accountType": "licensed", "accountId": account_id,
        },
        "principal": account_id,
        "aud": app_ari, "iss": ISSUER,
        "iat": now, "nbf": now, "exp": now + LIFETIME_SECS,
        "jti": jti,
    });
    let token = match s.forge_key.sign(&claims) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    tracing::info!(principal = account_id, "forge: invocation token minted");
    http::json(
        StatusCode::OK,
        &json!({"token": token, "jti": jti, "principal": account_id,
                "issuedAt": now, "expiresAt": now + LIFETIME_SECS}),
    )
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_lower_hex() {
        assert_eq!(hex_lower(&[0, 0xab, 0x1f]), "00ab1f");
    }
}
