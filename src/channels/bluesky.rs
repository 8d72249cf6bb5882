//! Bluesky (AT Protocol, XRPC over HTTP). The brand logs in once with
//! `com.atproto.server.createSession` (handle and app password) and keeps the session alive with
//! `refreshSession`; it logs in again only when the refresh token itself is refused.
//!
//! Mentions and replies come from `app.bsky.notification.listNotifications` (reasons `mention`
//! and `reply`), newest first, read back to the saved cursor (the newest `indexedAt` already
//! stored). Replies are `app.bsky.feed.post` records made with `com.atproto.repo.createRecord`,
//! with `reply.parent` the customer's post and `reply.root` that post's own root, and facets for
//! mentions and links at UTF-8 byte offsets. The record key is derived from the outbox row, so a
//! reply that was posted before the process died is found again with `getRecord` instead of being
//! posted twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::http::{error_from, format_iso8601, parse_iso8601, send_error};
use super::{ChannelError, ChannelResult, Connector, Incoming, Outgoing, Page, Posted};
use crate::config::ChannelConfig;
use crate::model::{Customer, Millis};
use crate::store::NewInbound;
use crate::text::{Counting, Limit};

/// listNotifications' page size maximum.
const PAGE: usize = 100;
/// Pages followed back in time at most in one read; the next read carries on.
const MAX_PAGES: usize = 10;
/// How far before the cursor a read goes again. The appview dates a post by the earlier of its
/// own clock and the post's `createdAt`, so a customer's app with a slow clock can place a new
/// post a little before the cursor; the store drops what it has already.
const OVERLAP_MS: Millis = 15 * 60 * 1000;
const POST: &str = "app.bsky.feed.post";

#[derive(Debug, Clone)]
struct Session {
    access: String,
    refresh: String,
    did: String,
    handle: String,
}

pub struct Bluesky {
    name: String,
    base: String,
    identifier: String,
    password: String,
    http: reqwest::Client,
    /// Held across a refresh, so concurrent callers refresh once, not once each.
    session: tokio::sync::Mutex<Option<Session>>,
    logins: AtomicU64,
    refreshes: AtomicU64,
    /// Handles resolved to DIDs for mention facets.
    dids: Mutex<std::collections::HashMap<String, String>>,
}

/// One XRPC answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    /// The XRPC error name (`ExpiredToken`, `RecordNotFound`…).
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    fn into_error(self, now: Millis) -> ChannelError {
        error_from(self.status, &self.headers, &self.text, now)
    }
}

fn is_expired(a: &Answer) -> bool {
    matches!(a.status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED)
        && matches!(a.error(), "ExpiredToken" | "InvalidToken")
}

impl Bluesky {
    /// `account` is the brand's handle (or e-mail); the token is an app password.
    pub fn new(c: &ChannelConfig, app_password: String) -> Self {
        Bluesky {
            name: c.channel_name().to_string(),
            base: c.base_url.trim_end_matches('/').to_string(),
            identifier: c.account.trim_start_matches('@').to_string(),
            password: app_password,
            http: super::http_client(),
            session: tokio::sync::Mutex::new(None),
            logins: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            dids: Mutex::new(Default::default()),
        }
    }

