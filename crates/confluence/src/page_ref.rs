//! Page references as users type them: a bare page id or a Confluence page URL.
//!
//! Accepted URL shapes: `.../wiki/spaces/OPS/pages/123/Title`, `.../wiki/spaces/OPS/pages/123`,
//! `.../wiki/spaces/OPS/pages/edit-v2/123`, `.../pages/viewpage.action?pageId=123`. Tiny links
//! (`.../wiki/x/AbC`) encode the id in a form the v2 API cannot resolve, so they are refused
//! with a clear message. Page ids are numeric strings.

use crate::error::ConfluenceError;

/// A reference to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRef {
    /// A bare numeric page id.
    Id(String),
    /// A page URL: the site it names (scheme, host and any path before `/wiki`), the space key
    /// if the URL carries one, and the page id.
    Url {
        site: String,
        space_key: Option<String>,
        id: String,
    },
}

impl PageRef {
    /// The page id.
    pub fn id(&self) -> &str {
        match self {
            PageRef::Id(id) | PageRef::Url { id, .. } => id,
        }
    }

    /// The site of a URL reference (compare it with the configured site before using the id).
    pub fn site(&self) -> Option<&str> {
        match self {
            PageRef::Id(_) => None,
            PageRef::Url { site, .. } => Some(site),
        }
    }

    /// The space key of a URL reference, when the URL names one.
    pub fn space_key(&self) -> Option<&str> {
        match self {
            PageRef::Id(_) => None,
            PageRef::Url { space_key, .. } => space_key.as_deref(),
        }
    }
}

/// True for a non-empty string of ASCII digits of sane length.
pub(crate) fn is_page_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

fn invalid(msg: impl Into<String>) -> ConfluenceError {
    ConfluenceError::Invalid(msg.into())
}

