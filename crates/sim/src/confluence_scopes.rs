//! The scopes each operation needs at the API gateway, as Atlassian's specs list them
//! (`x-atlassian-oauth2-scopes`): the v2 operations take granular scopes, the surviving v1 ones
//! classic scopes or, alternatively, granular ones. A token must hold every scope of at least one
//! alternative. A REST v1 path with no entry here is one Atlassian removed (410 at the gateway).

use axum::http::Method;

/// One operation's scope alternatives: a token must hold every scope of at least one of them.
type Alternatives = &'static [&'static [&'static str]];

const READ_PAGE: Alternatives = &[&["read:page:confluence"]];
const WRITE_PAGE: Alternatives = &[&["write:page:confluence"]];
const RW_PAGE: Alternatives = &[&["read:page:confluence", "write:page:confluence"]];
const READ_COMMENT: Alternatives = &[&["read:comment:confluence"]];
const SEARCH: Alternatives = &[&["search:confluence"], &["read:content-details:confluence"]];
const READ_USER: Alternatives = &[
    &["read:confluence-user"],
    &["read:content-details:confluence"],
];
const READ_GROUPS: Alternatives = &[&["read:confluence-groups"], &["read:group:confluence"]];
const READ_RESTRICTIONS: Alternatives = &[
    &["read:confluence-content.all"],
    &["read:content-details:confluence"],
];
const WRITE_RESTRICTIONS: Alternatives = &[
    &["write:confluence-content"],
    &[
        "read:content-details:confluence",
        "write:content.restriction:confluence",
    ],
];

/// The scopes (method, path below `/wiki`) needs at the gateway; `None` for a path the gateway
/// does not serve. `*` in a pattern matches one path segment.
const SCOPES: &[(&str, &str, Alternatives)] = &[
    ("GET", "/api/v2/pages", READ_PAGE),
    ("POST", "/api/v2/pages", WRITE_PAGE),
    ("GET", "/api/v2/pages/*", READ_PAGE),
    ("PUT", "/api/v2/pages/*", WRITE_PAGE),
    ("DELETE", "/api/v2/pages/*", &[&["delete:page:confluence"]]),
    ("GET", "/api/v2/pages/*/versions", READ_PAGE),
    ("GET", "/api/v2/pages/*/versions/*", READ_PAGE),
    ("GET", "/api/v2/pages/*/labels", READ_PAGE),
    ("GET", "/api/v2/pages/*/footer-comments", READ_COMMENT),
    ("GET", "/api/v2/pages/*/children", READ_PAGE),
    (
        "GET",
        "/api/v2/pages/*/ancestors",
        &[&["read:content.metadata:confluence"]],
    ),
    ("GET", "/api/v2/pages/*/properties", READ_PAGE),
    ("POST", "/api/v2/pages/*/properties", RW_PAGE),
    ("GET", "/api/v2/pages/*/properties/*", READ_PAGE),
    ("PUT", "/api/v2/pages/*/properties/*", RW_PAGE),
    ("DELETE", "/api/v2/pages/*/properties/*", RW_PAGE),
    (
        "GET",
        "/api/v2/pages/*/attachments",
        &[&["read:attachment:confluence"]],
    ),
    ("GET", "/api/v2/spaces", &[&["read:space:confluence"]]),
    ("GET", "/api/v2/spaces/*", &[&["read:space:confluence"]]),
    ("GET", "/api/v2/spaces/*/pages", READ_PAGE),
    (
        "GET",
        "/api/v2/spaces/*/permissions",
        &[&["read:space:confluence"]],
    ),
    ("GET", "/api/v2/footer-comments", READ_COMMENT),
    (
        "POST",
        "/api/v2/footer-comments",
        &[&["write:comment:confluence"]],
    ),
    ("GET", "/api/v2/footer-comments/*", READ_COMMENT),
    (
        "PUT",
        "/api/v2/footer-comments/*",
        &[&["write:comment:confluence"]],
    ),
    (
        "DELETE",
        "/api/v2/footer-comments/*",
        &[&["delete:comment:confluence"]],
    ),
    ("GET", "/api/v2/footer-comments/*/children", READ_COMMENT),
    ("POST", "/api/v2/users-bulk", &[&["read:user:confluence"]]),
    ("GET", "/api/v2/labels", &[&["read:label:confluence"]]),
    ("GET", "/api/v2/labels/*/pages", READ_PAGE),
    ("GET", "/rest/api/search", SEARCH),
    ("GET", "/rest/api/content/search", SEARCH),
    ("GET", "/rest/api/user", READ_USER),
    ("GET", "/rest/api/user/current", READ_USER),
    (
        "GET",
        "/rest/api/user/memberof",
        &[
            &["read:confluence-user"],
            &["read:user:confluence", "read:group:confluence"],
        ],
    ),
    ("GET", "/rest/api/group", READ_GROUPS),
    ("GET", "/rest/api/group/by-id", READ_GROUPS),
    (
        "GET",
        "/rest/api/group/*/membersByGroupId",
        &[
            &["read:confluence-groups"],
            &["read:group:confluence", "read:user:confluence"],
        ],
    ),
    (
        "GET",
        "/rest/api/content/*/label",
        &[
            &["read:confluence-content.summary"],
            &["read:label:confluence"],
        ],
    ),
    (
        "POST",
        "/rest/api/content/*/label",
        &[
            &["write:confluence-content"],
            &["read:label:confluence", "write:label:confluence"],
        ],
    ),
    (
        "DELETE",
        "/rest/api/content/*/label",
        &[&["write:confluence-content"], &["write:label:confluence"]],
    ),
    (
        "DELETE",
        "/rest/api/content/*/label/*",
        &[&["write:confluence-content"], &["write:label:confluence"]],
    ),
    ("GET", "/rest/api/content/*/restriction", READ_RESTRICTIONS),
    ("PUT", "/rest/api/content/*/restriction", WRITE_RESTRICTIONS),
    (
        "POST",
        "/rest/api/content/*/restriction",
        WRITE_RESTRICTIONS,
    ),
    (
        "DELETE",
        "/rest/api/content/*/restriction",
        WRITE_RESTRICTIONS,
    ),
    (
        "GET",
        "/rest/api/content/*/restriction/byOperation",
        READ_RESTRICTIONS,
    ),
    (
        "GET",
        "/rest/api/content/*/restriction/byOperation/*",
        READ_RESTRICTIONS,
    ),
    (
        "GET",
        "/rest/api/content/*/restriction/byOperation/*/user",
        &[
            &["read:confluence-content.all"],
            &["read:content.restriction:confluence"],
        ],
    ),
    (
        "PUT",
        "/rest/api/content/*/restriction/byOperation/*/user",
        &[
            &["write:confluence-content"],
            &["write:content.restriction:confluence"],
        ],
    ),
    (
        "DELETE",
        "/rest/api/content/*/restriction/byOperation/*/user",
        &[
            &["write:confluence-content"],
            &["write:content.restriction:confluence"],
        ],
    ),
    (
        "GET",
        "/rest/api/content/*/restriction/byOperation/*/byGroupId/*",
        &[
            &["read:confluence-content.all"],
            &["read:content.restriction:confluence"],
        ],
    ),
    (
        "PUT",
        "/rest/api/content/*/restriction/byOperation/*/byGroupId/*",
        &[
            &["write:confluence-content"],
            &["write:content.restriction:confluence"],
        ],
    ),
    (
        "DELETE",
        "/rest/api/content/*/restriction/byOperation/*/byGroupId/*",
        &[
            &["write:confluence-content"],
            &["write:content.restriction:confluence"],
        ],
    ),
    (
        "POST",
        "/rest/api/content/*/permission/check",
        &[
            &["read:confluence-content.permission"],
            &["read:content.permission:confluence"],
        ],
    ),
    (
        "GET",
        "/rest/api/content/*/child/attachment",
        &[
            &["read:confluence-content.all"],
            &["read:attachment:confluence"],
        ],
    ),
    (
        "POST",
        "/rest/api/content/*/child/attachment",
        &[
            &["write:confluence-file"],
            &[
                "read:content-details:confluence",
                "write:attachment:confluence",
            ],
        ],
    ),
    (
        "PUT",
        "/rest/api/content/*/child/attachment",
        &[
            &["write:confluence-file"],
            &[
                "read:content-details:confluence",
                "write:attachment:confluence",
            ],
        ],
    ),
];

fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(p, s)| *p == "*" || p == s)
}

