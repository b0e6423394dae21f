//! Builds the simulated Confluence site from a validated seed: users and their credentials,
//! groups (the seed's groups restricted to Confluence users, plus `confluence-users` with
//! everyone), spaces with a homepage and permission assignments, seeded and generated pages.

use std::collections::HashMap;

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::SimError;
use crate::seed::Seed;
use crate::wiki::{
    self, Attachment, GatewayToken, Group, Page, PageStatus, Principal, Principals, Property,
    Restrictions, Space, SpacePermission, Version, Wiki, WikiUser,
};
use crate::wiki_seed::{self, SeedPage, SeedPrincipals, SeedSpace};
use crate::wiki_storage;

/// The group every Confluence user belongs to (Confluence's default product-access group).
pub(crate) const ALL_USERS_GROUP: &str = "confluence-users";

fn invalid(msg: String) -> SimError {
    SimError::SeedInvalid(msg)
}

fn version(number: u32, at: &str, author: &str, title: &str, body: &str, message: &str) -> Version {
    Version {
        number,
        created_at: at.to_string(),
        message: message.to_string(),
        minor_edit: false,
        author_id: author.to_string(),
        title: title.to_string(),
        body: body.to_string(),
    }
}

/// Builds the site. `tokens` holds the API tokens fixed by account links (`secretOf`), keyed by
/// lower-case e-mail.
pub(crate) fn build(
    seed: &Seed,
    tokens: &HashMap<String, Option<Zeroizing<String>>>,
) -> Result<Wiki, SimError> {
    let cloud_id = wiki::stable_uuid(&format!(
        "cloud:{}",
        seed.spaces.first().map_or("site", |s| s.key.as_str())
    ))
    .to_string();
    let mut w = Wiki::new(cloud_id);
    for u in &seed.confluence_users {
        let key = u.email.to_ascii_lowercase();
        let mut token = tokens
            .get(&key)
            .and_then(|t| t.as_ref().map(|t| t.to_string()));
        if token.is_none() && u.email.eq_ignore_ascii_case(&seed.bridge.confluence_user) {
            token = Some(crate::state::random_api_token());
        }
        let gateway = |list: &[wiki_seed::SeedGatewayToken]| {
            list.iter()
                .map(|t| GatewayToken {
                    token: SecretString::from(t.token.as_str()),
                    scopes: t.scopes.as_ref().map(|s| s.iter().cloned().collect()),
                })
                .collect()
        };
        let username = u.username.clone().unwrap_or_else(|| {
            u.email
                .split_once('@')
                .map_or(u.email.as_str(), |(l, _)| l)
                .to_string()
        });
        w.users.push(WikiUser {
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            account_id: u
                .account_id
                .clone()
                .unwrap_or_else(|| wiki::account_id_for(&u.email)),
            token: token.map(SecretString::from),
            scoped_tokens: gateway(&u.scoped_tokens),
            oauth_tokens: gateway(&u.oauth_tokens),
            user_key: wiki::stable_uuid(&format!("userkey:{username}"))
                .simple()
                .to_string(),
            username,
            password: u.password.as_deref().map(SecretString::from),
            pat: u.pat.as_deref().map(SecretString::from),
        });
    }
    let everyone: Vec<String> = w.users.iter().map(|u| u.account_id.clone()).collect();
    for g in &seed.groups {
        let members = g
            .members
            .iter()
            .filter_map(|m| w.account_id(m).map(str::to_string))
            .collect();
        w.groups.push(Group {
            id: wiki::stable_uuid(&format!("group:{}", g.name.to_ascii_lowercase())).to_string(),
            name: g.name.clone(),
            members,
        });
    }
    if w.group_by_name(ALL_USERS_GROUP).is_none() {
        w.groups.push(Group {
            id: wiki::stable_uuid(&format!("group:{ALL_USERS_GROUP}")).to_string(),
            name: ALL_USERS_GROUP.into(),
            members: everyone,
        });
    }
    let first_author = w
        .users
        .first()
        .map(|u| u.account_id.clone())
        .unwrap_or_default();
    let now = wiki::timestamp();
    for s in &seed.spaces {
        add_space(&mut w, s, &first_author, &now)?;
    }
    for p in &seed.pages {
        add_page(&mut w, p, &first_author, &now)?;
    }
    for s in &seed.spaces {
        generate(&mut w, s, &first_author)?;
    }
    Ok(w)
}

