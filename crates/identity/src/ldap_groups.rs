//! From a user entry to all of its groups, nested ones included.
//!
//! The walk goes level by level: the user's direct groups are level 1, the groups those groups
//! belong to level 2, and so on. A group already seen (compared by normalised DN) is not visited
//! again, which ends cycles (`a` in `b` in `a`) and shares diamonds. A group beyond
//! `max_nesting_depth` is an error: a shorter list than the directory says would quietly deny or,
//! worse, be read as "this is everything".

use std::collections::HashSet;

use ldap3::Scope;
use serde::Serialize;

use crate::ldap_config::{Settings, Strategy};
use crate::ldap_dn::NormalizedDn;
use crate::ldap_error::LdapError;
use crate::ldap_filter::FilterTemplate;
use crate::ldap_session::{Entry, NO_SUCH_OBJECT, Query, Session};

/// A user found in the directory and every group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserGroups {
    /// The DN of the one user entry that matched.
    pub user_dn: String,
    /// Direct groups first, then nested ones by level; each group once.
    pub groups: Vec<Group>,
}

/// One group of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub dn: String,
    /// The value of the configured group name attribute (`cn` by default).
    pub name: String,
    /// 1 for a group the user is a direct member of, 2 for a group containing such a group, ...
    pub depth: u32,
}

impl UserGroups {
    /// The group names, in the order of [`UserGroups::groups`].
    pub fn names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_str()).collect()
    }

    /// True when the user is in a group of this name, directly or through nesting. Names
    /// compare case-insensitively, as `cn` does in the directory.
    pub fn is_member_of(&self, name: &str) -> bool {
        let wanted = name.to_lowercase();
        self.groups.iter().any(|g| g.name.to_lowercase() == wanted)
    }
}

/// The state of one walk.
struct Walk<'s> {
    settings: &'s Settings,
    user_dn: &'s str,
    seen: HashSet<NormalizedDn>,
    groups: Vec<Group>,
}

impl<'s> Walk<'s> {
    /// Marks `dn` as seen; false when it was seen before (a cycle or a diamond).
    fn first_visit(&mut self, dn: &str) -> Result<bool, LdapError> {
        let normalized = NormalizedDn::parse(dn).map_err(|detail| LdapError::Protocol {
            server: self.settings.server.clone(),
            operation: "group lookup",
            detail,
        })?;
        Ok(self.seen.insert(normalized))
    }

    fn check_depth(&self, depth: u32, group_dn: &str) -> Result<(), LdapError> {
        if depth > self.settings.max_nesting_depth {
            return Err(LdapError::NestingTooDeep {
                server: self.settings.server.clone(),
                user_dn: self.user_dn.to_string(),
                group_dn: group_dn.to_string(),
                limit: self.settings.max_nesting_depth,
            });
        }
        Ok(())
    }

    fn add(&mut self, entry: &Entry, depth: u32) -> Result<(), LdapError> {
        let attribute = &self.settings.group_name_attribute;
        let name = entry
            .first(attribute)
            .ok_or_else(|| LdapError::MissingAttribute {
                server: self.settings.server.clone(),
                dn: entry.dn.clone(),
                attribute: attribute.clone(),
            })?;
        self.groups.push(Group {
            dn: entry.dn.clone(),
            name: name.to_string(),
            depth,
        });
        Ok(())
    }
}

/// All groups of `user` (an entry read with the attributes [`user_attributes`] names).
pub(crate) async fn resolve(
    session: &mut Session<'_>,
    settings: &Settings,
    user: &Entry,
) -> Result<Vec<Group>, LdapError> {
    let mut walk = Walk {
        settings,
        user_dn: &user.dn,
        seen: HashSet::new(),
        groups: Vec::new(),
    };
    match &settings.strategy {
        Strategy::MemberOf { attribute } => {
            by_member_of(session, &mut walk, attribute, user).await?;
        }
        Strategy::Search { filter } => by_search(session, &mut walk, filter, user).await?,
    }
    let mut groups = walk.groups;
    groups.sort_by(|a, b| a.depth.cmp(&b.depth).then_with(|| a.name.cmp(&b.name)));
    Ok(groups)
}

