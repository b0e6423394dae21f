//! PVWA credential operations on one account: `Change`, `SetNextPassword`, `Password/Update`,
//! `Verify`, `Reconcile`, `CheckIn`, plus `Secret/Versions` and `Activities`.
//!
//! Change, verify, reconcile and check-in only *mark* the account (status `inProcess`); the
//! simulated CPM ([`crate::cpm`]) does the work later. `Password/Update` changes the value in the
//! Vault at once. Permissions follow the reference: `initiateCPMAccountManagementOperations` for
//! the CPM operations (plus `specifyNextAccountContent` for SetNextPassword),
//! `updateAccountContent` for Password/Update, `retrieveAccounts` for the versions and
//! activities for anyone who sees the account.

use std::sync::{Arc, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::activity::Activity;
use crate::http::{self, LooseBody, Params};
use crate::perms::Permission;
use crate::pvwa::{bad_body, forbidden, session_user};
use crate::pvwa_accounts::{find, missing_parameter};
use crate::state::{Principal, Vault};
use crate::world::{CpmJob, CpmTask, World};

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_CHANGE_REQUEST: (&str, u32) = ("Change password", 97);
const ACTION_SET_NEXT: (&str, u32) = ("Set next password", 99);
const ACTION_VAULT_UPDATE: (&str, u32) = ("Change password in the Vault", 98);
const ACTION_VERIFY_REQUEST: (&str, u32) = ("Verify password", 96);
const ACTION_RECONCILE_REQUEST: (&str, u32) = ("Reconcile password", 95);
const ACTION_CHECK_IN: (&str, u32) = ("CheckIn", 94);

/// The session user, the locked Vault and the index of a visible account on which the user holds
/// every permission of `needs`.
fn load<'a>(
    world: &'a World,
    headers: &HeaderMap,
    id: &str,
    needs: &[Permission],
) -> Result<(String, MutexGuard<'a, Vault>, usize), Response> {
    let user = session_user(world, headers)?;
    let vault = world.vault();
    let i = find(&vault, id, &user)?;
    let have = vault.permissions(&vault.accounts[i].safe, Principal::User(&user));
    if !needs.iter().all(|p| have.contains(p)) {
        return Err(forbidden());
    }
    Ok((user, vault, i))
}

