//! Evaluates a parsed CQL query over the content a caller may see: current pages, their footer
//! comments and their attachments (there are no blog posts on the simulated site, so
//! `type = blogpost` finds nothing).
//!
//! Fields: `type`, `space` / `space.key`, `space.id`, `title` (`=`, `~`), `text` (`~`: every word
//! of the query appears as a word of the title or body, `word*` as a prefix, an inner quoted
//! phrase as a phrase), `label`, `id` / `content`, `ancestor`, `parent`, `lastmodified` and
//! `created` (dates `yyyy-MM-dd`, `yyyy/MM/dd`, with ` HH:mm`, or the date functions), `creator`
//! and `contributor` (account ids or `currentUser()`), and `macro`. `ORDER BY` takes `title`,
//! `created`, `lastmodified` and `id`. Anything else is refused before evaluation.

use crate::confluence_cql::{CqlError, Expr, Op, Query, Value};
use crate::confluence_cql_dates::{compare, date_range};
use crate::wiki::{Attachment, Comment, Page, PageStatus, Wiki};

/// One search hit.
#[derive(Clone, Copy)]
pub(crate) enum Entity<'a> {
    Page(&'a Page),
    Comment(&'a Comment, &'a Page),
    Attachment(&'a Attachment, &'a Page),
}

impl<'a> Entity<'a> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Entity::Page(_) => "page",
            Entity::Comment(..) => "comment",
            Entity::Attachment(..) => "attachment",
        }
    }

    pub(crate) fn id(&self) -> u64 {
        match self {
            Entity::Page(p) => p.id,
            Entity::Comment(c, _) => c.id,
            Entity::Attachment(a, _) => a.id,
        }
    }

    /// The page the entity is, or is on.
    pub(crate) fn page(&self) -> &'a Page {
        match self {
            Entity::Page(p) | Entity::Comment(_, p) | Entity::Attachment(_, p) => p,
        }
    }

    pub(crate) fn title(&self) -> String {
        match self {
            Entity::Page(p) => p.current().title.clone(),
            Entity::Comment(_, p) => format!("Re: {}", p.current().title),
            Entity::Attachment(a, _) => a.title.clone(),
        }
    }

    fn body(&self) -> String {
        match self {
            Entity::Page(p) => p.current().body.clone(),
            Entity::Comment(c, _) => c.current().body.clone(),
            Entity::Attachment(a, _) if a.media_type.starts_with("text/") => {
                String::from_utf8_lossy(&a.data).into_owned()
            }
            Entity::Attachment(..) => String::new(),
        }
    }

    pub(crate) fn created(&self) -> &str {
        match self {
            Entity::Page(p) => &p.created_at,
            Entity::Comment(c, _) => &c.versions[0].created_at,
            Entity::Attachment(a, _) => &a.created_at,
        }
    }

    pub(crate) fn modified(&self) -> &str {
        match self {
            Entity::Page(p) => &p.current().created_at,
            Entity::Comment(c, _) => &c.current().created_at,
            Entity::Attachment(a, _) => &a.version.created_at,
        }
    }

    fn authors(&self) -> Vec<&str> {
        match self {
            Entity::Page(p) => p.versions.iter().map(|v| v.author_id.as_str()).collect(),
            Entity::Comment(c, _) => c.versions.iter().map(|v| v.author_id.as_str()).collect(),
            Entity::Attachment(a, _) => vec![a.version.author_id.as_str()],
        }
    }
}