    /// How often this connector logged in and refreshed its session (a login per request would
    /// soon be rate-limited: Bluesky allows a few dozen a day).
    pub fn session_counts(&self) -> (u64, u64) {
        (self.logins.load(Ordering::Relaxed), self.refreshes.load(Ordering::Relaxed))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> ChannelResult<Answer> {
        let r = req.send().await.map_err(|e| send_error(&e))?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.map_err(|e| send_error(&e))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, headers, body, text })
    }

    fn url(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.base)
    }

    fn session_from(v: &Value) -> ChannelResult<Session> {
        let get = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| ChannelError::transient(format!("the session answer has no {k}")))
        };
        Ok(Session { access: get("accessJwt")?, refresh: get("refreshJwt")?, did: get("did")?, handle: get("handle")? })
    }

    async fn login(&self, now: Millis) -> ChannelResult<Session> {
        self.logins.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "identifier": self.identifier, "password": self.password });
        let a = self.send(self.http.post(self.url("com.atproto.server.createSession")).json(&body)).await?;
        if !a.status.is_success() {
            return Err(a.into_error(now));
        }
        Self::session_from(&a.body)
    }

    /// The current session, logging in if there is none.
    async fn current(&self, now: Millis) -> ChannelResult<Session> {
        let mut s = self.session.lock().await;
        if let Some(s) = s.as_ref() {
            return Ok(s.clone());
        }
        let fresh = self.login(now).await?;
        *s = Some(fresh.clone());
        Ok(fresh)
    }

    /// Replaces a session whose access token expired: `refreshSession` with the refresh token,
    /// or a new login when that is refused too. `stale` is the access token that failed; if
    /// another caller already replaced it, its session is used.
    async fn renew(&self, stale: &str, now: Millis) -> ChannelResult<Session> {
        let mut s = self.session.lock().await;
        if let Some(cur) = s.as_ref()
            && cur.access != stale
        {
            return Ok(cur.clone());
        }
        let refreshed = match s.as_ref() {
            Some(cur) => {
                self.refreshes.fetch_add(1, Ordering::Relaxed);
                let a = self
                    .send(self.http.post(self.url("com.atproto.server.refreshSession")).bearer_auth(&cur.refresh))
                    .await?;
                if a.status.is_success() { Some(Self::session_from(&a.body)?) } else { None }
            }
            None => None,
        };
        let fresh = match refreshed {
            Some(f) => f,
            None => self.login(now).await?,
        };
        *s = Some(fresh.clone());
        Ok(fresh)
    }

    /// An authenticated XRPC call; an expired access token is renewed and the call made again.
    async fn call(&self, build: impl Fn(&str) -> reqwest::RequestBuilder, now: Millis) -> ChannelResult<Answer> {
        let s = self.current(now).await?;
        let a = self.send(build(&s.access)).await?;
        if !is_expired(&a) {
            return Ok(a);
        }
        let s = self.renew(&s.access, now).await?;
        self.send(build(&s.access)).await
    }

    async fn get(&self, nsid: &str, query: &[(&str, &str)], now: Millis) -> ChannelResult<Value> {
        let url = self.url(nsid);
        let a = self.call(|token| self.http.get(&url).query(query).bearer_auth(token), now).await?;
        if !a.status.is_success() {
            return Err(a.into_error(now));
        }
        Ok(a.body)
    }

    async fn resolve_handle(&self, handle: &str, now: Millis) -> Option<String> {
        if let Some(d) = self.dids.lock().ok().and_then(|m| m.get(handle).cloned()) {
            return Some(d);
        }
        let v = self.get("com.atproto.identity.resolveHandle", &[("handle", handle)], now).await.ok()?;
        let did = v["did"].as_str()?.to_string();
        if let Ok(mut m) = self.dids.lock() {
            m.insert(handle.to_string(), did.clone());
        }
        Some(did)
    }

    /// The facets for `text`: every `@handle` that resolves to an account, and every link.
    async fn facets(&self, text: &str, now: Millis) -> Vec<Value> {
        let mut out = Vec::new();
        for span in spans(text) {
            let feature = match &span.kind {
                SpanKind::Mention(handle) => match self.resolve_handle(handle, now).await {
                    Some(did) => json!({ "$type": "app.bsky.richtext.facet#mention", "did": did }),
                    None => continue,
                },
                SpanKind::Link(uri) => json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri }),
            };
            out.push(json!({
                "index": { "byteStart": span.start, "byteEnd": span.end },
                "features": [feature],
            }));
        }
        out
    }

    fn incoming(&self, n: &Value, own_did: &str) -> Option<Incoming> {
        if !matches!(n["reason"].as_str(), Some("mention" | "reply")) {
            return None;
        }
        let author = &n["author"];
        if author["did"].as_str() == Some(own_did) {
            return None;
        }
        let record = &n["record"];
        let uri = n["uri"].as_str()?.to_string();
        let handle = author["handle"].as_str()?.to_string();
        let name = author["displayName"].as_str().filter(|d| !d.trim().is_empty()).unwrap_or(&handle).to_string();
        let reply = &record["reply"];
        Some(Incoming {
            message: NewInbound {
                channel: self.name.clone(),
                external_id: uri.clone(),
                customer: Customer { handle, name },
                text: record["text"].as_str().unwrap_or("").to_string(),
                // A thread is named by its root post; a post that starts one is its own root.
                conversation_id: Some(reply["root"]["uri"].as_str().map(str::to_string).unwrap_or(uri)),
                in_reply_to: reply["parent"]["uri"].as_str().map(str::to_string),
                received_at: record["createdAt"].as_str().and_then(parse_iso8601),
                priority: None,
            },
            visibility: None,
        })
    }

    fn posted(&self, uri: &str, handle: &str) -> Posted {
        let rkey = uri.rsplit('/').next().unwrap_or("");
        Posted { id: uri.to_string(), url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")) }
    }
}

impl Connector for Bluesky {
    fn name(&self) -> &str {
        &self.name
    }

    fn limit(&self) -> Limit {
        Limit { max: 300, counting: Counting::Graphemes }
    }