/// The user attributes the walk needs.
pub(crate) fn user_attributes(settings: &Settings) -> Vec<&str> {
    match &settings.strategy {
        Strategy::MemberOf { attribute } => vec![attribute.as_str()],
        Strategy::Search { .. } => vec![settings.uid_attribute.as_str()],
    }
}

/// Follows `memberOf` values: each group is read (base scope) for its name and, when nesting is
/// on, its own `memberOf`. Values outside the group base are not arkbridge's groups and are
/// skipped; a value naming an entry the service account cannot see is skipped as well.
async fn by_member_of(
    session: &mut Session<'_>,
    walk: &mut Walk<'_>,
    attribute: &str,
    user: &Entry,
) -> Result<(), LdapError> {
    let settings = walk.settings;
    let name_attribute = settings.group_name_attribute.as_str();
    let mut frontier: Vec<String> = user.values(attribute).to_vec();
    let mut depth = 1;
    loop {
        let mut pending = Vec::new();
        for dn in frontier.drain(..) {
            let normalized = NormalizedDn::parse(&dn).map_err(|detail| LdapError::Protocol {
                server: settings.server.clone(),
                operation: "group lookup",
                detail: format!("`{attribute}` value: {detail}"),
            })?;
            if !normalized.is_within(&settings.group_base) {
                tracing::debug!(group = %dn, "group outside the group base ignored");
            } else if walk.first_visit(&dn)? {
                pending.push(dn);
            }
        }
        let Some(first) = pending.first() else {
            return Ok(());
        };
        walk.check_depth(depth, first)?;
        for dn in pending {
            let outcome = session
                .search(Query {
                    operation: "group read",
                    base: &dn,
                    scope: Scope::Base,
                    filter: "(objectClass=*)",
                    attrs: &[name_attribute, attribute],
                    size_limit: 1,
                    accept: &[NO_SUCH_OBJECT],
                })
                .await?;
            let Some(entry) = outcome.entries.first() else {
                tracing::warn!(group = %dn, "a memberOf value names no readable entry; skipped");
                continue;
            };
            walk.add(entry, depth)?;
            if settings.nested_groups {
                frontier.extend(entry.values(attribute).iter().cloned());
            }
        }
        depth += 1;
    }
}

/// Searches the group base for groups that list the member: first the user (`{dn}`, `{uid}`),
/// then, when nesting is on and the template does not need a user name, each group found.
async fn by_search(
    session: &mut Session<'_>,
    walk: &mut Walk<'_>,
    template: &FilterTemplate,
    user: &Entry,
) -> Result<(), LdapError> {
    let settings = walk.settings;
    let uid = user.first(&settings.uid_attribute).map(str::to_string);
    let first_filter = template
        .render(|name| match name {
            "dn" => Some(user.dn.clone()),
            _ => uid.clone(),
        })
        .ok_or_else(|| LdapError::MissingAttribute {
            server: settings.server.clone(),
            dn: user.dn.clone(),
            attribute: settings.uid_attribute.clone(),
        })?;
    let can_nest = settings.nested_groups && !template.uses("uid");
    let mut filters = vec![first_filter];
    let mut depth = 1;
    loop {
        let mut pending = Vec::new();
        for filter in filters.drain(..) {
            let outcome = session
                .search(Query {
                    operation: "group search",
                    base: &settings.group_base_dn,
                    scope: Scope::Subtree,
                    filter: &filter,
                    attrs: &[settings.group_name_attribute.as_str()],
                    size_limit: 0,
                    accept: &[],
                })
                .await?;
            for entry in outcome.entries {
                if walk.first_visit(&entry.dn)? {
                    pending.push(entry);
                }
            }
        }
        let Some(first) = pending.first() else {
            return Ok(());
        };
        walk.check_depth(depth, &first.dn)?;
        for entry in &pending {
            walk.add(entry, depth)?;
            if can_nest {
                // A group has no user name, so only `{dn}` is filled; `can_nest` guarantees the
                // template needs nothing else.
                let dn = entry.dn.clone();
                filters.extend(template.render(|_| Some(dn.clone())));
            }
        }
        depth += 1;
    }
}
