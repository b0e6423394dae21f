//! PVWA safe endpoints: `GET/POST /API/Safes`, `GET/PUT/DELETE /API/Safes/{safeUrlId}`.
//!
//! A user sees the safes it is a member of (directly or through a group); any other safe is a
//! 404 SFWS0007, as a missing one. Adding needs the Vault authorization "Add Safes" (seed
//! `addSafes`, always held by `Administrator`) and makes the creator a `full` member; update and
//! delete need `manageSafe`. Safe objects carry `safeUrlId` (the URL-encoded name),
//! `creationTime` in seconds and `lastModificationTime` in microseconds. Lists are
//! `{value, count, nextLink}` with a default limit of 25.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::http::{self, LooseBody, Params};
use crate::perms::{self, Permission};
use crate::pvwa::{bad_body, error, forbidden, session_user};
use crate::pvwa_accounts::{loose_u32, missing_parameter};
use crate::pvwa_paging::{page, paging};
use crate::seed::MemberType;
use crate::state::{self, Member, Principal, Safe, Vault};
use crate::world::World;

/// Characters `safeUrlId` (and nextLink values) leave as they are.
pub(crate) const URL_ID: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) const DEFAULT_LIMIT: usize = 25;
const FORBIDDEN_CHARS: &[char] = &[
    '\\', '/', ':', '*', '<', '>', '.', '|', '?', '"', '%', '&', '+',
];

pub(crate) fn url_id(name: &str) -> String {
    utf8_percent_encode(name, URL_ID).to_string()
}

pub(crate) fn safe_missing(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "SFWS0007",
        format!("Safe [{name}] was not found."),
    )
}

fn invalid(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "ARKSIM400E", msg)
}

/// The index of a safe `user` is a member of; 404 SFWS0007 otherwise.
pub(crate) fn visible_safe(vault: &Vault, name: &str, user: &str) -> Result<usize, Response> {
    vault
        .safes
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
        .filter(|i| {
            !vault
                .permissions(&vault.safes[*i].name, Principal::User(user))
                .is_empty()
        })
        .ok_or_else(|| safe_missing(name))
}

fn safe_json(vault: &Vault, s: &Safe, include_accounts: bool) -> Value {
    let creator_id = vault
        .users
        .iter()
        .position(|u| u.username.eq_ignore_ascii_case(&s.creator))
        .map_or(0, |i| i + 1);
    let mut v = json!({
        "safeUrlId": url_id(&s.name),
        "safeName": s.name,
        "safeNumber": s.number,
        "description": s.description,
        "location": s.location,
        "creator": {"id": creator_id.to_string(), "name": s.creator},
        "olacEnabled": s.olac_enabled,
        "managingCPM": s.managing_cpm,
        "numberOfVersionsRetention": s.versions_retention,
        "numberOfDaysRetention": s.days_retention,
        "autoPurgeEnabled": s.auto_purge,
        "creationTime": s.created,
        "lastModificationTime": s.last_modified_us,
        "isExpiredMember": false,
    });
    if include_accounts && let Value::Object(m) = &mut v {
        let accounts: Vec<Value> = vault
            .accounts
            .iter()
            .filter(|a| a.safe.eq_ignore_ascii_case(&s.name))
            .map(|a| json!({"id": a.id, "name": a.name}))
            .collect();
        m.insert("accounts".into(), Value::Array(accounts));
    }
    v
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let params = Params::parse(query.as_deref());
    let (offset, limit) = match paging(&params, DEFAULT_LIMIT) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let search = params.get("search").unwrap_or("").to_ascii_lowercase();
    let accounts = params
        .get("includeAccounts")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let desc = params
        .get("sort")
        .is_some_and(|s| s.to_ascii_lowercase().ends_with("desc"));
    let vault = world.vault();
    let mut safes: Vec<&Safe> = vault
        .safes
        .iter()
        .filter(|s| {
            !vault
                .permissions(&s.name, Principal::User(&user))
                .is_empty()
        })
        .filter(|s| {
            search.split_whitespace().all(|kw| {
                s.name.to_ascii_lowercase().contains(kw)
                    || s.description.to_ascii_lowercase().contains(kw)
            })
        })
        .collect();
    safes.sort_by_key(|s| s.name.to_ascii_lowercase());
    if desc {
        safes.reverse();
    }
    let items = safes
        .iter()
        .map(|s| safe_json(&vault, s, accounts))
        .collect();
    let keep = ["search", "sort", "includeAccounts", "extendedDetails"];
    page(items, (offset, limit), "api/Safes", &params, &keep)
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let accounts = Params::parse(query.as_deref())
        .get("includeAccounts")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let vault = world.vault();
    match visible_safe(&vault, &name, &user) {
        Ok(i) => http::json(
            StatusCode::OK,
            &safe_json(&vault, &vault.safes[i], accounts),
        ),
        Err(r) => r,
    }
}

/// Checks a safe name as the Add Safe API does.
fn check_name(name: &str) -> Result<(), Response> {
    if name.trim().is_empty() {
        return Err(missing_parameter("safeName"));
    }
    if name.chars().count() > 28 || name.contains(FORBIDDEN_CHARS) {
        return Err(invalid(format!(
            "Safe name [{name}] is invalid: at most 28 characters, none of \\ / : * < > . | ? \" % & +."
        )));
    }
    Ok(())
}

