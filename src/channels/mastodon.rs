//! Mastodon: mentions from the notifications API (paged forward with `min_id`) and, live, from
//! the streaming API; replies with `POST /api/v1/statuses` under the customer's status, with the
//! customer's `@acct`, their post's visibility and an `Idempotency-Key`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::http::{error_from, parse_iso8601, send_error};
use super::{ChannelError, ChannelResult, Connector, Incoming, Outgoing, Page, Posted, html};
use crate::config::ChannelConfig;
use crate::model::{Customer, Millis};
use crate::store::NewInbound;
use crate::text::{self, Counting, Limit};

/// Mastodon's own page size maximum for notifications.
const PAGE: usize = 40;

pub struct Mastodon {
    name: String,
    base: String,
    token: String,
    stream: bool,
    http: reqwest::Client,
    state: Mutex<Learned>,
}

#[derive(Default, Clone)]
struct Learned {
    /// The brand account's id: its own posts are not questions, and its replies are looked for
    /// after an interrupted attempt.
    account_id: Option<String>,
    max_characters: Option<usize>,
}

impl Mastodon {
    pub fn new(c: &ChannelConfig, token: String, stream: bool) -> Self {
        Mastodon {
            name: c.channel_name().to_string(),
            base: c.base_url.trim_end_matches('/').to_string(),
            token,
            stream,
            http: super::http_client(),
            state: Mutex::new(Learned::default()),
        }
    }

    fn learned(&self) -> Learned {
        self.state.lock().map(|l| l.clone()).unwrap_or_default()
    }

    async fn get_json(&self, path_and_query: &str, now: Millis) -> ChannelResult<(Value, reqwest::header::HeaderMap)> {
        super::http::get_json(&self.http, &self.base, &self.token, path_and_query, now).await
    }

    /// A notification as a customer question, if it is a mention in a status from someone else.
    fn incoming(&self, n: &Value, own_id: Option<&str>) -> Option<Incoming> {
        if n["type"].as_str() != Some("mention") {
            return None;
        }
        let s = &n["status"];
        let account = &s["account"];
        if own_id.is_some() && account["id"].as_str() == own_id {
            return None;
        }
        let mut body = html::to_text(s["content"].as_str().unwrap_or(""));
        if let Some(cw) = s["spoiler_text"].as_str().filter(|c| !c.is_empty()) {
            body = format!("[CW: {}]\n{body}", html::decode_entities(cw));
        }
        let acct = account["acct"].as_str()?.to_string();
        let name = account["display_name"].as_str().filter(|d| !d.is_empty()).unwrap_or(&acct).to_string();
        Some(Incoming {
            message: NewInbound {
                channel: self.name.clone(),
                external_id: s["id"].as_str()?.to_string(),
                customer: Customer { handle: acct, name },
                text: body,
                // Mastodon has no thread id; replies thread through in_reply_to.
                conversation_id: None,
                in_reply_to: s["in_reply_to_id"].as_str().map(str::to_string),
                received_at: s["created_at"].as_str().and_then(parse_iso8601),
                priority: None,
            },
            visibility: s["visibility"].as_str().map(str::to_string),
        })
    }
}