    fn prepare(&self, now: Millis) -> BoxFuture<'_, ChannelResult<()>> {
        Box::pin(async move { self.current(now).await.map(|_| ()) })
    }

    fn fetch(&self, cursor: Option<String>, now: Millis) -> BoxFuture<'_, ChannelResult<Page>> {
        Box::pin(async move {
            let me = self.current(now).await?;
            let since = cursor.as_deref().and_then(parse_iso8601).map(|c| c - OVERLAP_MS);
            // Notifications come newest first; pages go back in time. Everything back to the
            // cursor is read before anything is stored, so the cursor (the newest indexedAt) is
            // saved only once all older posts are in. The last minutes before the cursor are
            // read again (see OVERLAP_MS), and the store drops what it already has.
            let mut list: Vec<Value> = Vec::new();
            let mut page_cursor: Option<String> = None;
            let limit = PAGE.to_string();
            for _ in 0..MAX_PAGES {
                let mut q = vec![("limit", limit.as_str()), ("reasons", "mention"), ("reasons", "reply")];
                if let Some(c) = &page_cursor {
                    q.push(("cursor", c.as_str()));
                }
                let v = self.get("app.bsky.notification.listNotifications", &q, now).await?;
                let batch = v["notifications"].as_array().cloned().unwrap_or_default();
                let reached = batch.iter().any(|n| match (since, n["indexedAt"].as_str().and_then(parse_iso8601)) {
                    (Some(s), Some(t)) => t < s,
                    _ => false,
                });
                let full = batch.len() >= PAGE;
                list.extend(batch);
                page_cursor = v["cursor"].as_str().map(str::to_string);
                // Without a cursor only the newest page: older mentions predate the help desk.
                if since.is_none() || reached || !full || page_cursor.is_none() {
                    break;
                }
            }
            let at = |n: &Value| n["indexedAt"].as_str().and_then(parse_iso8601).unwrap_or(0);
            list.retain(|n| since.is_none_or(|s| at(n) >= s));
            list.sort_by_key(at);
            // The cursor never moves back (an overlap read can end before it).
            let newest = list
                .last()
                .and_then(|n| n["indexedAt"].as_str())
                .filter(|n| cursor.as_deref().and_then(parse_iso8601) <= parse_iso8601(n))
                .map(str::to_string)
                .or(cursor.clone());
            let items = list.iter().filter_map(|n| self.incoming(n, &me.did)).collect();
            Ok(Page { items, cursor: newest, more: false })
        })
    }

    fn post<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Posted>> {
        Box::pin(async move {
            let me = self.current(now).await?;
            // The parent's own reply root is the thread's root; a parent that has none is it.
            let v = self.get("app.bsky.feed.getPosts", &[("uris", reply.in_reply_to.as_str())], now).await?;
            let parent = v["posts"].get(0).ok_or_else(|| ChannelError::Permanent {
                message: "the customer's post is gone from Bluesky".into(),
            })?;
            let parent_ref = json!({ "uri": parent["uri"], "cid": parent["cid"] });
            let root = &parent["record"]["reply"]["root"];
            let root_ref = if root["uri"].is_string() && root["cid"].is_string() {
                json!({ "uri": root["uri"], "cid": root["cid"] })
            } else {
                parent_ref.clone()
            };
            let mut record = json!({
                "$type": POST,
                "text": reply.text,
                "createdAt": format_iso8601(now),
                "reply": { "root": root_ref, "parent": parent_ref },
            });
            let facets = self.facets(&reply.text, now).await;
            if !facets.is_empty() {
                record["facets"] = Value::Array(facets);
            }
            let body = json!({ "repo": me.did, "collection": POST, "rkey": record_key(reply), "record": record });
            let url = self.url("com.atproto.repo.createRecord");
            let a = self.call(|token| self.http.post(&url).bearer_auth(token).json(&body), now).await?;
            if !a.status.is_success() {
                // The key is taken: an earlier attempt got through after all.
                if a.status == StatusCode::BAD_REQUEST
                    && let Ok(Some(p)) = self.find_posted(reply, now).await
                {
                    return Ok(p);
                }
                return Err(a.into_error(now));
            }
            let uri = a.body["uri"].as_str().ok_or_else(|| ChannelError::Transient {
                message: "the answer to a post has no uri".into(),
                retry_at: None,
                maybe_sent: true,
            })?;
            Ok(self.posted(uri, &me.handle))
        })
    }

    fn find_posted<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Option<Posted>>> {
        Box::pin(async move {
            let me = self.current(now).await?;
            let rkey = record_key(reply);
            let url = self.url("com.atproto.repo.getRecord");
            let q = [("repo", me.did.as_str()), ("collection", POST), ("rkey", rkey.as_str())];
            let a = self.call(|token| self.http.get(&url).query(&q).bearer_auth(token), now).await?;
            if a.status.is_success() {
                return Ok(a.body["uri"].as_str().map(|u| self.posted(u, &me.handle)));
            }
            if a.error() == "RecordNotFound" || a.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            Err(a.into_error(now))
        })
    }
}

