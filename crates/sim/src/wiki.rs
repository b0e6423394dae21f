//! The simulated Confluence site: users (Cloud API tokens, gateway tokens, Data Center usernames
//! and personal access tokens), groups, spaces with their permission assignments, pages with
//! their full version history, labels, content properties, restrictions and attachments, and
//! footer comments. Ids are numeric strings, as in Confluence Cloud.
//!
//! Who may see or change what is decided in [`crate::wiki_access`]; the seed is turned into a
//! [`Wiki`] in [`crate::wiki_seed`].

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// First id given to spaces and to content (pages, comments and attachments share one sequence).
const FIRST_SPACE_ID: u64 = 131_073;
const FIRST_CONTENT_ID: u64 = 294_913;
const FIRST_LABEL_ID: u64 = 10_027_009;
const FIRST_PROPERTY_ID: u64 = 4_980_737;
const FIRST_PERMISSION_ID: u64 = 1_540_097;

pub(crate) struct Wiki {
    pub(crate) users: Vec<WikiUser>,
    pub(crate) groups: Vec<Group>,
    pub(crate) spaces: Vec<Space>,
    /// Sorted by id (ids only grow; purged pages are removed).
    pub(crate) pages: Vec<Page>,
    /// Sorted by id.
    pub(crate) comments: Vec<Comment>,
    /// Every label ever used on the site (label ids are global, as in Confluence).
    pub(crate) labels: Vec<Label>,
    /// The site's cloud id (`/_edge/tenant_info`, the gateway prefix `/ex/confluence/{cloudId}`).
    pub(crate) cloud_id: String,
    next_space_id: u64,
    next_content_id: u64,
    next_label_id: u64,
    next_property_id: u64,
    next_permission_id: u64,
}

/// An API token for the API gateway (a scoped API token or an OAuth access token) and the scopes
/// it was granted; `None` means every scope.
pub(crate) struct GatewayToken {
    pub(crate) token: SecretString,
    pub(crate) scopes: Option<BTreeSet<String>>,
}

pub(crate) struct WikiUser {
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) account_id: String,
    /// Classic (unscoped) API token: HTTP basic against the site URL only.
    pub(crate) token: Option<SecretString>,
    /// Scoped API tokens: HTTP basic against the gateway only.
    pub(crate) scoped_tokens: Vec<GatewayToken>,
    /// OAuth 2.0 access tokens: `Authorization: Bearer` against the gateway only.
    pub(crate) oauth_tokens: Vec<GatewayToken>,
    /// Data Center username and user key.
    pub(crate) username: String,
    pub(crate) user_key: String,
    /// Data Center password (HTTP basic) and personal access token (Bearer).
    pub(crate) password: Option<SecretString>,
    pub(crate) pat: Option<SecretString>,
}

pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Account ids.
    pub(crate) members: Vec<String>,
}

/// Who a permission or restriction names.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Principal {
    /// An account id.
    User(String),
    /// A group id.
    Group(String),
}

/// One v2 space permission assignment: `operation` on `target` (e.g. `read` / `space`).
pub(crate) struct SpacePermission {
    pub(crate) id: u64,
    pub(crate) principal: Principal,
    pub(crate) operation: String,
    pub(crate) target: String,
}

pub(crate) struct Space {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) author_id: String,
    pub(crate) created_at: String,
    pub(crate) homepage_id: Option<u64>,
    pub(crate) permissions: Vec<SpacePermission>,
    pub(crate) labels: Vec<u64>,
}

pub(crate) struct Version {
    pub(crate) number: u32,
    pub(crate) created_at: String,
    pub(crate) message: String,
    pub(crate) minor_edit: bool,
    pub(crate) author_id: String,
    pub(crate) title: String,
    pub(crate) body: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PageStatus {
    Current,
    Trashed,
}

impl PageStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PageStatus::Current => "current",
            PageStatus::Trashed => "trashed",
        }
    }
}

/// The users and groups a page restriction (`read` or `update`) lets through. Empty means the
/// page has no restriction of that kind.
#[derive(Default, Clone)]
pub(crate) struct Principals {
    pub(crate) users: Vec<String>,
    pub(crate) groups: Vec<String>,
}

impl Principals {
    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

#[derive(Default, Clone)]
pub(crate) struct Restrictions {
    pub(crate) read: Principals,
    pub(crate) update: Principals,
}

/// A content property: a JSON value under a key, with its own version counter.
pub(crate) struct Property {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) value: Value,
    pub(crate) version: Version,
}

pub(crate) struct Attachment {
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) media_type: String,
    pub(crate) comment: String,
    pub(crate) data: Vec<u8>,
    pub(crate) version: Version,
    pub(crate) created_at: String,
}

pub(crate) struct Page {
    pub(crate) id: u64,
    pub(crate) space_id: u64,
    pub(crate) parent_id: Option<u64>,
    pub(crate) position: i32,
    pub(crate) author_id: String,
    pub(crate) owner_id: String,
    pub(crate) created_at: String,
    pub(crate) status: PageStatus,
    /// Oldest first; the last one is current.
    pub(crate) versions: Vec<Version>,
    pub(crate) labels: Vec<u64>,
    pub(crate) properties: Vec<Property>,
    pub(crate) restrictions: Restrictions,
    pub(crate) attachments: Vec<Attachment>,
}

