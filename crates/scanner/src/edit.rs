//! The minimal edit behind "vault it": replace exactly one finding's span of a page with a
//! replacement text (typically its `cyberark://` reference), leaving every other byte as it
//! was, and only if the span still holds the value that was found.
//!
//! The finding locates the value twice: in the storage string and in the text view. The edit
//! re-derives the view of the current page, checks that the view range maps to the same
//! storage bytes and that the value there has the finding's fingerprint, then lets
//! `arkbridge_core::storage` write the replacement escaped for where it lands (element text,
//! CDATA or an attribute value).

use crate::error::EditError;
use crate::finding::{FingerprintKey, Location};
use crate::view::text_view;

/// The byte offset of character `n` of `s`, if `s` has that many characters.
fn byte_of_char(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(0);
    }
    match s.char_indices().nth(n) {
        Some((b, _)) => Some(b),
        None => (s.chars().count() == n).then_some(s.len()),
    }
}

/// The page with the secret at `location` replaced by `replacement`. Refused when the page
/// changed so that the span no longer holds a value with `fingerprint` under `key`, or when the
/// span cannot be replaced on its own (it crosses markup).
pub fn replace_secret(
    storage: &str,
    location: &Location,
    fingerprint: &str,
    key: &FingerprintKey,
    replacement: &str,
) -> Result<String, EditError> {
    let view = text_view(storage)?;
    let core = view.core().ok_or(EditError::NotReplaceable)?;
    let text = view.text();
    let out_of_view = || EditError::OutOfPage {
        start: location.view_char_offset,
        end: location.view_char_offset + location.view_char_length,
        len: text.chars().count(),
    };
    let start = byte_of_char(text, location.view_char_offset).ok_or_else(out_of_view)?;
    let len = text
        .get(start..)
        .and_then(|rest| byte_of_char(rest, location.view_char_length))
        .ok_or_else(out_of_view)?;
    let range = start..start + len;
    let raw = core
        .raw_range(range.clone())
        .map_err(|_| EditError::NotReplaceable)?;
    if raw.start != location.byte_offset || raw.end - raw.start != location.byte_length {
        return Err(EditError::FingerprintMismatch);
    }
    if !key.matches(&text[range.clone()], fingerprint) {
        return Err(EditError::FingerprintMismatch);
    }
    let edit = core.replace(range, replacement).map_err(|e| match e {
        arkbridge_core::storage::EditError::Unrepresentable { code, place } => {
            EditError::Unrepresentable(format!("character U+{code:04X} cannot be written {place}"))
        }
        _ => EditError::NotReplaceable,
    })?;
    edit.apply(storage).map_err(|_| EditError::NotReplaceable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_of_char_handles_ends_and_multibyte() {
        assert_eq!(byte_of_char("aé€", 0), Some(0));
        assert_eq!(byte_of_char("aé€", 2), Some(3));
        assert_eq!(byte_of_char("aé€", 3), Some(6));
        assert_eq!(byte_of_char("aé€", 4), None);
    }
}
