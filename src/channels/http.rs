//! HTTP details the connectors share: turning a network's answer into "posted", "try again at"
//! or "refused for good", and reading rate-limit headers (`Retry-After`, `X-RateLimit-Reset`).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::ChannelError;
use crate::model::Millis;

/// When the network says to come back, as a time in ms since the epoch: the later of
/// `Retry-After` (seconds, or an HTTP date) and `X-RateLimit-Reset` (Mastodon: an ISO 8601 time;
/// X: Unix seconds; Bluesky sends it as `RateLimit-Reset`).
pub fn retry_at(headers: &HeaderMap, now: Millis) -> Option<Millis> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let after = get("retry-after").and_then(|v| match v.parse::<i64>() {
        Ok(secs) => Some(now + secs.max(0) * 1000),
        Err(_) => parse_http_date(v),
    });
    let reset = get("x-ratelimit-reset")
        .or_else(|| get("x-rate-limit-reset"))
        .or_else(|| get("ratelimit-reset"))
        .and_then(|v| {
            match v.parse::<f64>() {
                // Unix seconds; a small number is a delay in seconds (some servers send that).
                Ok(n) if n > 1e9 => Some((n * 1000.0) as Millis),
                Ok(n) => Some(now + (n.max(0.0) * 1000.0) as Millis),
                Err(_) => parse_iso8601(v),
            }
        });
    match (after, reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A non-success answer as an error: 429, 408 and 5xx heal with time; everything else (401
/// bad token, 403, 404, 422 too long…) will not, and goes back to the agent.
pub fn error_from(status: StatusCode, headers: &HeaderMap, body: &str, now: Millis) -> ChannelError {
    let detail = error_text(body);
    let message =
        if detail.is_empty() { format!("HTTP {status}") } else { format!("HTTP {}: {detail}", status.as_u16()) };
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        ChannelError::Transient { message, retry_at: retry_at(headers, now), maybe_sent: false }
    } else {
        ChannelError::Permanent { message }
    }
}

/// A failed request: a refused connection never reached the network; a timeout or a connection
/// cut mid-request may have.
/// GETs `base` + `path_and_query` with the bearer token and reads the JSON answer; an error
/// status becomes the matching `ChannelError` (rate limits with their retry time, counted from
/// `now`).
pub async fn get_json(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path_and_query: &str,
    now: Millis,
) -> Result<(serde_json::Value, HeaderMap), ChannelError> {
    let r = http.get(format!("{base}{path_and_query}")).bearer_auth(token).send().await.map_err(|e| send_error(&e))?;
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.text().await.map_err(|e| send_error(&e))?;
    if !status.is_success() {
        return Err(error_from(status, &headers, &body, now));
    }
    let v = serde_json::from_str(&body)
        .map_err(|e| ChannelError::transient(format!("unreadable answer from {base}: {e}")))?;
    Ok((v, headers))
}

pub fn send_error(e: &reqwest::Error) -> ChannelError {
    ChannelError::Transient { message: format!("network error: {e}"), retry_at: None, maybe_sent: !e.is_connect() }
}

/// The human part of an error body: XRPC (Bluesky) `{"error": name, "message": ...}`, Mastodon
/// `{"error": ...}`, X `{"detail"|"title"|"errors"}`, else the first 200 characters.
fn error_text(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let (Some(e), Some(m)) = (v["error"].as_str(), v["message"].as_str()) {
            return format!("{e}: {m}");
        }
        for key in ["error", "detail", "title"] {
            if let Some(s) = v[key].as_str() {
                return s.to_string();
            }
        }
        if let Some(s) = v["errors"][0]["message"].as_str() {
            return s.to_string();
        }
    }
    body.chars().take(200).collect::<String>().trim().to_string()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-23T18:37:10.919685+00:00`, `…Z`, or with another offset; ms since the epoch.
pub fn parse_iso8601(s: &str) -> Option<Millis> {
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    if s.len() < 19 || s.as_bytes()[4] != b'-' || s.as_bytes()[10] != b'T' && s.as_bytes()[10] != b' ' {
        return None;
    }
    let (y, mo, d, h, mi, se) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        let first3: String = digits.chars().chain("000".chars()).take(3).collect();
        ms = first3.parse::<i64>().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            let oh = hm.get(0..2)?.parse::<i64>().ok()?;
            let om = hm.get(2..4).and_then(|m| m.parse::<i64>().ok()).unwrap_or(0);
            sign * (oh * 60 + om)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// ms since the epoch as a UTC ISO 8601 time, `2026-11-23T18:37:10.919Z` (what Bluesky records
/// carry); the inverse of [`parse_iso8601`].
pub fn format_iso8601(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms.rem_euclid(1000))
}

/// An HTTP date, `Sun, 06 Nov 1994 08:49:37 GMT`; ms since the epoch.
pub fn parse_http_date(s: &str) -> Option<Millis> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let d: i64 = parts[1].parse().ok()?;
    let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let m = months.iter().position(|m| parts[2].eq_ignore_ascii_case(m))? as i64 + 1;
    let y: i64 = parts[3].parse().ok()?;
    let t: Vec<i64> = parts[4].split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if t.len() != 3 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn times_parse() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_iso8601("2026-11-23T18:37:10.919685+00:00"), Some(1_795_459_030_919));
        assert_eq!(parse_iso8601("2026-11-23T19:37:10.919+01:00"), Some(1_795_459_030_919));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
        assert_eq!(parse_iso8601("soon"), None);
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso8601(1_795_459_030_919), "2026-11-23T18:37:10.919Z");
        assert_eq!(parse_iso8601(&format_iso8601(951_782_400_123)), Some(951_782_400_123));
    }

    #[test]
    fn rate_limit_headers_give_the_later_time() {
        let now = 1_000_000_000_000;
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(retry_at(&h, now), Some(now + 30_000));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2001-09-09T01:47:40Z"));
        assert_eq!(retry_at(&h, now), Some(now + 60_000));
        let mut x = HeaderMap::new();
        x.insert("x-rate-limit-reset", HeaderValue::from_static("1000000060"));
        assert_eq!(retry_at(&x, now), Some(now + 60_000));
        assert_eq!(retry_at(&HeaderMap::new(), now), None);
    }

    #[test]
    fn errors_that_heal_are_told_from_those_that_do_not() {
        let h = HeaderMap::new();
        assert!(matches!(error_from(StatusCode::TOO_MANY_REQUESTS, &h, "", 0), ChannelError::Transient { .. }));
        assert!(matches!(error_from(StatusCode::BAD_GATEWAY, &h, "", 0), ChannelError::Transient { .. }));
        let e =
            error_from(StatusCode::UNPROCESSABLE_ENTITY, &h, r#"{"error":"Validation failed: Text is too long"}"#, 0);
        assert_eq!(e, ChannelError::Permanent { message: "HTTP 422: Validation failed: Text is too long".into() });
        assert!(matches!(error_from(StatusCode::UNAUTHORIZED, &h, "", 0), ChannelError::Permanent { .. }));
    }
}
