//! Attachments over REST v1 / Data Center: `GET content/{id}/child/attachment` (a
//! `ContentArray`, filters `filename` and `mediaType`) and the upload, `POST` (new files only;
//! an existing name is 400) or `PUT` (new file or new version), as `multipart/form-data` with the
//! fields `file`, `comment` and `minorEdit`. Like Confluence, an upload without
//! `X-Atlassian-Token: nocheck` is refused by the XSRF check (403).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::confluence_auth::Caller;
use crate::confluence_cql_eval::Entity;
use crate::confluence_http::{offset_list, offset_paging, slice, v1_error};
use crate::confluence_pages::MAX_BODY;
use crate::confluence_v1::{api_of, max_limit};
use crate::confluence_v1_content::{forbidden, page};
use crate::confluence_v1_json::{Expand, content_json};
use crate::http::{self, Params};
use crate::wiki::{self, Attachment, Version};
use crate::wiki_access::Op;
use crate::world::World;

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let api = api_of(&caller);
    let wiki = world.wiki();
    let result = (|| {
        let paging = offset_paging(&params, 50, max_limit(api))?;
        let expand = Expand::parse(params.get("expand"));
        let p = page(&wiki, &caller, &id)?;
        let items: Vec<&Attachment> = p
            .attachments
            .iter()
            .filter(|a| params.get("filename").is_none_or(|f| a.title == f))
            .filter(|a| params.get("mediaType").is_none_or(|m| a.media_type == m))
            .collect();
        let (cut, total) = slice(items, &paging);
        let json = cut
            .into_iter()
            .map(|a| {
                content_json(
                    &world,
                    api,
                    &wiki,
                    Entity::Attachment(a, p),
                    None,
                    &expand,
                    &caller.account_id,
                )
            })
            .collect();
        let path = format!("/rest/api/content/{}/child/attachment", p.id);
        Ok::<_, Response>(Value::Object(offset_list(
            &world,
            api,
            &path,
            query.as_deref(),
            (json, total),
            &paging,
            false,
        )))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

/// One part of a multipart body.
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn disposition_param(header: &str, name: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a `multipart/form-data` body; `None` when it is not one.
pub(crate) fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut pos = find(body, &delim, 0)? + delim.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        let head_start = find(body, b"\r\n", pos)? + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = std::str::from_utf8(&body[head_start..head_end]).ok()?;
        let next = find(body, &[b"\r\n".as_slice(), &delim].concat(), head_end + 4)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body[head_end + 4..next].to_vec(),
        };
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                part.name = disposition_param(v, "name").unwrap_or_default();
                part.filename = disposition_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
        pos = next + 2 + delim.len();
    }
}

pub(crate) async fn upload(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Bytes,
) -> Response {
    let api = api_of(&caller);
    let result = (|| {
        let token = headers
            .get("x-atlassian-token")
            .and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| {
            t.eq_ignore_ascii_case("nocheck") || t.eq_ignore_ascii_case("no-check")
        }) {
            return Err(v1_error(StatusCode::FORBIDDEN, "XSRF check failed"));
        }
        if raw.len() > MAX_BODY {
            return Err(v1_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request is larger than the 5 MB limit.",
            ));
        }
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let parts = parse_multipart(ct, &raw).ok_or_else(|| {
            v1_error(
                StatusCode::BAD_REQUEST,
                "The body must be multipart/form-data with a file part.",
            )
        })?;
        let text = |name: &str| {
            parts
                .iter()
                .find(|p| p.name == name)
                .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        };
        let comment = text("comment").unwrap_or_default();
        let minor = text("minorEdit").is_some_and(|v| v.trim() == "true");
        let files: Vec<&Part> = parts
            .iter()
            .filter(|p| p.name == "file" && p.filename.is_some())
            .collect();
        if files.is_empty() {
            return Err(v1_error(
                StatusCode::BAD_REQUEST,
                "No file part named 'file' in the upload.",
            ));
        }
        let mut wiki = world.wiki();
        let p = page(&wiki, &caller, &id)?;
        if !wiki.can(&caller.account_id, p, Op::Update) {
            return Err(forbidden("attach files to this content"));
        }
        let page_id = p.id;
        let mut touched = Vec::new();
        for f in files {
            let name = f.filename.clone().unwrap_or_default();
            let existing = wiki
                .page(page_id)
                .and_then(|p| p.attachments.iter().position(|a| a.title == name));
            if existing.is_some() && method == Method::POST {
                return Err(v1_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Cannot add a new attachment with the same file name as an existing attachment: {name}"
                    ),
                ));
            }
            let now = wiki::timestamp();
            let new_id = wiki.next_content_id();
            let Some(p) = wiki.page_mut(page_id) else {
                return Err(crate::confluence_v1_content::not_found());
            };
            let version = |number| Version {
                number,
                created_at: now.clone(),
                message: comment.clone(),
                minor_edit: minor,
                author_id: caller.account_id.clone(),
                title: name.clone(),
                body: String::new(),
            };
            let media = f
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            match existing {
                Some(i) => {
                    let a = &mut p.attachments[i];
                    a.version = version(a.version.number + 1);
                    a.data = f.data.clone();
                    a.media_type = media;
                    a.comment = comment.clone();
                    touched.push(a.id);
                }
                None => {
                    p.attachments.push(Attachment {
                        id: new_id,
                        title: name.clone(),
                        media_type: media,
                        comment: comment.clone(),
                        data: f.data.clone(),
                        version: version(1),
                        created_at: now.clone(),
                    });
                    touched.push(new_id);
                }
            }
        }
        let p = wiki
            .page(page_id)
            .ok_or_else(crate::confluence_v1_content::not_found)?;
        let expand = Expand::parse(Some("version,container"));
        let json: Vec<Value> = p
            .attachments
            .iter()
            .filter(|a| touched.contains(&a.id))
            .map(|a| {
                content_json(
                    &world,
                    api,
                    &wiki,
                    Entity::Attachment(a, p),
                    None,
                    &expand,
                    &caller.account_id,
                )
            })
            .collect();
        let n = json.len();
        let paging = crate::confluence_http::Paging {
            offset: 0,
            limit: n.max(1),
        };
        let path = format!("/rest/api/content/{page_id}/child/attachment");
        Ok(Value::Object(offset_list(
            &world,
            api,
            &path,
            None,
            (json, n),
            &paging,
            false,
        )))
    })();
    match result {
        Ok(v) => http::json(StatusCode::OK, &v),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_split_into_parts() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
Content-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ\r\nContent-Disposition: form-data; \
name=\"comment\"\r\n\r\nfirst\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("a.txt"));
        assert_eq!(parts[0].data, b"hello\r\nworld");
        assert_eq!(parts[1].name, "comment");
        assert!(parse_multipart("application/json", b"{}").is_none());
    }
}
