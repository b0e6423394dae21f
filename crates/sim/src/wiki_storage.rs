//! Storage-format checks and realistic storage output.
//!
//! Confluence refuses a body its XHTML parser cannot read with 400 "Error parsing xhtml: ...":
//! an unsplit `]]>` outside CDATA, unbalanced or unclosed tags (`<br>` instead of `<br/>`), a bare
//! `&`, a malformed attribute. [`check`] finds the same problems with quick-xml, reading the body
//! as Confluence does: inside a synthetic root, with undeclared `ac:`/`ri:` prefixes and HTML
//! named entities allowed. The messages follow the Woodstox parser Confluence uses where the
//! reference material quotes them (the `]]>` one) and are the simulator's own otherwise.
//!
//! [`generated_body`] builds the body of a page from a seed `generate` block: Cloud-style
//! `local-id` and `ac:macro-id` attributes, an HTML entity and a code macro whose script holds a
//! `]]>`, stored split over two CDATA sections as Confluence does.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Why Confluence would refuse a storage value, as its 400 message; `None` if it parses.
pub(crate) fn check(value: &str) -> Option<String> {
    if let Some(msg) = cdata_error(value) {
        return Some(msg);
    }
    if let Some(msg) = entity_error(value) {
        return Some(msg);
    }
    let wrapped = format!("<arkbridge-sim-root>{value}</arkbridge-sim-root>");
    let mut reader = Reader::from_str(&wrapped);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return None,
            Ok(Event::Start(e) | Event::Empty(e)) => {
                for attr in e.attributes() {
                    if let Err(err) = attr {
                        return Some(format!("Error parsing xhtml: {err}"));
                    }
                }
            }
            Ok(_) => {}
            Err(err) => {
                let text = err.to_string().replace("arkbridge-sim-root", "body");
                return Some(format!("Error parsing xhtml: {text}"));
            }
        }
    }
}

/// An unsplit `]]>` outside a CDATA section, or a CDATA section that never ends.
fn cdata_error(value: &str) -> Option<String> {
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

/// A `&` outside CDATA and comments that does not start a character or entity reference.
fn entity_error(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if value[i..].starts_with("<![CDATA[") {
            i = value[i..].find("]]>").map_or(bytes.len(), |e| i + e + 3);
            continue;
        }
        if value[i..].starts_with("<!--") {
            i = value[i..].find("-->").map_or(bytes.len(), |e| i + e + 3);
            continue;
        }
        if bytes[i] == b'&' {
            let rest = &value[i + 1..];
            let end = rest.find(';').filter(|e| *e <= 32);
            let ok = end.is_some_and(|e| {
                let name = &rest[..e];
                if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    !num.is_empty() && num.bytes().all(|b| b.is_ascii_hexdigit())
                } else if let Some(num) = name.strip_prefix('#') {
                    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
                } else {
                    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                        && name.bytes().all(|b| b.is_ascii_alphanumeric())
                }
            });
            if !ok {
                let next = rest.chars().next().unwrap_or(' ');
                return Some(format!(
                    "Error parsing xhtml: Unexpected character '{next}' (code {}) in entity \
                     reference; a bare '&' must be written as '&amp;'",
                    next as u32
                ));
            }
        }
        // Step a whole character: slicing `value[i..]` inside a multi-byte one would panic.
        i += value[i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Splits `]]>` in a script so that it can sit in a CDATA section, as Confluence stores it.
pub(crate) fn cdata(script: &str) -> String {
    format!("<![CDATA[{}]]>", script.replace("]]>", "]]]]><![CDATA[>"))
}

/// A Cloud-style `local-id` / `ac:macro-id` value, stable for a seed.
pub(crate) fn local_id(seed: &str) -> String {
    crate::wiki::stable_uuid(seed).to_string()
}

/// The storage body of generated page `n` in space `key`, from the template when the seed
/// gives one (`{n}`, `{title}` and `{space}` are replaced), else a realistic default.
pub(crate) fn generated_body(template: Option<&str>, key: &str, n: usize, title: &str) -> String {
    if let Some(t) = template {
        return t
            .replace("{n}", &n.to_string())
            .replace("{title}", title)
            .replace("{space}", key);
    }
    let id = |part: &str| local_id(&format!("{key}/{n}/{part}"));
    let script = format!(
        "#!/usr/bin/env bash\n# Health probe {n}\ncurl -fsS https://svc-{n}.internal.example.com/health\n\
         [[ $(date +%s) -gt 0 ]]>/dev/null && echo ok"
    );
    format!(
        "<p local-id=\"{p1}\">Service note {n} for space {key}&nbsp;&rarr; owned by the operations \
         team.</p><ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\" \
         ac:macro-id=\"{m}\" ac:local-id=\"{l}\"><ac:parameter ac:name=\"language\">bash\
         </ac:parameter><ac:plain-text-body>{body}</ac:plain-text-body></ac:structured-macro>\
         <p local-id=\"{p2}\">See <ac:link><ri:page ri:content-title=\"{title}\" /></ac:link>.</p>",
        p1 = id("p1"),
        m = id("macro"),
        l = id("macro-local"),
        body = cdata(&script),
        p2 = id("p2"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsplit_cdata_end_is_refused() {
        assert!(check("<p>ok</p><![CDATA[a]]]]><![CDATA[>b]]>").is_none());
        assert!(check("<p>a ]]> b</p>").unwrap().contains("]]>"));
        assert!(check("<![CDATA[never closed").is_some());
    }

    #[test]
    fn confluence_storage_parses() {
        let body = "<p local-id=\"x\">a&nbsp;b &amp; c &#169; &#xA9;</p><ac:structured-macro \
                    ac:name=\"code\"><ac:parameter ac:name=\"title\">t</ac:parameter>\
                    <ac:plain-text-body><![CDATA[x && y]]></ac:plain-text-body>\
                    </ac:structured-macro><br/><ac:link><ri:user ri:account-id=\"1\" /></ac:link>";
        assert_eq!(check(body), None);
    }

    #[test]
    fn malformed_storage_is_refused() {
        for bad in [
            "<p>unclosed",
            "<p>a<br>b</p>",
            "<p>x</q>",
            "<p>fish & chips</p>",
            "<p a=b>x</p>",
        ] {
            let msg = check(bad).unwrap_or_default();
            assert!(msg.starts_with("Error parsing xhtml: "), "{bad}: {msg}");
        }
    }

    #[test]
    fn generated_bodies_are_valid_and_split_cdata() {
        let body = generated_body(None, "OPS", 7, "Generated 7");
        assert_eq!(check(&body), None);
        assert!(body.contains("]]]]><![CDATA[>"));
        assert!(body.contains("ac:macro-id="));
        let t = generated_body(Some("<p>{title} #{n} in {space}</p>"), "OPS", 3, "T");
        assert_eq!(t, "<p>T #3 in OPS</p>");
    }
}