fn log(vault: &mut Vault, i: usize, user: &str, action: (&'static str, u32), more: String) {
    let mut activity = Activity::now(user, action, "PVWA");
    activity.more_info = more;
    vault.log(i, activity);
}

/// Marks the account `inProcess` and hands the task to the CPM (unless one is already running).
fn queue(world: &World, vault: &mut Vault, i: usize, task: CpmTask) {
    let account = &mut vault.accounts[i];
    if account.cpm.in_process {
        return;
    }
    account.cpm.in_process = true;
    account.cpm.status = Some("inProcess");
    account.cpm.pending = Some(task.name());
    let _ = world.cpm.send(CpmJob {
        account_id: account.id.clone(),
        task,
    });
}

fn parse_body(body: &Bytes) -> Result<LooseBody, Response> {
    LooseBody::parse(body).ok_or_else(bad_body)
}

/// `NewCredentials` with surrounding whitespace removed (as the docs say the Vault does).
fn new_credentials(body: &LooseBody) -> Result<Zeroizing<String>, Response> {
    match body.str("NewCredentials").map(str::trim) {
        Some(v) if !v.is_empty() => Ok(Zeroizing::new(v.to_string())),
        _ => Err(missing_parameter("NewCredentials")),
    }
}

pub(crate) async fn change(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Both spellings are accepted; the simulator has no account groups, so the value only
    // appears in the activity log.
    let group = body
        .bool("ChangeEntireGroup")
        .or_else(|| body.bool("ChangeCredsForGroup"));
    let (user, mut vault, i) = match load(&world, &headers, &id, &[Permission::InitiateCpm]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let more = match group {
        Some(g) => format!("Immediate change requested (change entire group: {g})"),
        None => "Immediate change requested".into(),
    };
    log(&mut vault, i, &user, ACTION_CHANGE_REQUEST, more);
    queue(&world, &mut vault, i, CpmTask::Change);
    tracing::debug!(user, account = id, "PVWA: change requested");
    http::empty(StatusCode::OK)
}

pub(crate) async fn set_next_password(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let needs = [
        Permission::InitiateCpm,
        Permission::SpecifyNextAccountContent,
    ];
    let (user, mut vault, i) = match load(&world, &headers, &id, &needs) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let value = match new_credentials(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let immediately = body.bool("ChangeImmediately").unwrap_or(false);
    vault.accounts[i].next_secret = Some(value.as_str().into());
    let more = format!("Next password specified (change immediately: {immediately})");
    log(&mut vault, i, &user, ACTION_SET_NEXT, more);
    if immediately {
        queue(&world, &mut vault, i, CpmTask::Change);
    }
    tracing::debug!(user, account = id, immediately, "PVWA: next password set");
    http::empty(StatusCode::OK)
}

pub(crate) async fn password_update(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let needs = [Permission::UpdateAccountContent];
    let (user, mut vault, i) = match load(&world, &headers, &id, &needs) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let value = match new_credentials(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    log(&mut vault, i, &user, ACTION_VAULT_UPDATE, String::new());
    tracing::debug!(user, account = id, "PVWA: password updated in the Vault");
    world.set_account_secret(vault, i, &value, &user);
    http::empty(StatusCode::OK)
}

async fn cpm_request(
    world: Arc<World>,
    headers: HeaderMap,
    id: String,
    task: CpmTask,
    action: (&'static str, u32),
) -> Response {
    let (user, mut vault, i) = match load(&world, &headers, &id, &[Permission::InitiateCpm]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    log(&mut vault, i, &user, action, String::new());
    queue(&world, &mut vault, i, task);
    tracing::debug!(user, account = id, ?task, "PVWA: CPM task requested");
    http::empty(StatusCode::OK)
}

pub(crate) async fn verify(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    cpm_request(world, headers, id, CpmTask::Verify, ACTION_VERIFY_REQUEST).await
}

pub(crate) async fn reconcile(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let action = ACTION_RECONCILE_REQUEST;
    cpm_request(world, headers, id, CpmTask::Reconcile, action).await
}

/// Checks an exclusive account in: unlocks it and, when the CPM manages it, queues a change
/// (the one-time-password flow). The lock holder may always check in; others need
/// `initiateCPMAccountManagementOperations`. Checking in an unlocked account does nothing.
pub(crate) async fn check_in(
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
    let account = &vault.accounts[i];
    let holder = account.locked_by.as_ref().is_some_and(|h| h.is_user(&user));
    if !holder
        && !vault.has(
            &account.safe,
            Principal::User(&user),
            Permission::InitiateCpm,
        )
    {
        return forbidden();
    }
    let Some(previous) = vault.accounts[i].locked_by.take() else {
        return http::empty(StatusCode::OK);
    };
    let more = format!("Checked in (was locked by {previous})");
    log(&mut vault, i, &user, ACTION_CHECK_IN, more);
    if vault.accounts[i].automatic_management {
        queue(&world, &mut vault, i, CpmTask::Change);
    }
    tracing::debug!(user, account = id, "PVWA: checked in");
    http::empty(StatusCode::OK)
}

/// `GET .../Secret/Versions[?showTemporary=true]`, newest first, as
/// `{"Versions":[{versionID, modificationDate, modifiedBy, isTemporary}]}`: the casing psPAS
/// (`$result.Versions`) and aiobastion (`["Versions"]`, `["versionID"]`) read.
pub(crate) async fn versions(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let temporary = params
        .get("showTemporary")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (_, vault, i) = match load(&world, &headers, &id, &[Permission::RetrieveAccounts]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list: Vec<Value> = vault.accounts[i]
        .versions
        .iter()
        .rev()
        .filter(|v| temporary || !v.temporary)
        .map(|v| {
            json!({
                "versionID": v.id,
                "modificationDate": v.modified,
                "modifiedBy": v.modified_by,
                "isTemporary": v.temporary,
            })
        })
        .collect();
    http::json(StatusCode::OK, &json!({ "Versions": list }))
}

pub(crate) async fn activities(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, vault, i) = match load(&world, &headers, &id, &[]) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list: Vec<Value> = vault.accounts[i]
        .activities
        .iter()
        .rev()
        .map(Activity::json)
        .collect();
    http::json(StatusCode::OK, &json!({ "Activities": list }))
}
