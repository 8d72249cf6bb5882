//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), with a
//! shared secret written as `whsec_<base64 key>`. Here rather than in `server`: the client signs
//! what the server checks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signing key a secret stands for: the base64 after `whsec_`, else the text's own bytes.
pub fn secret_key(secret: &str) -> Vec<u8> {
    let s = secret.trim();
    if let Some(b64) = s.strip_prefix("whsec_")
        && let Ok(key) = STANDARD.decode(b64)
    {
        return key;
    }
    s.as_bytes().to_vec()
}

/// A fresh secret in the `whsec_` form.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header value for a body.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(key, id, &timestamp.to_string(), body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from the server's clock (more than the tolerance)")]
    Stale(i64),
    #[error("no webhook-signature matches this body and secret")]
    Mismatch,
}

/// Checks a signed request. `now_secs` is the server's time; `tolerance_secs` how far the
/// sender's timestamp may be from it either way (replays of old requests are refused).
pub fn verify(
    key: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<String, VerifyError> {
    let get = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::Missing(name))
    };
    let id = get("webhook-id")?;
    let ts_text = get("webhook-timestamp")?;
    let signatures = get("webhook-signature")?;
    let ts: i64 = ts_text.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew = (now_secs - ts).abs();
    if skew > tolerance_secs {
        return Err(VerifyError::Stale(skew));
    }
    let expected = mac(key, id, ts_text, body);
    for candidate in signatures.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else { continue };
        let Ok(tag) = STANDARD.decode(b64) else { continue };
        // verify_slice compares in constant time.
        if expected.clone().verify_slice(&tag).is_ok() {
            return Ok(id.to_string());
        }
    }
    Err(VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert("webhook-timestamp", HeaderValue::from_str(&ts.to_string()).unwrap());
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let h = headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, &format!("v1,bogus {sig}"));
        assert_eq!(verify(&key, &h, body, 1614265330 + 10, 300), Ok("msg_p5jXN8AQM9LWM0D4loKWxJek".into()));
    }

    #[test]
    fn refuses_tampering_staleness_and_missing_headers() {
        let key = secret_key(&new_secret());
        let body = b"{}";
        let sig = sign(&key, "id1", 1000, body);
        let h = headers("id1", 1000, &sig);
        assert_eq!(verify(&key, &h, b"{ }", 1000, 300), Err(VerifyError::Mismatch));
        assert_eq!(verify(&key, &h, body, 1000 + 301, 300), Err(VerifyError::Stale(301)));
        assert_eq!(verify(b"other", &h, body, 1000, 300), Err(VerifyError::Mismatch));
        let mut h2 = h.clone();
        h2.remove("webhook-id");
        assert_eq!(verify(&key, &h2, body, 1000, 300), Err(VerifyError::Missing("webhook-id")));
    }
}