fn principal_for(w: &Wiki, user: Option<&str>, group: Option<&str>) -> Result<Principal, String> {
    match (user, group) {
        (Some(u), None) => w
            .account_id(u)
            .map(|a| Principal::User(a.to_string()))
            .ok_or_else(|| format!("`{u}` is not a Confluence user")),
        (None, Some(g)) => w
            .group_by_name(g)
            .map(|g| Principal::Group(g.id.clone()))
            .ok_or_else(|| format!("`{g}` is not a group")),
        _ => Err("name exactly one of user or group".into()),
    }
}

fn add_space(w: &mut Wiki, s: &SeedSpace, author: &str, now: &str) -> Result<(), SimError> {
    let id = w.next_space_id();
    let grants: Vec<(Principal, Vec<String>)> = match &s.permissions {
        Some(list) => list
            .iter()
            .map(|p| {
                principal_for(w, p.user.as_deref(), p.group.as_deref())
                    .map(|who| (who, p.grant.clone()))
                    .map_err(|e| invalid(format!("space {} permissions: {e}", s.key)))
            })
            .collect::<Result<_, _>>()?,
        None => {
            let all = w
                .group_by_name(ALL_USERS_GROUP)
                .map(|g| g.id.clone())
                .unwrap_or_default();
            vec![(
                Principal::Group(all),
                ["view", "edit", "comment", "delete", "export"]
                    .map(String::from)
                    .to_vec(),
            )]
        }
    };
    let mut permissions = Vec::new();
    for (who, list) in grants {
        for g in list {
            let pairs = wiki_seed::expand_grant(&g)
                .map_err(|e| invalid(format!("space {} permissions: {e}", s.key)))?;
            for (operation, target) in pairs {
                permissions.push(SpacePermission {
                    id: w.next_permission_id(),
                    principal: who.clone(),
                    operation,
                    target,
                });
            }
        }
    }
    let labels = s.labels.iter().map(|l| w.label_id("global", l)).collect();
    let home_id = w.next_content_id();
    let title = format!("{} Home", s.name);
    let body = s.homepage.clone().unwrap_or_else(|| {
        format!(
            "<p local-id=\"{}\">Welcome to <strong>{}</strong>.</p>",
            wiki_storage::local_id(&format!("home/{}", s.key)),
            quick_escape(&s.name)
        )
    });
    w.spaces.push(Space {
        id,
        key: s.key.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        author_id: author.to_string(),
        created_at: now.to_string(),
        homepage_id: Some(home_id),
        permissions,
        labels,
    });
    w.pages
        .push(new_page(home_id, id, None, 0, author, now, &title, &body));
    Ok(())
}

fn quick_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[allow(clippy::too_many_arguments)]
fn new_page(
    id: u64,
    space_id: u64,
    parent: Option<u64>,
    position: i32,
    author: &str,
    at: &str,
    title: &str,
    body: &str,
) -> Page {
    Page {
        id,
        space_id,
        parent_id: parent,
        position,
        author_id: author.to_string(),
        owner_id: author.to_string(),
        created_at: at.to_string(),
        status: PageStatus::Current,
        versions: vec![version(1, at, author, title, body, "")],
        labels: Vec::new(),
        properties: Vec::new(),
        restrictions: Restrictions::default(),
        attachments: Vec::new(),
    }
}

fn parent_of(
    w: &Wiki,
    space: &Space,
    title: Option<&str>,
    page: &str,
) -> Result<Option<u64>, SimError> {
    match title {
        None => Ok(space.homepage_id),
        Some(t) => w
            .pages
            .iter()
            .find(|p| p.space_id == space.id && p.current().title == t)
            .map(|p| Some(p.id))
            .ok_or_else(|| {
                invalid(format!(
                    "page `{page}`: parent `{t}` is not an earlier page of space {}",
                    space.key
                ))
            }),
    }
}

