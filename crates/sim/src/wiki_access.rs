//! Who may see and change what on the simulated site.
//!
//! Space permission assignments decide the space-level rights (`read` on `space` to see the space
//! and its content, `create` on `page` to add and edit pages, `create` on `comment` to comment,
//! `delete` on `page`, `administer` on `space`). Page restrictions narrow them: a read
//! restriction on a page or on any of its ancestors hides the page from everyone it does not name
//! (directly or through a group); an update restriction on the page itself stops everyone else
//! from editing it. Every route checks through here, so lists, single reads, searches and
//! writes agree.

use crate::wiki::{Page, Principal, Principals, Space, Wiki};

/// What a caller wants to do with a page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    Read,
    Update,
    Delete,
    Comment,
}

impl Op {
    /// The v1 permission-check operation names.
    pub(crate) fn parse(s: &str) -> Option<Op> {
        match s.to_ascii_lowercase().as_str() {
            "read" => Some(Op::Read),
            "update" => Some(Op::Update),
            "delete" => Some(Op::Delete),
            _ => None,
        }
    }
}

/// Who is asking: a user (by account id) or a group (v1 permission check with a group subject).
#[derive(Clone, Copy)]
pub(crate) enum Subject<'a> {
    User(&'a str),
    Group(&'a str),
}

impl Wiki {
    fn matches(&self, subject: Subject<'_>, principal: &Principal) -> bool {
        match (subject, principal) {
            (Subject::User(a), Principal::User(u)) => a == u,
            (Subject::User(a), Principal::Group(g)) => self
                .group(g)
                .is_some_and(|g| g.members.iter().any(|m| m == a)),
            (Subject::Group(s), Principal::Group(g)) => s == g,
            (Subject::Group(_), Principal::User(_)) => false,
        }
    }

    fn listed(&self, subject: Subject<'_>, who: &Principals) -> bool {
        who.users
            .iter()
            .map(|u| Principal::User(u.clone()))
            .chain(who.groups.iter().map(|g| Principal::Group(g.clone())))
            .any(|p| self.matches(subject, &p))
    }

    /// Whether the subject holds `operation` on `target` in the space.
    pub(crate) fn space_allows(
        &self,
        subject: Subject<'_>,
        space: &Space,
        operation: &str,
        target: &str,
    ) -> bool {
        space.permissions.iter().any(|p| {
            p.operation == operation && p.target == target && self.matches(subject, &p.principal)
        })
    }

    pub(crate) fn can_view_space(&self, subject: Subject<'_>, space: &Space) -> bool {
        self.space_allows(subject, space, "read", "space")
    }

    /// Whether the page's read restrictions (its own and its ancestors') let the subject in.
    fn read_restrictions_allow(&self, subject: Subject<'_>, page: &Page) -> bool {
        let own = std::iter::once(page);
        let ancestors = self.ancestors(page);
        own.chain(ancestors.iter().filter_map(|id| self.page(*id)))
            .all(|p| p.restrictions.read.is_empty() || self.listed(subject, &p.restrictions.read))
    }

    /// The answer to "may `subject` do `op` on `page`", with the reason when not (the v1
    /// permission check reports it).
    pub(crate) fn check(&self, subject: Subject<'_>, page: &Page, op: Op) -> Result<(), String> {
        let who = match subject {
            Subject::User(_) => "User",
            Subject::Group(_) => "Group",
        };
        let Some(space) = self.space(page.space_id) else {
            return Err(format!("{who} does not have permission to the space"));
        };
        if !self.can_view_space(subject, space) {
            return Err(format!("{who} does not have permission to the space"));
        }
        if !self.read_restrictions_allow(subject, page) {
            return Err(format!("{who} does not have permission to the content"));
        }
        let (operation, target) = match op {
            Op::Read => return Ok(()),
            Op::Update => ("create", "page"),
            Op::Delete => ("delete", "page"),
            Op::Comment => ("create", "comment"),
        };
        if !self.space_allows(subject, space, operation, target) {
            return Err(format!("{who} does not have permission to the space"));
        }
        if matches!(op, Op::Update | Op::Delete)
            && !page.restrictions.update.is_empty()
            && !self.listed(subject, &page.restrictions.update)
        {
            return Err(format!("{who} does not have permission to the content"));
        }
        Ok(())
    }

    /// Whether the account may see the page (any status).
    pub(crate) fn can_read(&self, account_id: &str, page: &Page) -> bool {
        self.check(Subject::User(account_id), page, Op::Read)
            .is_ok()
    }

    pub(crate) fn can(&self, account_id: &str, page: &Page, op: Op) -> bool {
        self.check(Subject::User(account_id), page, op).is_ok()
    }

    /// The spaces the account may see.
    pub(crate) fn visible_spaces<'a>(
        &'a self,
        account_id: &'a str,
    ) -> impl Iterator<Item = &'a Space> {
        self.spaces
            .iter()
            .filter(move |s| self.can_view_space(Subject::User(account_id), s))
    }

    /// The operations the account may perform on a page, as v2 `operations` / v1 `operations`
    /// entries (`operation`, `targetType`).
    pub(crate) fn page_operations(
        &self,
        account_id: &str,
        page: &Page,
    ) -> Vec<(&'static str, &'static str)> {
        [
            (Op::Read, "read"),
            (Op::Update, "update"),
            (Op::Delete, "delete"),
        ]
        .into_iter()
        .filter(|(op, _)| self.can(account_id, page, *op))
        .map(|(_, name)| (name, "page"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wiki::{Group, PageStatus, Restrictions, SpacePermission, Version};

    fn page(id: u64, parent: Option<u64>, restrictions: Restrictions) -> Page {
        Page {
            id,
            space_id: 1,
            parent_id: parent,
            position: 0,
            author_id: "a".into(),
            owner_id: "a".into(),
            created_at: String::new(),
            status: PageStatus::Current,
            versions: vec![Version {
                number: 1,
                created_at: String::new(),
                message: String::new(),
                minor_edit: false,
                author_id: "a".into(),
                title: format!("p{id}"),
                body: String::new(),
            }],
            labels: Vec::new(),
            properties: Vec::new(),
            restrictions,
            attachments: Vec::new(),
        }
    }

    fn wiki() -> Wiki {
        let mut w = Wiki::new("c".into());
        w.groups.push(Group {
            id: "g-admins".into(),
            name: "admins".into(),
            members: vec!["alice".into()],
        });
        let perm = |id, p, op: &str, t: &str| SpacePermission {
            id,
            principal: p,
            operation: op.into(),
            target: t.into(),
        };
        w.spaces.push(Space {
            id: 1,
            key: "OPS".into(),
            name: "Ops".into(),
            description: String::new(),
            author_id: "a".into(),
            created_at: String::new(),
            homepage_id: None,
            permissions: vec![
                perm(1, Principal::User("bob".into()), "read", "space"),
                perm(2, Principal::Group("g-admins".into()), "read", "space"),
                perm(3, Principal::Group("g-admins".into()), "create", "page"),
            ],
            labels: Vec::new(),
        });
        let secret = Restrictions {
            read: Principals {
                users: Vec::new(),
                groups: vec!["g-admins".into()],
            },
            update: Principals::default(),
        };
        w.pages.push(page(10, None, secret));
        w.pages.push(page(11, Some(10), Restrictions::default()));
        w.pages.push(page(12, None, Restrictions::default()));
        w
    }

    #[test]
    fn read_restrictions_are_inherited() {
        let w = wiki();
        let child = w.page(11).unwrap();
        assert!(w.can_read("alice", child));
        assert!(!w.can_read("bob", child));
        assert!(w.can_read("bob", w.page(12).unwrap()));
        assert!(!w.can_read("mallory", w.page(12).unwrap()));
    }

    #[test]
    fn editing_needs_the_space_permission() {
        let w = wiki();
        let open = w.page(12).unwrap();
        assert!(w.can("alice", open, Op::Update));
        let err = w.check(Subject::User("bob"), open, Op::Update).unwrap_err();
        assert!(err.contains("space"), "{err}");
    }
}
