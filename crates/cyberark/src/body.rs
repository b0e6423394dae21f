//! Reading HTTP answers into bounded, self-wiping buffers.
//!
//! CyberArk answers may hold secrets (the CCP's `Content`, a PVWA token), so bodies are collected
//! into a [`Zeroizing`] buffer that is grown by hand: whenever it must grow, the old allocation is
//! wiped before it is freed. Bodies are capped so a broken or hostile server cannot exhaust memory.
//! (Copies made inside hyper's own buffers are outside our control.)

use zeroize::Zeroizing;

use crate::error::{CyberArkError, transport};

/// Largest CCP answer accepted (a flat map of account properties).
pub(crate) const CCP_BODY_LIMIT: usize = 1024 * 1024;
/// Largest PVWA answer accepted (a page of up to 1000 accounts).
pub(crate) const PVWA_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A byte buffer that wipes every allocation it leaves behind.
#[derive(Default)]
pub(crate) struct WipingBuf {
    buf: Zeroizing<Vec<u8>>,
}

impl WipingBuf {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        WipingBuf {
            buf: Zeroizing::new(Vec::with_capacity(cap)),
        }
    }

    /// Appends bytes; refuses to grow past `limit`.
    pub(crate) fn extend(&mut self, bytes: &[u8], limit: usize) -> Result<(), usize> {
        let needed = self.buf.len().saturating_add(bytes.len());
        if needed > limit {
            return Err(needed);
        }
        if needed > self.buf.capacity() {
            let new_cap = needed.max(self.buf.capacity().saturating_mul(2)).min(limit);
            let mut grown = Zeroizing::new(Vec::with_capacity(new_cap));
            grown.extend_from_slice(&self.buf);
            // The old allocation is wiped when `self.buf` is replaced (Zeroizing's Drop).
            self.buf = grown;
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

/// Reads a whole answer body, failing with a protocol error past `limit` bytes.
pub(crate) async fn read_body(
    endpoint: &'static str,
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, CyberArkError> {
    let hint = resp
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(8 * 1024);
    if hint > limit {
        return Err(too_big(endpoint, limit));
    }
    let mut buf = WipingBuf::with_capacity(hint.min(limit));
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(endpoint, e))? {
        buf.extend(&chunk, limit)
            .map_err(|_| too_big(endpoint, limit))?;
    }
    Ok(buf.into_inner())
}

fn too_big(endpoint: &'static str, limit: usize) -> CyberArkError {
    CyberArkError::Protocol {
        endpoint,
        detail: format!("the answer is larger than {limit} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_keeps_content() {
        let mut b = WipingBuf::with_capacity(2);
        b.extend(b"hello", 100).unwrap();
        b.extend(b" world", 100).unwrap();
        assert_eq!(b.into_inner().as_slice(), b"hello world");
    }

    #[test]
    fn refuses_past_the_limit() {
        let mut b = WipingBuf::default();
        b.extend(&[0u8; 10], 16).unwrap();
        assert_eq!(b.extend(&[0u8; 10], 16), Err(20));
        b.extend(&[0u8; 6], 16).unwrap();
        assert_eq!(b.into_inner().len(), 16);
    }

    #[test]
    fn empty_body_is_fine() {
        assert!(WipingBuf::default().into_inner().is_empty());
    }
}