fn principals(w: &Wiki, p: &SeedPrincipals, page: &str) -> Result<Principals, SimError> {
    let users = p
        .users
        .iter()
        .map(|u| {
            w.account_id(u).map(str::to_string).ok_or_else(|| {
                invalid(format!(
                    "page `{page}` restrictions: `{u}` is not a Confluence user"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let groups = p
        .groups
        .iter()
        .map(|g| {
            w.group_by_name(g)
                .map(|g| g.id.clone())
                .ok_or_else(|| invalid(format!("page `{page}` restrictions: `{g}` is not a group")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Principals { users, groups })
}

fn add_page(w: &mut Wiki, p: &SeedPage, first_author: &str, now: &str) -> Result<(), SimError> {
    let space = w
        .space_by_key(&p.space)
        .ok_or_else(|| invalid(format!("page {}: unknown space", p.title)))?;
    let space_id = space.id;
    let parent = parent_of(w, space, p.parent.as_deref(), &p.title)?;
    let author = p
        .author
        .as_deref()
        .and_then(|a| w.account_id(a))
        .map_or_else(|| first_author.to_string(), str::to_string);
    let at =
        match &p.created {
            Some(t) => wiki::format_timestamp(wiki_seed::parse_time(t).ok_or_else(|| {
                invalid(format!("page `{}`: created `{t}` is not a date", p.title))
            })?),
            None => now.to_string(),
        };
    let body = p.body.as_deref().unwrap_or_default();
    if let Some(msg) = wiki_storage::check(body) {
        return Err(invalid(format!("page `{}`: {msg}", p.title)));
    }
    let id = w.next_content_id();
    let position = w.next_position(space_id, parent);
    let mut page = new_page(id, space_id, parent, position, &author, &at, &p.title, body);
    let mut versions = Vec::new();
    for (i, v) in p.previous_versions.iter().enumerate() {
        let by = v
            .author
            .as_deref()
            .and_then(|a| w.account_id(a))
            .map_or_else(|| author.clone(), str::to_string);
        let title = v.title.as_deref().unwrap_or(&p.title);
        versions.push(version(i as u32 + 1, &at, &by, title, &v.body, &v.message));
    }
    let current_number = versions.len() as u32 + 1;
    page.versions[0].number = current_number;
    versions.push(page.versions.remove(0));
    page.versions = versions;
    page.labels = p.labels.iter().map(|l| w.label_id("global", l)).collect();
    if let Some(r) = &p.restrictions {
        page.restrictions = Restrictions {
            read: principals(w, &r.read, &p.title)?,
            update: principals(w, &r.update, &p.title)?,
        };
    }
    for (key, value) in &p.properties {
        page.properties.push(Property {
            id: w.next_property_id(),
            key: key.clone(),
            value: value.clone(),
            version: version(1, &at, &author, "", "", ""),
        });
    }
    for a in &p.attachments {
        page.attachments.push(Attachment {
            id: w.next_content_id(),
            title: a.filename.clone(),
            media_type: a.media_type.clone(),
            comment: a.comment.clone(),
            data: a.content.as_bytes().to_vec(),
            version: version(1, &at, &author, &a.filename, "", ""),
            created_at: at.clone(),
        });
    }
    w.pages.push(page);
    Ok(())
}

fn generate(w: &mut Wiki, s: &SeedSpace, author: &str) -> Result<(), SimError> {
    let Some(g) = &s.generate else {
        return Ok(());
    };
    if g.count > 200_000 {
        return Err(invalid(format!(
            "space {}: generate.count {} is above the limit of 200000",
            s.key, g.count
        )));
    }
    let space = w
        .space_by_key(&s.key)
        .ok_or_else(|| invalid(format!("space {} vanished", s.key)))?;
    let space_id = space.id;
    let parent = parent_of(w, space, g.parent.as_deref(), "generated")?;
    let start = match &g.created {
        Some(t) => wiki_seed::parse_time(t).ok_or_else(|| {
            invalid(format!(
                "space {}: generate.created `{t}` is not a date",
                s.key
            ))
        })?,
        None => jiff::Timestamp::now(),
    };
    let labels: Vec<u64> = g.labels.iter().map(|l| w.label_id("global", l)).collect();
    if let Some(t) = &g.body
        && let Some(msg) = wiki_storage::check(t)
    {
        return Err(invalid(format!("space {} generate.body: {msg}", s.key)));
    }
    let first = w.next_position(space_id, parent);
    for (position, n) in (first..).zip(1..=g.count) {
        let title = g.title.replace("{n}", &n.to_string());
        let body = wiki_storage::generated_body(g.body.as_deref(), &s.key, n, &title);
        let at = start
            .checked_add(jiff::SignedDuration::from_secs(60 * (n as i64 - 1)))
            .unwrap_or(start);
        let id = w.next_content_id();
        let mut page = new_page(
            id,
            space_id,
            parent,
            position,
            author,
            &wiki::format_timestamp(at),
            &title,
            &body,
        );
        page.labels = labels.clone();
        w.pages.push(page);
    }
    Ok(())
}
