//! PVWA account endpoints: list/search, get and password retrieve (the CPM operations are in
//! [`crate::pvwa_ops`]).
//!
//! Visibility follows the `listAccounts` safe permission (an invisible account is a 404),
//! retrieval needs `retrieveAccounts` (403 PASWS041E otherwise), a reason when the platform
//! requires one (PASWS088E) and, for an exclusive account, that nobody else holds it (PASWS143E);
//! it then locks the account to the retriever. `Version` picks an older secret version. Error codes not confirmed by the reference material carry the
//! `ARKSIM` prefix so nobody mistakes them for real Vault codes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use crate::http::{self, LooseBody, Params};
use crate::perms::Permission;
use crate::pvwa::{bad_body, error, forbidden, session_user};
use secrecy::ExposeSecret;

use crate::state::{self, Account, Activity, Principal, Vault};
use crate::world::World;

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_PVWA_RETRIEVE: (&str, u32) = ("Retrieve password", 295);

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

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
        sm.insert("manualManagementReason".into(), json!("No Reason"));
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
        "categoryModificationTime": a.created,
        "platformId": a.platform_id,
        "safeName": a.safe,
        "id": a.id,
        "name": a.name,
        "address": a.address,
        "userName": a.user_name,
        "secretType": a.secret_type,
        "platformAccountProperties": a.properties,
        "secretManagement": Value::Object(sm),
        "createdTime": a.created,
    })
}

fn visible(vault: &Vault, a: &Account, user: &str) -> bool {
    vault.has(&a.safe, Principal::User(user), Permission::ListAccounts)
}

enum Filter {
    Safe(String),
    ModifiedSince(i64),
}

fn parse_filter(text: &str) -> Result<Vec<Filter>, Response> {
    let bad = || {
        error(
            StatusCode::BAD_REQUEST,
            "ARKSIM400E",
            format!(
                "Invalid filter [{text}]. arkbridge sim supports `safeName eq X` and \
                 `modificationTime gte N`, joined with AND."
            ),
        )
    };
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut start = 0;
    let mut clauses = Vec::new();
    while let Some(pos) = lower[start..].find(" and ") {
        clauses.push(&text[start..start + pos]);
        start += pos + 5;
    }
    clauses.push(&text[start..]);
    for clause in clauses {
        let clause = clause.trim();
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let value = value.trim().trim_matches('"');
        if field.eq_ignore_ascii_case("safeName") && op.eq_ignore_ascii_case("eq") {
            out.push(Filter::Safe(value.to_string()));
        } else if field.eq_ignore_ascii_case("modificationTime") && op.eq_ignore_ascii_case("gte") {
            out.push(Filter::ModifiedSince(value.parse().map_err(|_| bad())?));
        } else {
            return Err(bad());
        }
    }
    Ok(out)
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

fn sort_key(a: &Account, prop: &str) -> String {
    match prop.to_ascii_lowercase().as_str() {
        "name" => a.name.to_ascii_lowercase(),
        "address" => a.address.to_ascii_lowercase(),
        "username" => a.user_name.to_ascii_lowercase(),
        "safename" => a.safe.to_ascii_lowercase(),
        "platformid" => a.platform_id.to_ascii_lowercase(),
        _ => String::new(),
    }
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
    let filters = match params.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => match parse_filter(f) {
            Ok(f) => f,
            Err(r) => return r,
        },
        None => Vec::new(),
    };
    let (offset, limit) = match (numeric(&params, "offset"), numeric(&params, "limit")) {
        (Ok(o), Ok(l)) => (
            o.unwrap_or(0),
            l.filter(|l| *l > 0).unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let search = params.get("search").unwrap_or("").to_ascii_lowercase();
    let starts_with = params
        .get("searchType")
        .is_some_and(|t| t.eq_ignore_ascii_case("startswith"));
    let vault = world.vault();
    let mut found: Vec<&Account> = vault
        .accounts
        .iter()
        .filter(|a| visible(&vault, a, &user))
        .filter(|a| {
            filters.iter().all(|f| match f {
                Filter::Safe(s) => a.safe.eq_ignore_ascii_case(s),
                Filter::ModifiedSince(t) => a.last_modified >= *t,
            })
        })
        .filter(|a| {
            let fields = [&a.name, &a.address, &a.user_name, &a.platform_id, &a.safe]
                .map(|f| f.to_ascii_lowercase());
            search.split_whitespace().all(|kw| {
                fields.iter().any(|f| {
                    if starts_with {
                        f.starts_with(kw)
                    } else {
                        f.contains(kw)
                    }
                })
            })
        })
        .collect();
    if let Some(sort) = params.get("sort") {
        for spec in sort
            .split(',')
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let mut parts = spec.split_whitespace();
            let prop = parts.next().unwrap_or("");
            let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            found.sort_by(|x, y| {
                let o = sort_key(x, prop).cmp(&sort_key(y, prop));
                if desc { o.reverse() } else { o }
            });
        }
    }
    let total = found.len();
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|a| account_json(a))
        .collect();
    let mut body = Map::new();
    body.insert("value".into(), Value::Array(page));
    body.insert("count".into(), json!(total));
    if offset.saturating_add(limit) < total {
        let mut next = format!("api/Accounts?offset={}&limit={limit}", offset + limit);
        for name in ["search", "searchType", "sort", "filter"] {
            if let Some(v) = params.get(name) {
                next.push_str(&format!(
                    "&{name}={}",
                    utf8_percent_encode(v, NON_ALPHANUMERIC)
                ));
            }
        }
        body.insert("nextLink".into(), Value::String(next));
    }
    http::json(StatusCode::OK, &Value::Object(body))
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
    if account.exclusive {
        match &account.locked_by {
            Some(holder) if !holder.eq_ignore_ascii_case(&user) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "PASWS143E",
                    "Password is locked by another user.",
                );
            }
            _ => {}
        }
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
        account.locked_by = Some(user.clone());
    }
    account.log(Activity {
        date: state::now_epoch(),
        user: user.clone(),
        action: ACTION_PVWA_RETRIEVE.0,
        action_id: ACTION_PVWA_RETRIEVE.1,
        client_id: "PVWA",
        alert: false,
        more_info: more.join("; "),
        reason,
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = parse_filter("safeName eq Prod-DB AND modificationTime gte 10").unwrap();
        assert_eq!(f.len(), 2);
        assert!(parse_filter("name eq x").is_err());
        assert!(parse_filter("safeName").is_err());
    }
}
