//! PVWA safe-member endpoints: `GET/POST /API/Safes/{safeUrlId}/Members` and
//! `GET/PUT/DELETE /API/Safes/{safeUrlId}/Members/{memberName}/`.
//!
//! The safe must be visible to the caller (else 404 SFWS0007). Listing and reading need
//! `viewSafeMembers` (a member may always read its own entry); adding, updating and removing need
//! `manageSafeMembers` (403 PASWS041E otherwise). Adding an existing member is 409 SFWS0012;
//! changing one's own membership is 400 SFWS0013. Permissions are the 22 Gen2 keys, matched
//! ignoring case; keys left out are `false`. Applications appear with `memberType` `User`, as
//! they are Vault users.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::http::{self, LooseBody, Params};
use crate::perms::Permission;
use crate::pvwa::{bad_body, error, forbidden, session_user};
use crate::pvwa_accounts::missing_parameter;
use crate::pvwa_paging::{page, paging};
use crate::pvwa_safes::{DEFAULT_LIMIT, url_id, visible_safe};
use crate::seed::MemberType;
use crate::state::{self, Member, Principal, Safe, Vault};
use crate::world::World;

fn member_json(s: &Safe, m: &Member) -> Value {
    let permissions: Map<String, Value> = Permission::ALL
        .iter()
        .map(|p| (p.key().to_string(), Value::Bool(m.permissions.contains(p))))
        .collect();
    json!({
        "safeUrlId": url_id(&s.name),
        "safeName": s.name,
        "safeNumber": s.number,
        "memberId": m.id.to_string(),
        "memberName": m.name,
        "memberType": if m.kind == MemberType::Group { "Group" } else { "User" },
        "membershipExpirationDate": null,
        "isExpiredMembershipEnable": false,
        "isPredefinedUser": false,
        "isReadOnly": false,
        "permissions": permissions,
    })
}

fn not_a_member(safe: &str, member: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ARKSIM404E",
        format!("[{member}] is not a member of safe [{safe}]."),
    )
}

/// The session user, the locked Vault and the index of the visible safe, after checking `needs`
/// (`None`: no check).
fn load<'a>(
    world: &'a World,
    headers: &HeaderMap,
    safe: &str,
    needs: Option<Permission>,
) -> Result<(String, std::sync::MutexGuard<'a, Vault>, usize), Response> {
    let user = session_user(world, headers)?;
    let vault = world.vault();
    let i = visible_safe(&vault, safe, &user)?;
    if let Some(p) = needs
        && !vault.has(&vault.safes[i].name, Principal::User(&user), p)
    {
        return Err(forbidden());
    }
    Ok((user, vault, i))
}

/// Reads `permissions` from a body: every key a bool (or "true"/"false"), missing keys false.
fn permissions(body: &LooseBody) -> Result<BTreeSet<Permission>, Response> {
    let Some(obj) = body.object("permissions") else {
        return Ok(BTreeSet::new());
    };
    let mut out = BTreeSet::new();
    for p in Permission::ALL {
        match (obj.get(p.key()), obj.bool(p.key())) {
            (None, _) => {}
            (Some(_), Some(true)) => {
                out.insert(*p);
            }
            (Some(_), Some(false)) => {}
            (Some(_), None) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "ARKSIM400E",
                    format!("Permission [{}] must be true or false.", p.key()),
                ));
            }
        }
    }
    Ok(out)
}

fn position(s: &Safe, member: &str) -> Option<usize> {
    s.members
        .iter()
        .position(|m| m.name.eq_ignore_ascii_case(member))
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(safe): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let (offset, limit) = match paging(&params, DEFAULT_LIMIT) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (_, vault, i) = match load(&world, &headers, &safe, Some(Permission::ViewSafeMembers)) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let filter = params.get("filter").unwrap_or("").to_ascii_lowercase();
    let kind = if filter.contains("membertype eq group") {
        Some(true)
    } else if filter.contains("membertype eq user") {
        Some(false)
    } else {
        None
    };
    let search = params.get("search").unwrap_or("").to_ascii_lowercase();
    let s = &vault.safes[i];
    let mut members: Vec<&Member> = s
        .members
        .iter()
        .filter(|m| kind.is_none_or(|g| g == (m.kind == MemberType::Group)))
        .filter(|m| m.name.to_ascii_lowercase().contains(&search))
        .collect();
    members.sort_by_key(|m| m.name.to_ascii_lowercase());
    let items = members.iter().map(|m| member_json(s, m)).collect();
    let path = format!("api/Safes/{}/Members", url_id(&s.name));
    page(
        items,
        (offset, limit),
        &path,
        &params,
        &["filter", "search", "sort"],
    )
}