/// Applies the optional fields of an add/update body to a safe.
fn apply(s: &mut Safe, body: &LooseBody) -> Result<(), Response> {
    if let Some(d) = body.str("description") {
        if d.chars().count() > 100 {
            return Err(invalid("The description is longer than 100 characters."));
        }
        s.description = d.to_string();
    }
    if let Some(l) = body.str("location") {
        // An empty location is the root, `\` (aiobastion's `safe.add` sends `""` by default).
        s.location = if l.trim().is_empty() {
            "\\".to_string()
        } else {
            l.to_string()
        };
    }
    if let Some(cpm) = body.str("managingCPM") {
        s.managing_cpm = cpm.to_string();
    }
    if let Some(olac) = body.bool("olacEnabled") {
        if s.olac_enabled && !olac {
            return Err(invalid("Object level access control cannot be disabled."));
        }
        s.olac_enabled = olac;
    }
    if let Some(p) = body.bool("autoPurgeEnabled") {
        s.auto_purge = p;
    }
    let versions = loose_u32(body.get("numberOfVersionsRetention"));
    let days = loose_u32(body.get("numberOfDaysRetention"));
    match (versions, days) {
        (Some(_), Some(_)) => Err(invalid(
            "Specify numberOfVersionsRetention or numberOfDaysRetention, not both.",
        )),
        (Some(Ok(v)), None) if (1..=999).contains(&v) => {
            (s.versions_retention, s.days_retention) = (Some(v), None);
            Ok(())
        }
        (None, Some(Ok(d))) if d <= 3650 => {
            (s.versions_retention, s.days_retention) = (None, Some(d));
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err(invalid(
            "numberOfVersionsRetention must be 1-999 and numberOfDaysRetention 0-3650.",
        )),
    }
}

pub(crate) async fn add(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let mut vault = world.vault();
    if !vault
        .users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(&user) && u.add_safes)
    {
        return forbidden();
    }
    let name = body.str("safeName").unwrap_or("").trim().to_string();
    if let Err(r) = check_name(&name) {
        return r;
    }
    if vault.safe(&name).is_some() {
        return error(
            StatusCode::CONFLICT,
            "SFWS0002",
            format!("Safe [{name}] has already been defined."),
        );
    }
    let number = vault.next_safe_number;
    let member_id = vault.next_member_id;
    let mut safe = Safe {
        name: name.clone(),
        number,
        description: String::new(),
        location: "\\".into(),
        olac_enabled: false,
        managing_cpm: String::new(),
        versions_retention: None,
        days_retention: Some(7),
        auto_purge: false,
        creator: user.clone(),
        created: state::now_epoch(),
        last_modified_us: state::now_micros(),
        members: vec![Member {
            id: member_id,
            name: user.clone(),
            kind: MemberType::User,
            permissions: perms::predefined_set("full").unwrap_or_default(),
        }],
        next_account: 1,
    };
    if let Err(r) = apply(&mut safe, &body) {
        return r;
    }
    vault.next_safe_number += 1;
    vault.next_member_id += 1;
    let out = safe_json(&vault, &safe, false);
    vault.safes.push(safe);
    tracing::debug!(user, safe = name, "PVWA: safe added");
    http::json(StatusCode::CREATED, &out)
}

/// The index of a visible safe on which `user` holds `needs`.
fn managed(vault: &Vault, name: &str, user: &str, needs: Permission) -> Result<usize, Response> {
    let i = visible_safe(vault, name, user)?;
    if !vault.has(&vault.safes[i].name, Principal::User(user), needs) {
        return Err(forbidden());
    }
    Ok(i)
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let mut vault = world.vault();
    let i = match managed(&vault, &name, &user, Permission::ManageSafe) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let old = vault.safes[i].name.clone();
    let new_name = body
        .str("safeName")
        .map(str::trim)
        .unwrap_or(&old)
        .to_string();
    if !new_name.eq_ignore_ascii_case(&old) {
        if let Err(r) = check_name(&new_name) {
            return r;
        }
        if vault.safe(&new_name).is_some() {
            return error(
                StatusCode::CONFLICT,
                "SFWS0002",
                format!("Safe [{new_name}] has already been defined."),
            );
        }
    }
    let mut changed = vault.safes[i].clone();
    if let Err(r) = apply(&mut changed, &body) {
        return r;
    }
    for a in vault.accounts.iter_mut().filter(|a| a.safe == old) {
        a.safe = new_name.clone();
    }
    changed.name = new_name;
    changed.last_modified_us = state::now_micros();
    vault.safes[i] = changed;
    tracing::debug!(user, safe = old, "PVWA: safe updated");
    http::json(StatusCode::OK, &safe_json(&vault, &vault.safes[i], false))
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut vault = world.vault();
    let i = match managed(&vault, &name, &user, Permission::ManageSafe) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let removed = vault.safes.remove(i);
    vault.accounts.retain(|a| a.safe != removed.name);
    tracing::debug!(user, safe = removed.name, "PVWA: safe deleted");
    http::empty(StatusCode::NO_CONTENT)
}