/// `@alice@other.example` counts as `@alice` on Mastodon: the domain is not part of the length.
fn strip_mention_domains(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if let Some(rest) = w.strip_prefix('@')
                && let Some((user, _domain)) = rest.split_once('@')
            {
                format!("@{user}")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether two post texts say the same, ignoring whitespace differences the server introduces.
fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    norm(a) == norm(b)
}

impl Connector for Mastodon {
    fn name(&self) -> &str {
        &self.name
    }

    fn limit(&self) -> Limit {
        Limit { max: self.learned().max_characters.unwrap_or(500), counting: Counting::Characters }
    }

    fn prepare(&self, now: Millis) -> BoxFuture<'_, ChannelResult<()>> {
        Box::pin(async move {
            let (me, _) = self.get_json("/api/v1/accounts/verify_credentials", now).await?;
            let id = me["id"].as_str().map(str::to_string);
            // The instance's limit is a nicety: without it the default 500 holds.
            let max = match self.get_json("/api/v2/instance", now).await {
                Ok((i, _)) => i["configuration"]["statuses"]["max_characters"].as_u64().map(|n| n as usize),
                Err(e) => {
                    tracing::warn!(channel = %self.name, error = %e, "cannot read the instance's limits; using 500");
                    None
                }
            };
            if let Ok(mut l) = self.state.lock() {
                l.account_id = id;
                l.max_characters = max.or(l.max_characters);
            }
            Ok(())
        })
    }

    fn fetch(&self, cursor: Option<String>, now: Millis) -> BoxFuture<'_, ChannelResult<Page>> {
        Box::pin(async move {
            // With min_id Mastodon returns the page just above the cursor (newest first within
            // it), so paging forward loses nothing however many arrived. Without a cursor: the
            // newest page only; history from before the help desk existed is not its queue.
            let mut path = format!("/api/v1/notifications?types[]=mention&limit={PAGE}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&min_id={c}"));
            }
            let (v, _) = self.get_json(&path, now).await?;
            let list = v.as_array().cloned().unwrap_or_default();
            let own = self.learned().account_id;
            let newest = list.iter().filter_map(|n| n["id"].as_str()).max_by(|a, b| cmp_ids(a, b)).map(str::to_string);
            let mut items: Vec<(String, Incoming)> = list
                .iter()
                .filter_map(|n| Some((n["id"].as_str()?.to_string(), self.incoming(n, own.as_deref())?)))
                .collect();
            items.sort_by(|a, b| cmp_ids(&a.0, &b.0));
            Ok(Page {
                items: items.into_iter().map(|(_, i)| i).collect(),
                cursor: newest,
                more: cursor.is_some() && list.len() >= PAGE,
            })
        })
    }

    fn compose(&self, body: &str, customer_handle: &str) -> String {
        let handle = customer_handle.trim_start_matches('@');
        let mention = format!("@{handle}");
        let already = body
            .split_whitespace()
            .any(|w| w.trim_end_matches([',', '.', ':', '!', '?']).eq_ignore_ascii_case(&mention));
        if already { body.to_string() } else { format!("{mention} {body}") }
    }

    fn length(&self, text: &str) -> usize {
        text::count(&strip_mention_domains(text), Counting::Characters)
    }

    fn post<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Posted>> {
        Box::pin(async move {
            let mut body = serde_json::json!({ "status": reply.text, "in_reply_to_id": reply.in_reply_to });
            if let Some(v) = &reply.visibility {
                body["visibility"] = Value::String(v.clone());
            }
            let r = self
                .http
                .post(format!("{}/api/v1/statuses", self.base))
                .bearer_auth(&self.token)
                // Mastodon keeps the key for an hour: a retry within it returns the first status.
                .header("Idempotency-Key", &reply.idempotency_key)
                .json(&body)
                .send()
                .await
                .map_err(|e| send_error(&e))?;
            let status = r.status();
            let headers = r.headers().clone();
            let text = r.text().await.map_err(|e| super::http::send_error(&e))?;
            if !status.is_success() {
                return Err(error_from(status, &headers, &text, now));
            }
            let v: Value = serde_json::from_str(&text).map_err(|e| ChannelError::Transient {
                message: format!("unreadable answer to a post: {e}"),
                retry_at: None,
                maybe_sent: true,
            })?;
            let id = v["id"].as_str().ok_or_else(|| ChannelError::Transient {
                message: "the answer to a post has no id".into(),
                retry_at: None,
                maybe_sent: true,
            })?;
            Ok(Posted { id: id.to_string(), url: v["url"].as_str().or(v["uri"].as_str()).map(str::to_string) })
        })
    }

    fn find_posted<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Option<Posted>>> {
        Box::pin(async move {
            // The idempotency key covers an hour; the thread covers any time after that.
            let own = self.learned().account_id;
            let (ctx, _) = self.get_json(&format!("/api/v1/statuses/{}/context", reply.in_reply_to), now).await?;
            let found = ctx["descendants"].as_array().into_iter().flatten().find(|s| {
                s["in_reply_to_id"].as_str() == Some(reply.in_reply_to.as_str())
                    && (own.is_none() || s["account"]["id"].as_str() == own.as_deref())
                    && same_text(&html::to_text(s["content"].as_str().unwrap_or("")), &reply.text)
            });
            Ok(found.and_then(|s| {
                Some(Posted { id: s["id"].as_str()?.to_string(), url: s["url"].as_str().map(str::to_string) })
            }))
        })
    }

    fn listen(self: Arc<Self>, wake: Arc<tokio::sync::Notify>) -> Option<BoxFuture<'static, ()>> {
        if !self.stream {
            return None;
        }
        Some(Box::pin(async move {
            use eventsource_stream::Eventsource;
            let mut delay = Duration::from_secs(1);
            loop {
                // No overall timeout: the stream stays open for as long as the server keeps it.
                let client =
                    crate::tls::client_builder().connect_timeout(Duration::from_secs(10)).build().unwrap_or_default();
                let r = client
                    .get(format!("{}/api/v1/streaming/user/notification", self.base))
                    .bearer_auth(&self.token)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        delay = Duration::from_secs(1);
                        // Catch up on what arrived while the stream was down.
                        wake.notify_one();
                        let mut events = r.bytes_stream().eventsource();
                        while let Some(e) = events.next().await {
                            match e {
                                // The event tells that something arrived; the poller reads it
                                // with the cursor, so ordering and crash safety stay in one place.
                                Ok(ev) if ev.event == "notification" => wake.notify_one(),
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::debug!(channel = %self.name, error = %e, "stream broke");
                                    break;
                                }
                            }
                        }
                    }
                    Ok(r) => {
                        tracing::warn!(channel = %self.name, status = %r.status(), "streaming refused; polling only until it works")
                    }
                    Err(e) => tracing::debug!(channel = %self.name, error = %e, "cannot reach the streaming API"),
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }))
    }
}

/// Mastodon ids are numeric strings of varying length; compare them as numbers.
fn cmp_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector() -> Mastodon {
        let c: ChannelConfig = toml::from_str(
            "kind = \"mastodon\"\nbase_url = \"http://127.0.0.1:1\"\naccount = \"help\"\ntoken_env = \"X\"\n",
        )
        .unwrap();
        Mastodon::new(&c, "t".into(), false)
    }

    #[test]
    fn replies_mention_the_customer_once() {
        let m = connector();
        assert_eq!(
            m.compose("Your parcel ships today.", "alice@other.example"),
            "@alice@other.example Your parcel ships today."
        );
        assert_eq!(m.compose("Hi @alice, it ships today.", "alice"), "Hi @alice, it ships today.");
    }

    #[test]
    fn remote_mentions_count_without_their_domain() {
        let m = connector();
        assert_eq!(m.length("@alice@other.example hi"), "@alice hi".len());
        assert_eq!(m.length("see https://example.com/a/very/long/path/indeed"), 4 + 23);
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(cmp_ids("9", "10"), std::cmp::Ordering::Less);
        assert_eq!(cmp_ids("110", "109"), std::cmp::Ordering::Greater);
    }
}