/// The visible text of a storage body: tags removed, CDATA kept, common entities decoded.
pub(crate) fn plain_text(storage: &str) -> String {
    let mut out = String::with_capacity(storage.len());
    let mut rest = storage;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(inner) = rest.strip_prefix("<![CDATA[") {
            let end = inner.find("]]>").unwrap_or(inner.len());
            out.push_str(&inner[..end]);
            rest = inner.get(end + 3..).unwrap_or("");
        } else {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            out.push(' ');
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `haystack` matches a CQL `~` value.
pub(crate) fn text_matches(haystack: &str, query: &str) -> bool {
    let q = query.trim();
    if q.len() >= 2 && q.starts_with('"') && q.ends_with('"') {
        let phrase = words(&q[1..q.len() - 1]).join(" ");
        return words(haystack).join(" ").contains(&phrase);
    }
    let hay = words(haystack);
    q.split_whitespace().all(|term| {
        let (prefix, t) = match term.strip_suffix('*') {
            Some(t) => (true, t.to_lowercase()),
            None => (false, term.to_lowercase()),
        };
        let t: String = words(&t).join(" ");
        if t.is_empty() {
            return true;
        }
        if t.contains(' ') {
            return hay.join(" ").contains(&t);
        }
        hay.iter()
            .any(|w| if prefix { w.starts_with(&t) } else { *w == t })
    })
}

const FIELDS: &[&str] = &[
    "type",
    "space",
    "space.key",
    "space.id",
    "title",
    "text",
    "label",
    "id",
    "content",
    "ancestor",
    "parent",
    "lastmodified",
    "created",
    "creator",
    "contributor",
    "macro",
];

fn unsupported_op(field: &str, op: Op) -> CqlError {
    CqlError::Unsupported(format!(
        "The operator {op:?} is not supported by the CQL field '{field}' in arkbridge sim"
    ))
}

/// Refuses fields, operators and values outside the subset, before anything is evaluated.
pub(crate) fn validate(expr: &Expr) -> Result<(), CqlError> {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => validate(a).and_then(|_| validate(b)),
        Expr::Not(a) => validate(a),
        Expr::Clause { field, op, value } => {
            let f = field.to_ascii_lowercase();
            if !FIELDS.contains(&f.as_str()) {
                return Err(CqlError::Unsupported(format!(
                    "arkbridge sim does not support the CQL field '{field}' (it supports {})",
                    FIELDS.join(", ")
                )));
            }
            let equality = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
            let ok = match f.as_str() {
                "title" => equality || matches!(op, Op::Contains | Op::NotContains),
                "text" => matches!(op, Op::Contains | Op::NotContains),
                "lastmodified" | "created" => {
                    !matches!(op, Op::Contains | Op::NotContains | Op::In | Op::NotIn)
                }
                _ => equality,
            };
            if !ok {
                return Err(unsupported_op(field, *op));
            }
            if f == "type" {
                for v in values(value) {
                    let t = text_of(v)?.to_ascii_lowercase();
                    if !["page", "blogpost", "comment", "attachment"].contains(&t.as_str()) {
                        return Err(CqlError::Unsupported(format!(
                            "arkbridge sim searches pages, blog posts, comments and attachments, not `{t}`"
                        )));
                    }
                }
            }
            if f == "lastmodified" || f == "created" {
                date_range(value)?;
            }
            Ok(())
        }
    }
}

fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::List(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn text_of(v: &Value) -> Result<&str, CqlError> {
    match v {
        Value::Text(t) => Ok(t),
        Value::Func(f, _) => Err(CqlError::Unsupported(format!(
            "arkbridge sim does not support the CQL function {f}() here"
        ))),
        Value::List(_) => Err(CqlError::Parse),
    }
}

struct Ctx<'a> {
    wiki: &'a Wiki,
    caller: &'a str,
}

impl Ctx<'_> {
    fn clause(&self, e: &Entity<'_>, field: &str, op: Op, value: &Value) -> Result<bool, CqlError> {
        let f = field.to_ascii_lowercase();
        let page = e.page();
        if f == "text" || (f == "title" && matches!(op, Op::Contains | Op::NotContains)) {
            let hay = if f == "text" {
                format!("{} {}", e.title(), plain_text(&e.body()))
            } else {
                e.title()
            };
            let hit = text_matches(&hay, text_of(value)?);
            return Ok(if op == Op::Contains { hit } else { !hit });
        }
        if f == "lastmodified" || f == "created" {
            let at = if f == "created" {
                e.created()
            } else {
                e.modified()
            };
            return compare(at, op, value);
        }
        let mut any = false;
        for v in values(value) {
            let want = match v {
                Value::Func(name, _) if name == "currentuser" => self.caller.to_string(),
                other => text_of(other)?.to_string(),
            };
            let id_match = |id: u64| {
                want.trim_start_matches("att")
                    .parse::<u64>()
                    .is_ok_and(|w| w == id)
            };
            let hit = match f.as_str() {
                "type" => want.eq_ignore_ascii_case(e.kind()),
                "space" | "space.key" => self
                    .wiki
                    .space(page.space_id)
                    .is_some_and(|s| s.key.eq_ignore_ascii_case(&want)),
                "space.id" => id_match(page.space_id),
                "title" => e.title() == want,
                "label" => {
                    matches!(e, Entity::Page(_))
                        && page
                            .labels
                            .iter()
                            .filter_map(|l| self.wiki.label(*l))
                            .any(|l| l.name == want)
                }
                "id" | "content" => id_match(e.id()),
                "ancestor" => {
                    matches!(e, Entity::Page(_))
                        && self.wiki.ancestors(page).into_iter().any(id_match)
                }
                "parent" => matches!(e, Entity::Page(_)) && page.parent_id.is_some_and(id_match),
                "creator" => e.authors().first().is_some_and(|a| *a == want),
                "contributor" => e.authors().contains(&want.as_str()),
                "macro" => e.body().contains(&format!("ac:name=\"{want}\"")),
                _ => false,
            };
            any |= hit;
        }
        Ok(match op {
            Op::Eq | Op::In => any,
            _ => !any,
        })
    }

    fn eval(&self, e: &Entity<'_>, expr: &Expr) -> Result<bool, CqlError> {
        Ok(match expr {
            Expr::And(a, b) => self.eval(e, a)? && self.eval(e, b)?,
            Expr::Or(a, b) => self.eval(e, a)? || self.eval(e, b)?,
            Expr::Not(a) => !self.eval(e, a)?,
            Expr::Clause { field, op, value } => self.clause(e, field, *op, value)?,
        })
    }
}