/// Parses a bare page id or a Confluence page URL.
pub fn parse_page_ref(input: &str) -> Result<PageRef, ConfluenceError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(invalid(
            "empty page reference; give a page id or a page URL",
        ));
    }
    if is_page_id(input) {
        return Ok(PageRef::Id(input.to_string()));
    }
    let url = url::Url::parse(input).map_err(|_| {
        invalid(format!(
            "`{input}` is neither a numeric page id nor a Confluence page URL"
        ))
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid(format!("`{input}` is not an http(s) URL")));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let wiki_at = segments.iter().position(|s| *s == "wiki");
    let site = {
        let mut origin = url.origin().ascii_serialization();
        if let Some(at) = wiki_at {
            for seg in &segments[..at] {
                origin.push('/');
                origin.push_str(seg);
            }
        }
        origin
    };
    let after_wiki = &segments[wiki_at.map_or(0, |w| w + 1)..];
    if after_wiki.first() == Some(&"x") {
        return Err(invalid("tiny links are not supported; use the page id"));
    }
    // viewpage.action?pageId=123 (with or without /wiki).
    if after_wiki.last() == Some(&"viewpage.action") {
        let id = url
            .query_pairs()
            .find(|(k, _)| k == "pageId")
            .map(|(_, v)| v.into_owned())
            .filter(|v| is_page_id(v))
            .ok_or_else(|| invalid(format!("`{input}` has no numeric pageId")))?;
        let space_key = url
            .query_pairs()
            .find(|(k, _)| k == "spaceKey")
            .map(|(_, v)| v.into_owned());
        return Ok(PageRef::Url {
            site,
            space_key,
            id,
        });
    }
    // spaces/KEY/pages/[edit-v2/]ID[/Title]
    if let Some(pages_at) = after_wiki.iter().position(|s| *s == "pages") {
        let space_key = match after_wiki.get(..pages_at) {
            Some(["spaces", key]) => Some((*key).to_string()),
            _ => None,
        };
        let rest = &after_wiki[pages_at + 1..];
        let id = rest.iter().take(2).find(|s| is_page_id(s)).filter(|_| {
            rest.first()
                .is_some_and(|f| is_page_id(f) || f.starts_with("edit"))
        });
        if let Some(id) = id {
            return Ok(PageRef::Url {
                site,
                space_key,
                id: (*id).to_string(),
            });
        }
    }
    Err(invalid(format!(
        "no page id found in `{input}`; use a page URL like https://SITE/wiki/spaces/KEY/pages/ID or the page id"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(input: &str) -> String {
        parse_page_ref(input).unwrap().id().to_string()
    }

    #[test]
    fn bare_ids() {
        assert_eq!(
            parse_page_ref(" 123456 ").unwrap(),
            PageRef::Id("123456".into())
        );
        assert!(parse_page_ref("12a").is_err());
        assert!(parse_page_ref("").is_err());
        assert!(parse_page_ref("-5").is_err());
        assert!(parse_page_ref(&"9".repeat(40)).is_err());
    }

    #[test]
    fn space_page_urls() {
        let r = parse_page_ref(
            "https://x.atlassian.net/wiki/spaces/OPS/pages/123/Restart+payments+API",
        )
        .unwrap();
        assert_eq!(
            r,
            PageRef::Url {
                site: "https://x.atlassian.net".into(),
                space_key: Some("OPS".into()),
                id: "123".into()
            }
        );
        assert_eq!(r.site(), Some("https://x.atlassian.net"));
        assert_eq!(r.space_key(), Some("OPS"));
        assert_eq!(
            id_of("https://x.atlassian.net/wiki/spaces/OPS/pages/123"),
            "123"
        );
        assert_eq!(
            id_of("https://x.atlassian.net/wiki/spaces/OPS/pages/123/"),
            "123"
        );
        assert_eq!(
            id_of("https://x.atlassian.net/wiki/spaces/OPS/pages/123/Title?focusedCommentId=9#c"),
            "123"
        );
        assert_eq!(
            id_of("https://x.atlassian.net/wiki/spaces/OPS/pages/edit-v2/555"),
            "555"
        );
        assert_eq!(
            id_of("http://127.0.0.1:8443/wiki/spaces/OPS/pages/77/T"),
            "77"
        );
    }

    #[test]
    fn viewpage_action() {
        let r = parse_page_ref("https://x.atlassian.net/wiki/pages/viewpage.action?pageId=4242")
            .unwrap();
        assert_eq!(r.id(), "4242");
        assert_eq!(r.space_key(), None);
        assert_eq!(
            id_of("https://conf.example.com/pages/viewpage.action?spaceKey=OPS&pageId=7"),
            "7"
        );
        assert!(parse_page_ref("https://x/wiki/pages/viewpage.action?pageId=abc").is_err());
        assert!(parse_page_ref("https://x/wiki/pages/viewpage.action").is_err());
    }

    #[test]
    fn tiny_links_are_refused_clearly() {
        let err = parse_page_ref("https://x.atlassian.net/wiki/x/AbCd").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tiny links are not supported; use the page id"
        );
    }

    #[test]
    fn site_keeps_a_gateway_prefix() {
        let r =
            parse_page_ref("https://api.atlassian.com/ex/confluence/c1/wiki/spaces/OPS/pages/9")
                .unwrap();
        assert_eq!(r.site(), Some("https://api.atlassian.com/ex/confluence/c1"));
    }

    #[test]
    fn other_inputs_are_refused() {
        for bad in [
            "not a url",
            "ftp://x/wiki/spaces/OPS/pages/1",
            "https://x.atlassian.net/wiki/spaces/OPS/overview",
            "https://x.atlassian.net/wiki/spaces/OPS/pages/Title",
            "https://x.atlassian.net/wiki/spaces/OPS/pages/abc/123",
            "https://x.atlassian.net/",
        ] {
            let err = parse_page_ref(bad).unwrap_err();
            assert!(matches!(err, ConfluenceError::Invalid(_)), "{bad}");
        }
    }
}
