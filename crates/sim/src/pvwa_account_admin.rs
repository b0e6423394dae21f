//! PVWA account administration: `POST /API/Accounts` (201), `PATCH /API/Accounts/{id}` (200)
//! and `DELETE /API/Accounts/{id}` (204).
//!
//! Adding needs `addAccounts` in the safe, updating `updateAccountProperties` (and
//! `renameAccounts` to change `/name`), deleting `deleteAccounts`; a missing permission is 403
//! PASWS041E. The safe must be one the caller is a member of (else 404 SFWS0007, as for a
//! missing safe); the account must be visible (else 404). A new account gets the id
//! `<safeNumber>_<n>` with the safe's next object number (never reused). A name already used in
//! the safe is 409 PASWS027E; a missing `safeName` or `platformId` is 400 PASWS088E; other bad
//! values are 400 ARKSIM400E. Without a `name` the account is named as the PVWA does,
//! `<DeviceType>-<platformId>-<address>-<userName>`. The PATCH body is a JSON-Patch-like list of
//! `{op: replace|add|remove, path, value}` applied all or nothing (see [`crate::account_patch`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::account_patch::{self, Fields};
use crate::activity::Activity;
use crate::http::{self, LooseBody, Params};
use crate::perms::Permission;
use crate::pvwa::{bad_body, error, forbidden, session_user};
use crate::pvwa_accounts::{account_json, find, missing_parameter};
use crate::pvwa_safes::visible_safe;
use crate::state::{self, Account, CpmState, Principal, SecretVersion, Vault};
use crate::world::{World, device_type_for};

/// Simulator-specific activity codes (not taken from a real Vault).
const ACTION_ADD: (&str, u32) = ("Store password", 294);
const ACTION_UPDATE: (&str, u32) = ("Update account properties", 293);
const ACTION_DELETE: (&str, u32) = ("Delete password", 292);

pub(crate) fn invalid(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "ARKSIM400E", msg)
}

/// 409 PASWS027E: the safe already holds an object of that name.
pub(crate) fn duplicate(name: &str, safe: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        "PASWS027E",
        format!("An account with the name [{name}] already exists in safe [{safe}]."),
    )
}

/// The value of `key` in a raw JSON object, matching the key ignoring ASCII case. Used where
/// the nested keys must keep their case (`platformAccountProperties`).
pub(crate) fn raw_get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The name the PVWA gives an account added without one.
fn derived_name(f: &Fields, device_type: &str) -> String {
    [
        device_type,
        f.platform_id.as_str(),
        f.address.as_str(),
        f.user_name.as_str(),
    ]
    .iter()
    .filter(|p| !p.trim().is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join("-")
}

/// Whether another account of `safe` (not `except`) is named `name`.
pub(crate) fn name_taken(vault: &Vault, safe: &str, name: &str, except: Option<&str>) -> bool {
    vault.accounts.iter().any(|a| {
        a.safe.eq_ignore_ascii_case(safe)
            && a.name.eq_ignore_ascii_case(name)
            && except.is_none_or(|id| a.id != id)
    })
}

/// The fields of an add body, checked.
fn new_fields(body: &LooseBody, raw: &Map<String, Value>) -> Result<Fields, Response> {
    let mut f = Fields::default();
    let text = |key: &str| -> Result<Option<String>, Response> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(invalid(format!("[{key}] must be a string."))),
        }
    };
    f.platform_id = text("platformId")?.unwrap_or_default();
    if f.platform_id.is_empty() {
        return Err(missing_parameter("platformId"));
    }
    f.name = text("name")?.unwrap_or_default();
    f.address = text("address")?.unwrap_or_default();
    f.user_name = text("userName")?.unwrap_or_default();
    f.secret_type = text("secretType")?.unwrap_or_else(|| "password".into());
    account_patch::check_secret_type(&mut f.secret_type)?;
    if let Some(props) = raw_get(raw, "platformAccountProperties") {
        f.properties = account_patch::properties(props)?;
    }
    f.automatic = true;
    if let Some(sm) = raw_get(raw, "secretManagement") {
        account_patch::apply_object(&mut f, "secretManagement", sm)?;
    }
    if let Some(rm) = raw_get(raw, "remoteMachinesAccess") {
        account_patch::apply_object(&mut f, "remoteMachinesAccess", rm)?;
    }
    Ok(f)
}

