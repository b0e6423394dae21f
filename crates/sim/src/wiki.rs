//! The simulated Confluence Cloud site: users (with API tokens), spaces, pages with their full
//! version history, and footer comments. Ids are numeric strings, as in Confluence Cloud.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// First id given to spaces and to content (pages and comments share one id sequence).
const FIRST_SPACE_ID: u64 = 131_073;
const FIRST_CONTENT_ID: u64 = 294_913;

pub(crate) struct Wiki {
    pub(crate) users: Vec<WikiUser>,
    pub(crate) spaces: Vec<Space>,
    pub(crate) pages: Vec<Page>,
    pub(crate) comments: Vec<Comment>,
    next_space_id: u64,
    next_content_id: u64,
}

pub(crate) struct WikiUser {
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) account_id: String,
    pub(crate) token: Option<SecretString>,
}

pub(crate) struct Space {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) author_id: String,
    pub(crate) created_at: String,
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

pub(crate) struct Page {
    pub(crate) id: u64,
    pub(crate) space_id: u64,
    pub(crate) author_id: String,
    pub(crate) created_at: String,
    /// Oldest first; the last one is current.
    pub(crate) versions: Vec<Version>,
}

pub(crate) struct Comment {
    pub(crate) id: u64,
    pub(crate) page_id: u64,
    pub(crate) versions: Vec<Version>,
}

/// Confluence's timestamp format: `YYYY-MM-DDTHH:mm:ss.sssZ`.
pub(crate) fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A stable Atlassian-style account id derived from the e-mail address.
pub(crate) fn account_id_for(email: &str) -> String {
    let digest = Sha256::digest(email.to_ascii_lowercase().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    format!("557058:{uuid}")
}

impl Page {
    pub(crate) fn current(&self) -> &Version {
        // A page always has at least one version (created with one, never emptied).
        &self.versions[self.versions.len() - 1]
    }
}

impl Comment {
    pub(crate) fn current(&self) -> &Version {
        &self.versions[self.versions.len() - 1]
    }
}

impl Wiki {
    pub(crate) fn new() -> Wiki {
        Wiki {
            users: Vec::new(),
            spaces: Vec::new(),
            pages: Vec::new(),
            comments: Vec::new(),
            next_space_id: FIRST_SPACE_ID,
            next_content_id: FIRST_CONTENT_ID,
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

    /// The account id of the user whose e-mail and API token match.
    pub(crate) fn authenticate(&self, email: &str, token: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .filter(|u| {
                u.token
                    .as_ref()
                    .is_some_and(|t| crate::state::constant_time_eq(t.expose_secret(), token))
            })
            .map(|u| u.account_id.clone())
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

    pub(crate) fn space(&self, id: u64) -> Option<&Space> {
        self.spaces.iter().find(|s| s.id == id)
    }

    pub(crate) fn page(&self, id: u64) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }
}

/// Whether a storage-format value would be refused by Confluence's XHTML parser because it holds
/// an unsplit `]]>` outside a CDATA section. Returns the parser's message if so.
pub(crate) fn storage_error(value: &str) -> Option<String> {
    const OPEN: &str = "<![CDATA[";
    let mut rest = value;
    loop {
        let cdata = rest.find(OPEN);
        let end = rest.find("]]>");
        match (cdata, end) {
            (Some(c), e) if e.is_none_or(|e| c < e) => {
                let after = &rest[c + OPEN.len()..];
                match after.find("]]>") {
                    Some(close) => rest = &after[close + 3..],
                    None => {
                        return Some(
                            "Error parsing xhtml: Unexpected EOF in CDATA section".to_string(),
                        );
                    }
                }
            }
            (_, None) => return None,
            _ => {
                return Some(
                    "Error parsing xhtml: String ']]>' not allowed in textual content, except as \
                     the end marker of CDATA section"
                        .to_string(),
                );
            }
        }
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
    fn unsplit_cdata_end_is_refused() {
        assert!(storage_error("<p>ok</p><![CDATA[a]]]]><![CDATA[>b]]>").is_none());
        assert!(storage_error("<p>a ]]> b</p>").is_some());
        assert!(storage_error("<![CDATA[never closed").is_some());
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let t = timestamp();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z'));
    }
}