/// The scope alternatives of an operation (`path` below `/wiki`); `None` when the gateway does
/// not serve it.
pub(crate) fn required_scopes(method: &Method, path: &str) -> Option<Alternatives> {
    let path = path.trim_end_matches('/');
    SCOPES
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && matches(p, path))
        .map(|(_, _, s)| *s)
}

/// Whether the granted scopes (`None`: all) satisfy one of the alternatives.
pub(crate) fn scopes_allow(granted: Option<&[String]>, needed: Alternatives) -> bool {
    let Some(granted) = granted else {
        return true;
    };
    needed
        .iter()
        .any(|alt| alt.iter().all(|s| granted.iter().any(|g| g == s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_table_matches_segments() {
        let s = required_scopes(&Method::GET, "/api/v2/pages/12/versions").unwrap();
        assert_eq!(s, READ_PAGE);
        assert!(required_scopes(&Method::GET, "/rest/api/content/12").is_none());
        assert!(required_scopes(&Method::POST, "/rest/api/content/12/label").is_some());
    }

    #[test]
    fn any_alternative_is_enough() {
        let classic = vec!["search:confluence".to_string()];
        let granular = vec!["read:content-details:confluence".to_string()];
        let other = vec!["read:page:confluence".to_string()];
        assert!(scopes_allow(Some(&classic), SEARCH));
        assert!(scopes_allow(Some(&granular), SEARCH));
        assert!(!scopes_allow(Some(&other), SEARCH));
        assert!(scopes_allow(None, SEARCH));
        assert!(!scopes_allow(Some(&other), RW_PAGE));
    }
}