/// `POST /API/Accounts`.
pub(crate) async fn add(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let raw = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => return bad_body(),
    };
    let Some(loose) = LooseBody::parse(&body) else {
        return bad_body();
    };
    // `AllowAccountDuplications` (14.6+) concerns accounts sharing user name and address; the
    // simulator never refuses those, so the flag only has to be well-formed.
    if let Some(v) = Params::parse(query.as_deref()).get("AllowAccountDuplications")
        && !v.eq_ignore_ascii_case("true")
        && !v.eq_ignore_ascii_case("false")
    {
        return invalid("AllowAccountDuplications must be true or false.");
    }
    let safe_name = match loose.get("safeName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return missing_parameter("safeName"),
    };
    let mut fields = match new_fields(&loose, &raw) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let secret = match loose.get("secret") {
        None | Some(Value::Null) => zeroize::Zeroizing::new(String::new()),
        Some(Value::String(s)) => zeroize::Zeroizing::new(s.clone()),
        Some(_) => return invalid("[secret] must be a string."),
    };
    let mut vault = world.vault();
    let si = match visible_safe(&vault, &safe_name, &user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let safe = vault.safes[si].name.clone();
    if !vault.has(&safe, Principal::User(&user), Permission::AddAccounts) {
        return forbidden();
    }
    let device_type = device_type_for(&fields.platform_id).to_string();
    if fields.name.is_empty() {
        fields.name = derived_name(&fields, &device_type);
    }
    if let Err(r) = account_patch::check_name(&fields.name) {
        return r;
    }
    if name_taken(&vault, &safe, &fields.name, None) {
        return duplicate(&fields.name, &safe);
    }
    let number = vault.safes[si].number;
    let n = vault.safes[si].next_account;
    vault.safes[si].next_account += 1;
    let (exclusive, require_reason) = vault.platform_flags(&fields.platform_id);
    let now = state::now_epoch();
    let account = Account {
        id: format!("{number}_{n}"),
        safe: safe.clone(),
        name: fields.name,
        address: fields.address,
        user_name: fields.user_name,
        platform_id: fields.platform_id,
        secret_type: fields.secret_type,
        secret: SecretString::from(secret.as_str()),
        properties: fields.properties,
        device_type,
        automatic_management: fields.automatic,
        manual_reason: fields.manual_reason,
        remote_machines: fields.remote_machines,
        restrict_remote: fields.restrict_remote,
        created: now,
        last_modified: now,
        category_modified: now,
        cpm: CpmState::default(),
        link: None,
        activities: Vec::new(),
        exclusive,
        require_reason,
        locked_by: None,
        next_secret: None,
        versions: vec![SecretVersion {
            id: 1,
            secret: SecretString::from(secret.as_str()),
            modified: now,
            modified_by: user.clone(),
            temporary: false,
        }],
    };
    vault.accounts.push(account);
    let i = vault.accounts.len() - 1;
    vault.log(i, Activity::now(&user, ACTION_ADD, "PVWA"));
    let out = account_json(&vault.accounts[i]);
    tracing::debug!(
        user,
        safe,
        account = vault.accounts[i].id,
        "PVWA: account added"
    );
    http::json(StatusCode::CREATED, &out)
}

/// `PATCH /API/Accounts/{id}`.
pub(crate) async fn update(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let ops = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(ops)) => ops,
        _ => return invalid("The body must be a JSON list of patch operations."),
    };
    let mut vault = world.vault();
    let i = match find(&vault, &id, &user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let have = vault.permissions(&vault.accounts[i].safe, Principal::User(&user));
    if !have.contains(&Permission::UpdateAccountProperties) {
        return forbidden();
    }
    let before = Fields::of(&vault.accounts[i]);
    let after = match account_patch::apply(&before, &ops) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if after.name != before.name {
        if !have.contains(&Permission::RenameAccounts) {
            return forbidden();
        }
        let safe = vault.accounts[i].safe.clone();
        if name_taken(&vault, &safe, &after.name, Some(&id)) {
            return duplicate(&after.name, &safe);
        }
    }
    let platform_changed = !after.platform_id.eq_ignore_ascii_case(&before.platform_id);
    let flags = vault.platform_flags(&after.platform_id);
    let account = &mut vault.accounts[i];
    if platform_changed {
        // A new platform brings its own behaviour and device type.
        (account.exclusive, account.require_reason) = flags;
        account.device_type = device_type_for(&after.platform_id).to_string();
    }
    after.store(account);
    account.category_modified = state::now_epoch();
    let mut activity = Activity::now(&user, ACTION_UPDATE, "PVWA");
    activity.more_info = account_patch::describe(&ops);
    vault.log(i, activity);
    tracing::debug!(user, account = id, "PVWA: account updated");
    http::json(StatusCode::OK, &account_json(&vault.accounts[i]))
}

/// `DELETE /API/Accounts/{id}`.
pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut vault = world.vault();
    let i = match find(&vault, &id, &user) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !vault.has(
        &vault.accounts[i].safe,
        Principal::User(&user),
        Permission::DeleteAccounts,
    ) {
        return forbidden();
    }
    // The deletion stays in the Vault-wide audit; the account and its own log go.
    vault.log(i, Activity::now(&user, ACTION_DELETE, "PVWA"));
    let removed = vault.accounts.remove(i);
    tracing::debug!(user, account = removed.id, "PVWA: account deleted");
    http::empty(StatusCode::NO_CONTENT)
}