pub(crate) async fn get_one(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path((safe, member)): Path<(String, String)>,
) -> Response {
    let (user, vault, i) = match load(&world, &headers, &safe, None) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let s = &vault.safes[i];
    let own = member.eq_ignore_ascii_case(&user);
    if !own && !vault.has(&s.name, Principal::User(&user), Permission::ViewSafeMembers) {
        return forbidden();
    }
    match position(s, &member) {
        Some(m) => http::json(StatusCode::OK, &member_json(s, &s.members[m])),
        None => not_a_member(&s.name, &member),
    }
}

pub(crate) async fn add(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(safe): Path<String>,
    body: Bytes,
) -> Response {
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let (user, mut vault, i) =
        match load(&world, &headers, &safe, Some(Permission::ManageSafeMembers)) {
            Ok(x) => x,
            Err(r) => return r,
        };
    let name = body.str("memberName").unwrap_or("").trim().to_string();
    if name.is_empty() {
        return missing_parameter("memberName");
    }
    let perms = match permissions(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(kind) = vault.principal_kind(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            "ARKSIM404E",
            format!("Member [{name}] was not found in the Vault."),
        );
    };
    let safe_name = vault.safes[i].name.clone();
    if position(&vault.safes[i], &name).is_some() {
        return error(
            StatusCode::CONFLICT,
            "SFWS0012",
            format!("[{name}] is already a member of safe [{safe_name}]."),
        );
    }
    let id = vault.next_member_id;
    vault.next_member_id += 1;
    let s = &mut vault.safes[i];
    s.members.push(Member {
        id,
        name: name.clone(),
        kind,
        permissions: perms,
    });
    s.last_modified_us = state::now_micros();
    tracing::debug!(
        user,
        safe = safe_name,
        member = name,
        "PVWA: safe member added"
    );
    let out = s
        .members
        .last()
        .map(|m| member_json(s, m))
        .unwrap_or(Value::Null);
    http::json(StatusCode::CREATED, &out)
}

/// The safe and member indexes for update/delete, refusing one's own membership.
fn target(vault: &Vault, i: usize, member: &str, user: &str) -> Result<usize, Response> {
    let s = &vault.safes[i];
    let m = position(s, member).ok_or_else(|| not_a_member(&s.name, member))?;
    if member.eq_ignore_ascii_case(user) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "SFWS0013",
            "You cannot update your own safe membership.",
        ));
    }
    Ok(m)
}

pub(crate) async fn update(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path((safe, member)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let (user, mut vault, i) =
        match load(&world, &headers, &safe, Some(Permission::ManageSafeMembers)) {
            Ok(x) => x,
            Err(r) => return r,
        };
    let m = match target(&vault, i, &member, &user) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let perms = match permissions(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let s = &mut vault.safes[i];
    s.members[m].permissions = perms;
    s.last_modified_us = state::now_micros();
    tracing::debug!(user, safe = s.name, member, "PVWA: safe member updated");
    http::json(StatusCode::OK, &member_json(s, &s.members[m]))
}

pub(crate) async fn delete(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path((safe, member)): Path<(String, String)>,
) -> Response {
    let (user, mut vault, i) =
        match load(&world, &headers, &safe, Some(Permission::ManageSafeMembers)) {
            Ok(x) => x,
            Err(r) => return r,
        };
    let m = match target(&vault, i, &member, &user) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let s = &mut vault.safes[i];
    s.members.remove(m);
    s.last_modified_us = state::now_micros();
    tracing::debug!(user, safe = s.name, member, "PVWA: safe member removed");
    http::empty(StatusCode::NO_CONTENT)
}