/// The record key of a reply: a TID (the form `app.bsky.feed.post` keys take) made of the time
/// the reply was approved and a hash of its idempotency key. Every attempt uses the same key, so
/// a second create is refused and `getRecord` finds the first.
pub fn record_key(reply: &Outgoing) -> String {
    let hash = Sha256::digest(reply.idempotency_key.as_bytes());
    let micros = (reply.created_at.max(0) as u64) * 1000 + u64::from(u16::from_be_bytes([hash[0], hash[1]]) % 1000);
    let clock = u64::from(u16::from_be_bytes([hash[2], hash[3]]) & 0x3ff);
    tid(micros, clock)
}

/// A TID: 53 bits of microseconds and 10 bits of clock id, in base32-sortable, 13 characters.
fn tid(micros: u64, clock: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut v = ((micros & ((1 << 53) - 1)) << 10) | (clock & 0x3ff);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpanKind {
    /// The handle, without `@`.
    Mention(String),
    Link(String),
}

/// A part of a post's text that becomes a facet, as UTF-8 byte offsets (what the AT Protocol
/// counts in), `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    kind: SpanKind,
}

/// The `@handle` mentions (a handle has a dot: `@alice.bsky.social`) and `http(s)://` links in
/// `text`, each starting a word.
fn spans(text: &str) -> Vec<Span> {
    let trailing: &[char] = &['.', ',', ';', ':', '!', '?', ')', '"', '\''];
    let mut out = Vec::new();
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let start = offset;
        offset += word.len();
        let w = word.trim_end_matches(char::is_whitespace).trim_end_matches(trailing);
        // A word may open with punctuation: "(@alice.example".
        let lead = w.len() - w.trim_start_matches(['(', '"', '\'']).len();
        let w = &w[lead..];
        let start = start + lead;
        if let Some(handle) = w.strip_prefix('@') {
            let valid = handle.contains('.')
                && !handle.starts_with('.')
                && handle.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if valid {
                out.push(Span { start, end: start + w.len(), kind: SpanKind::Mention(handle.to_ascii_lowercase()) });
            }
        } else if (w.starts_with("https://") || w.starts_with("http://")) && w.len() > "https://".len() {
            out.push(Span { start, end: start + w.len(), kind: SpanKind::Link(w.to_string()) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(key: &str, created_at: Millis) -> Outgoing {
        Outgoing {
            text: "hi".into(),
            in_reply_to: "at://did:plc:x/app.bsky.feed.post/1".into(),
            visibility: None,
            idempotency_key: key.into(),
            created_at,
        }
    }

    #[test]
    fn facets_count_utf8_bytes() {
        let text = "Größe 🎧 @alice.bsky.social, see https://example.com/help.";
        let s = spans(text);
        assert_eq!(s.len(), 2);
        assert_eq!(&text[s[0].start..s[0].end], "@alice.bsky.social");
        // "Größe 🎧 " is 8 characters but 13 bytes: ö and ß take 2, the emoji 4.
        assert_eq!(s[0].start, 13);
        assert_eq!(s[0].kind, SpanKind::Mention("alice.bsky.social".into()));
        assert_eq!(&text[s[1].start..s[1].end], "https://example.com/help");
        assert_eq!(s[1].kind, SpanKind::Link("https://example.com/help".into()));
        assert!(spans("mail me @ noon, or @nodot").is_empty());
        let p = spans("(@bob.example)");
        assert_eq!(p[0].kind, SpanKind::Mention("bob.example".into()));
        assert_eq!((p[0].start, p[0].end), (1, 13));
    }

    #[test]
    fn record_keys_are_stable_tids() {
        let a = record_key(&outgoing("reply-1", 1_795_459_030_919));
        assert_eq!(a, record_key(&outgoing("reply-1", 1_795_459_030_919)));
        assert_ne!(a, record_key(&outgoing("reply-2", 1_795_459_030_919)));
        assert_eq!(a.len(), 13);
        assert!(a.chars().all(|c| "234567abcdefghijklmnopqrstuvwxyz".contains(c)));
        // The first character of a TID stays in the lower half of the alphabet (top bit zero).
        assert!("234567abcdefghij".contains(&a[..1]), "{a}");
        // Sorted like their times.
        assert!(tid(1_000_000, 5) < tid(2_000_000, 0));
        assert_eq!(tid(0, 0), "2222222222222");
    }
}