pub(crate) struct Comment {
    pub(crate) id: u64,
    pub(crate) page_id: u64,
    pub(crate) parent_comment_id: Option<u64>,
    pub(crate) versions: Vec<Version>,
}

pub(crate) struct Label {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) prefix: String,
}

/// Confluence's timestamp format: `YYYY-MM-DDTHH:mm:ss.sssZ`.
pub(crate) fn timestamp() -> String {
    format_timestamp(jiff::Timestamp::now())
}

pub(crate) fn format_timestamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A stable UUID from a text (for ids the seed does not give).
pub(crate) fn stable_uuid(text: &str) -> uuid::Uuid {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A stable Atlassian-style account id derived from the e-mail address.
pub(crate) fn account_id_for(email: &str) -> String {
    format!("557058:{}", stable_uuid(&email.to_ascii_lowercase()))
}

impl Page {
    pub(crate) fn current(&self) -> &Version {
        // A page always has at least one version (created with one, never emptied).
        &self.versions[self.versions.len() - 1]
    }

    pub(crate) fn version(&self, number: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.number == number)
    }
}

impl Comment {
    pub(crate) fn current(&self) -> &Version {
        &self.versions[self.versions.len() - 1]
    }
}

impl Wiki {
    pub(crate) fn new(cloud_id: String) -> Wiki {
        Wiki {
            users: Vec::new(),
            groups: Vec::new(),
            spaces: Vec::new(),
            pages: Vec::new(),
            comments: Vec::new(),
            labels: Vec::new(),
            cloud_id,
            next_space_id: FIRST_SPACE_ID,
            next_content_id: FIRST_CONTENT_ID,
            next_label_id: FIRST_LABEL_ID,
            next_property_id: FIRST_PROPERTY_ID,
            next_permission_id: FIRST_PERMISSION_ID,
        }
    }

    pub(crate) fn next_space_id(&mut self) -> u64 {
        let id = self.next_space_id;
        self.next_space_id += 1;
        id
    }

    pub(crate) fn next_content_id(&mut self) -> u64 {
        let id = self.next_content_id;
        self.next_content_id += 1;
        id
    }

    pub(crate) fn next_property_id(&mut self) -> u64 {
        let id = self.next_property_id;
        self.next_property_id += 1;
        id
    }

    pub(crate) fn next_permission_id(&mut self) -> u64 {
        let id = self.next_permission_id;
        self.next_permission_id += 1;
        id
    }

    pub(crate) fn user_mut(&mut self, email: &str) -> Option<&mut WikiUser> {
        self.users
            .iter_mut()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn account_id(&self, email: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .map(|u| u.account_id.as_str())
    }

    pub(crate) fn user_by_account(&self, account_id: &str) -> Option<&WikiUser> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub(crate) fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    pub(crate) fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn space(&self, id: u64) -> Option<&Space> {
        self.spaces.iter().find(|s| s.id == id)
    }

    pub(crate) fn space_by_key(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    pub(crate) fn page_index(&self, id: u64) -> Option<usize> {
        self.pages.binary_search_by_key(&id, |p| p.id).ok()
    }

    pub(crate) fn page(&self, id: u64) -> Option<&Page> {
        self.page_index(id).map(|i| &self.pages[i])
    }

    pub(crate) fn page_mut(&mut self, id: u64) -> Option<&mut Page> {
        self.page_index(id).map(|i| &mut self.pages[i])
    }

    pub(crate) fn comment(&self, id: u64) -> Option<&Comment> {
        self.comments
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &self.comments[i])
    }

    pub(crate) fn label(&self, id: u64) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// The id of the label `prefix:name`, registering it on first use.
    pub(crate) fn label_id(&mut self, prefix: &str, name: &str) -> u64 {
        if let Some(l) = self
            .labels
            .iter()
            .find(|l| l.prefix == prefix && l.name == name)
        {
            return l.id;
        }
        let id = self.next_label_id;
        self.next_label_id += 1;
        self.labels.push(Label {
            id,
            name: name.to_string(),
            prefix: prefix.to_string(),
        });
        id
    }

    /// The ids of a page's ancestors, root first.
    pub(crate) fn ancestors(&self, page: &Page) -> Vec<u64> {
        let mut out = Vec::new();
        let mut next = page.parent_id;
        while let Some(id) = next {
            // A parent cycle cannot be built through the API, but stop on one anyway.
            if out.contains(&id) {
                break;
            }
            out.push(id);
            next = self.page(id).and_then(|p| p.parent_id);
        }
        out.reverse();
        out
    }

    /// The next free child position under a parent (or at the space root).
    pub(crate) fn next_position(&self, space_id: u64, parent: Option<u64>) -> i32 {
        self.pages
            .iter()
            .filter(|p| p.space_id == space_id && p.parent_id == parent)
            .map(|p| p.position + 1)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_stable() {
        assert_eq!(account_id_for("a@x"), account_id_for("A@x"));
        assert!(account_id_for("a@x").starts_with("557058:"));
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let t = timestamp();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn labels_are_registered_once() {
        let mut w = Wiki::new("c".into());
        let a = w.label_id("global", "runbook");
        assert_eq!(w.label_id("global", "runbook"), a);
        assert_ne!(w.label_id("my", "runbook"), a);
    }
}