/// Runs a query for `caller`: the matching content, ordered.
pub(crate) fn search<'a>(
    wiki: &'a Wiki,
    caller: &'a str,
    query: &Query,
) -> Result<Vec<Entity<'a>>, CqlError> {
    validate(&query.filter)?;
    for (field, _) in &query.order {
        if !["title", "created", "lastmodified", "id"]
            .contains(&field.to_ascii_lowercase().as_str())
        {
            return Err(CqlError::Unsupported(format!(
                "arkbridge sim cannot ORDER BY '{field}' (it orders by title, created, lastmodified and id)"
            )));
        }
    }
    let ctx = Ctx { wiki, caller };
    let mut hits = Vec::new();
    for page in wiki
        .pages
        .iter()
        .filter(|p| p.status == PageStatus::Current && wiki.can_read(caller, p))
    {
        let mut candidates = vec![Entity::Page(page)];
        candidates.extend(page.attachments.iter().map(|a| Entity::Attachment(a, page)));
        for e in candidates {
            if ctx.eval(&e, &query.filter)? {
                hits.push(e);
            }
        }
    }
    for c in &wiki.comments {
        if let Some(page) = wiki
            .page(c.page_id)
            .filter(|p| p.status == PageStatus::Current && wiki.can_read(caller, p))
        {
            let e = Entity::Comment(c, page);
            if ctx.eval(&e, &query.filter)? {
                hits.push(e);
            }
        }
    }
    hits.sort_by(|a, b| {
        for (field, desc) in &query.order {
            let ord = match field.to_ascii_lowercase().as_str() {
                "title" => a.title().cmp(&b.title()),
                "created" => a.created().cmp(b.created()),
                "lastmodified" => a.modified().cmp(b.modified()),
                _ => a.id().cmp(&b.id()),
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.id().cmp(&b.id())
    });
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_keeps_cdata_and_drops_tags() {
        let t =
            plain_text("<p>a&nbsp;b</p><ac:plain-text-body><![CDATA[x < y]]></ac:plain-text-body>");
        assert!(t.contains("a b") && t.contains("x < y"), "{t}");
    }

    #[test]
    fn text_search_matches_words_prefixes_and_phrases() {
        let hay = "Restart the payments API with the password";
        assert!(text_matches(hay, "payments password"));
        assert!(text_matches(hay, "pay*"));
        assert!(!text_matches(hay, "pay"));
        assert!(text_matches(hay, "\"payments API\""));
        assert!(!text_matches(hay, "\"API payments\""));
    }

    #[test]
    fn validation_refuses_unknown_fields_and_operators() {
        let q = crate::confluence_cql::parse("favourite = currentUser()").unwrap();
        assert!(matches!(validate(&q.filter), Err(CqlError::Unsupported(_))));
        let q = crate::confluence_cql::parse("space ~ OPS").unwrap();
        assert!(matches!(validate(&q.filter), Err(CqlError::Unsupported(_))));
        let q = crate::confluence_cql::parse("type = whiteboard").unwrap();
        assert!(matches!(validate(&q.filter), Err(CqlError::Unsupported(_))));
    }
}
