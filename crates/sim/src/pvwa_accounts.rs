//! PVWA account endpoints: get and password retrieve, and the account JSON they share (the list
//! is in [`crate::pvwa_account_list`], add/update/delete in [`crate::pvwa_account_admin`], the
//! CPM operations in [`crate::pvwa_ops`]).
//!
//! Visibility follows the `listAccounts` safe permission (an invisible account is a 404),
//! retrieval needs `retrieveAccounts` (403 PASWS041E otherwise), a reason when the platform
//! requires one (PASWS088E) and, for an exclusive account, that nobody else holds it (PASWS143E,
//! also when an application holds it through the CCP); it then locks the account to the
//! retriever. `Version` picks an older secret version. Error codes not confirmed by the
//! reference material carry the `ARKSIM` prefix so nobody mistakes them for real Vault codes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::activity::Activity;
use crate::http::{self, LooseBody, Params};
use crate::perms::Permission;
use crate::pvwa::{bad_body, error, forbidden, session_user};
use crate::state::{Account, Holder, Principal, Vault};
use crate::world::World;

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_PVWA_RETRIEVE: (&str, u32) = ("Retrieve password", 295);

pub(crate) fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ARKSIM404E",
        format!("Account [{id}] was not found."),
    )
}

/// The account JSON of the Gen2 API.
pub(crate) fn account_json(a: &Account) -> Value {
    let mut sm = Map::new();
    sm.insert(
        "automaticManagementEnabled".into(),
        Value::Bool(a.automatic_management),
    );
    if !a.automatic_management {
        sm.insert("manualManagementReason".into(), json!(a.manual_reason));
    }
    if let Some(status) = a.cpm.status {
        sm.insert("status".into(), json!(status));
    }
    sm.insert("lastModifiedTime".into(), json!(a.last_modified));
    if let Some(t) = a.cpm.last_verified {
        sm.insert("lastVerifiedTime".into(), json!(t));
    }
    if let Some(t) = a.cpm.last_reconciled {
        sm.insert("lastReconciledTime".into(), json!(t));
    }
    json!({
        "categoryModificationTime": a.category_modified,
        "platformId": a.platform_id,
        "safeName": a.safe,
        "id": a.id,
        "name": a.name,
        "address": a.address,
        "userName": a.user_name,
        "secretType": a.secret_type,
        "platformAccountProperties": a.properties,
        "secretManagement": Value::Object(sm),
        "remoteMachinesAccess": {
            "remoteMachines": a.remote_machines,
            "accessRestrictedToRemoteMachines": a.restrict_remote,
        },
        "createdTime": a.created,
    })
}

pub(crate) fn visible(vault: &Vault, a: &Account, user: &str) -> bool {
    vault.has(&a.safe, Principal::User(user), Permission::ListAccounts)
}

pub(crate) fn numeric(params: &Params, name: &str) -> Result<Option<usize>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "PASWS018E",
                format!("Input parameter for [{name}] value should be numeric."),
            )
        }),
    }
}

/// Finds a visible account; `Err` is the 404 response.
pub(crate) fn find(vault: &Vault, id: &str, user: &str) -> Result<usize, Response> {
    vault
        .account_index(id)
        .filter(|i| visible(vault, &vault.accounts[*i], user))
        .ok_or_else(|| not_found(id))
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let vault = world.vault();
    match find(&vault, &id, &user) {
        Ok(i) => http::json(StatusCode::OK, &account_json(&vault.accounts[i])),
        Err(r) => r,
    }
}

pub(crate) async fn retrieve(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let reason = body.str("reason").unwrap_or("").to_string();
    let ticketing = body
        .str("TicketingSystem")
        .or_else(|| body.str("TicketingSystemName"))
        .unwrap_or("");
    let ticket = body.str("TicketId").unwrap_or("");
    let machine = body.str("Machine").unwrap_or("");
    let version = loose_u32(body.get("Version"));
    let mut vault = world.vault();
    let i = match find(&vault, &id, &user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let safe = vault.accounts[i].safe.clone();
    if !vault.has(&safe, Principal::User(&user), Permission::RetrieveAccounts) {
        return forbidden();
    }
    let account = &vault.accounts[i];
    if account.require_reason && reason.trim().is_empty() {
        return missing_parameter("Reason");
    }
    let secret = match version {
        Some(Ok(0)) | None => account.secret.expose_secret().to_string(),
        Some(Ok(v)) => match account.versions.iter().find(|x| x.id == v && !x.temporary) {
            Some(x) => x.secret.expose_secret().to_string(),
            None => return content_not_found(),
        },
        Some(Err(())) => return not_numeric("Version"),
    };
    let secret = zeroize::Zeroizing::new(secret);
    if account.exclusive
        && let Some(holder) = &account.locked_by
        && !holder.is_user(&user)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "PASWS143E",
            "Password is locked by another user.",
        );
    }
    let mut more = Vec::new();
    if !ticketing.is_empty() || !ticket.is_empty() {
        more.push(format!("Ticket {ticketing} {ticket}").trim().to_string());
    }
    if !machine.is_empty() {
        more.push(format!("Machine {machine}"));
    }
    let account = &mut vault.accounts[i];
    if account.exclusive {
        account.locked_by = Some(Holder::User(user.clone()));
    }
    let mut activity = Activity::now(&user, ACTION_PVWA_RETRIEVE, "PVWA");
    activity.more_info = more.join("; ");
    activity.reason = reason;
    vault.log(i, activity);
    tracing::debug!(user, account = id, "PVWA: password retrieved");
    http::json(StatusCode::OK, &Value::String(secret.to_string()))
}

/// 400 PASWS088E for a missing mandatory body parameter.
pub(crate) fn missing_parameter(name: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "PASWS088E",
        format!("Missing mandatory parameter - {name}."),
    )
}

fn not_numeric(name: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "PASWS018E",
        format!("Input parameter for [{name}] value should be numeric."),
    )
}

/// The 404 of a missing secret version (the message psPAS users report).
fn content_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ARKSIM404E",
        "Content of account was not found.",
    )
}

/// A JSON number or numeric string; `Err` when present but not a non-negative integer.
pub(crate) fn loose_u32(v: Option<&Value>) -> Option<Result<u32, ()>> {
    match v? {
        Value::Number(n) => Some(n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(())),
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().parse().map_err(|_| ())),
        Value::Null => None,
        _ => Some(Err(())),
    }
}
