//! The Confluence part of the seed file: users (Cloud API tokens, gateway tokens with scopes,
//! Data Center usernames, passwords and personal access tokens), spaces with permissions and
//! generated pages, and pages with bodies (inline or from files), parents, labels, properties,
//! restrictions, attachments and earlier versions. `SEED.md` documents every field;
//! [`crate::wiki_build`] turns them into a [`crate::wiki::Wiki`].
//!
//! Like the rest of the seed, these types do not implement `Debug`, so the tokens they may hold
//! never reach a log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::SimError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedConfluenceUser {
    pub(crate) email: String,
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) account_id: Option<String>,
    /// Classic API token (site URL, HTTP basic).
    #[serde(default)]
    pub(crate) api_token: Option<String>,
    /// Scoped API tokens (gateway, HTTP basic).
    #[serde(default)]
    pub(crate) scoped_tokens: Vec<SeedGatewayToken>,
    /// OAuth 2.0 access tokens (gateway, Bearer).
    #[serde(default)]
    pub(crate) oauth_tokens: Vec<SeedGatewayToken>,
    /// Data Center username; the part of the e-mail before `@` by default.
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// Data Center password (HTTP basic).
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// Data Center personal access token (Bearer).
    #[serde(default)]
    pub(crate) pat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedGatewayToken {
    pub(crate) token: String,
    /// Granular or classic scopes; every scope when left out.
    #[serde(default)]
    pub(crate) scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedSpace {
    pub(crate) key: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    /// Storage body of the space homepage ("NAME Home").
    #[serde(default)]
    pub(crate) homepage: Option<String>,
    /// Who may do what; every Confluence user may view, edit, comment and delete when left out.
    #[serde(default)]
    pub(crate) permissions: Option<Vec<SeedSpacePermission>>,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    /// Pages generated for scale tests.
    #[serde(default)]
    pub(crate) generate: Option<SeedGenerate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedSpacePermission {
    /// A Confluence user's e-mail.
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// A group name.
    #[serde(default)]
    pub(crate) group: Option<String>,
    /// Shorthands (`view`, `edit`, `comment`, `delete`, `restrict`, `export`, `admin`) or
    /// `operation:target` pairs of the v2 API (`read:space`, `create:page`, ...).
    pub(crate) grant: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedGenerate {
    pub(crate) count: usize,
    /// Title with `{n}` (1-based); `Generated page {n}` by default.
    #[serde(default = "default_generated_title")]
    pub(crate) title: String,
    /// Storage body with `{n}`, `{title}` and `{space}`; a realistic runbook note by default.
    #[serde(default)]
    pub(crate) body: Option<String>,
    /// Title of the parent page; the homepage by default.
    #[serde(default)]
    pub(crate) parent: Option<String>,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    /// Creation time of the first generated page; each next one is a minute later.
    #[serde(default)]
    pub(crate) created: Option<String>,
}

fn default_generated_title() -> String {
    "Generated page {n}".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPage {
    pub(crate) space: String,
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    /// A file with the storage body, relative to the seed file.
    #[serde(default)]
    pub(crate) body_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) author: Option<String>,
    /// Title of the parent page in the same space; the homepage by default.
    #[serde(default)]
    pub(crate) parent: Option<String>,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    #[serde(default)]
    pub(crate) restrictions: Option<SeedRestrictions>,
    #[serde(default)]
    pub(crate) properties: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) attachments: Vec<SeedAttachment>,
    /// Earlier versions, oldest first; the page's `body` and `title` are the current version.
    #[serde(default)]
    pub(crate) previous_versions: Vec<SeedVersion>,
    /// Creation time: `YYYY-MM-DD`, RFC 3339, or relative like `-3d`, `-12h`, `-30m`.
    #[serde(default)]
    pub(crate) created: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedVersion {
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) author: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedRestrictions {
    #[serde(default)]
    pub(crate) read: SeedPrincipals,
    #[serde(default)]
    pub(crate) update: SeedPrincipals,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedPrincipals {
    /// Confluence users' e-mails.
    #[serde(default)]
    pub(crate) users: Vec<String>,
    /// Group names.
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedAttachment {
    pub(crate) filename: String,
    #[serde(default = "default_media_type")]
    pub(crate) media_type: String,
    /// The file's text content.
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) comment: String,
}

fn default_media_type() -> String {
    "text/plain".into()
}

/// Reads every page's `bodyFile` (relative to `base`, the seed file's folder) into its `body`.
/// A page must have exactly one of the two.
pub(crate) fn read_body_files(pages: &mut [SeedPage], base: Option<&Path>) -> Result<(), SimError> {
    for p in pages {
        match (&p.body, &p.body_file) {
            (Some(_), Some(_)) => {
                return Err(SimError::SeedInvalid(format!(
                    "page `{}`: give either body or bodyFile, not both",
                    p.title
                )));
            }
            (None, Some(file)) => {
                let path = match base {
                    Some(dir) if file.is_relative() => dir.join(file),
                    _ => file.clone(),
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| SimError::SeedRead { path, source })?;
                p.body = Some(text);
            }
            (Some(_), None) => {}
            (None, None) => {
                return Err(SimError::SeedInvalid(format!(
                    "page `{}`: body or bodyFile is required",
                    p.title
                )));
            }
        }
    }
    Ok(())
}

/// Parses a seed time: `YYYY-MM-DD` (midnight UTC), RFC 3339, or relative to now (`-3d`,
/// `-12h`, `-30m`).
pub(crate) fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Some(rel) = text.strip_prefix('-') {
        let (num, unit) = rel.split_at(rel.len().checked_sub(1)?);
        let n: i64 = num.parse().ok()?;
        let secs = match unit {
            "d" => n.checked_mul(86_400)?,
            "h" => n.checked_mul(3_600)?,
            "m" => n.checked_mul(60)?,
            _ => return None,
        };
        return jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .ok();
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

/// The v2 space permissions a seed grant stands for, as `(operation, target)` pairs.
pub(crate) fn expand_grant(grant: &str) -> Result<Vec<(String, String)>, String> {
    const OPERATIONS: &[&str] = &[
        "use",
        "create",
        "read",
        "update",
        "delete",
        "copy",
        "move",
        "export",
        "purge",
        "purge_version",
        "administer",
        "restore",
        "create_space",
        "restrict_content",
        "archive",
    ];
    const TARGETS: &[&str] = &[
        "page",
        "blogpost",
        "comment",
        "attachment",
        "whiteboard",
        "database",
        "embed",
        "folder",
        "space",
        "application",
        "userProfile",
    ];
    let pairs: &[(&str, &str)] = match grant.trim().to_ascii_lowercase().as_str() {
        "view" => &[("read", "space")],
        "edit" => &[
            ("create", "page"),
            ("create", "blogpost"),
            ("create", "attachment"),
        ],
        "comment" => &[("create", "comment")],
        "delete" => &[
            ("delete", "page"),
            ("delete", "blogpost"),
            ("delete", "comment"),
            ("delete", "attachment"),
        ],
        "restrict" => &[("restrict_content", "space")],
        "export" => &[("export", "space")],
        "admin" => &[("administer", "space")],
        _ => {
            let (op, target) = grant.trim().split_once(':').ok_or_else(|| {
                format!(
                    "unknown grant `{grant}` (use view, edit, comment, delete, restrict, export, \
                     admin or OPERATION:TARGET such as read:space)"
                )
            })?;
            if !OPERATIONS.contains(&op) || !TARGETS.contains(&target) {
                return Err(format!(
                    "unknown grant `{grant}`: operations are {}; targets are {}",
                    OPERATIONS.join(", "),
                    TARGETS.join(", ")
                ));
            }
            return Ok(vec![(op.to_string(), target.to_string())]);
        }
    };
    Ok(pairs
        .iter()
        .map(|(o, t)| (o.to_string(), t.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_expand_and_unknown_ones_are_named() {
        assert_eq!(
            expand_grant("view").unwrap(),
            [("read".into(), "space".into())]
        );
        assert_eq!(expand_grant("create:comment").unwrap().len(), 1);
        assert!(expand_grant("fly").unwrap_err().contains("fly"));
        assert!(expand_grant("create:moon").is_err());
    }

    #[test]
    fn seed_times_parse() {
        assert_eq!(
            parse_time("1970-01-02").map(|t| t.as_second()),
            Some(86_400)
        );
        let three_days = parse_time("-3d").unwrap();
        let ago = jiff::Timestamp::now().as_second() - three_days.as_second();
        assert!((259_199..=259_201).contains(&ago), "{ago}");
        assert!(parse_time("-3y").is_none());
        assert!(parse_time("soon").is_none());
    }
}
