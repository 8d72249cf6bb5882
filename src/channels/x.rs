//! X (API v2): mentions from `GET /2/users/:id/mentions` after `since_id`, replies with
//! `POST /2/tweets` and `reply.in_reply_to_tweet_id`. X has no idempotency key for posts, so
//! after an interrupted attempt the worker looks through the brand's recent tweets for the reply
//! before posting again.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::http::{error_from, parse_iso8601, send_error};
use super::{ChannelError, ChannelResult, Connector, Incoming, Outgoing, Page, Posted};
use crate::config::ChannelConfig;
use crate::model::{Customer, Millis};
use crate::store::NewInbound;
use crate::text::{Counting, Limit};

/// Pages of 100 (X's maximum) followed back in time at most this often in one read.
const MAX_PAGES: usize = 10;
const TWEET_FIELDS: &str = "tweet.fields=author_id,conversation_id,created_at,referenced_tweets";

pub struct X {
    name: String,
    base: String,
    token: String,
    http: reqwest::Client,
    /// The brand's user id and username, from `/2/users/me`.
    me: Mutex<Option<(String, String)>>,
}

impl X {
    pub fn new(c: &ChannelConfig, token: String) -> Self {
        X {
            name: c.channel_name().to_string(),
            base: c.base_url.trim_end_matches('/').to_string(),
            token,
            http: super::http_client(),
            me: Mutex::new(None),
        }
    }

    fn me(&self) -> ChannelResult<(String, String)> {
        self.me
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .ok_or_else(|| ChannelError::transient("the X account is not known yet"))
    }

    async fn get_json(&self, path_and_query: &str, now: Millis) -> ChannelResult<Value> {
        super::http::get_json(&self.http, &self.base, &self.token, path_and_query, now).await.map(|(v, _)| v)
    }
}

/// X ids are decimal strings; compare them as numbers.
fn cmp_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn replied_to(t: &Value) -> Option<String> {
    t["referenced_tweets"]
        .as_array()?
        .iter()
        .find(|r| r["type"].as_str() == Some("replied_to"))
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
}

impl Connector for X {
    fn name(&self) -> &str {
        &self.name
    }

    fn limit(&self) -> Limit {
        Limit { max: 280, counting: Counting::Weighted }
    }

    fn prepare(&self, now: Millis) -> BoxFuture<'_, ChannelResult<()>> {
        Box::pin(async move {
            let v = self.get_json("/2/users/me", now).await?;
            let id = v["data"]["id"].as_str().ok_or_else(|| ChannelError::transient("no id in /2/users/me"))?;
            let username = v["data"]["username"].as_str().unwrap_or("i").to_string();
            if let Ok(mut m) = self.me.lock() {
                *m = Some((id.to_string(), username));
            }
            Ok(())
        })
    }

    fn fetch(&self, cursor: Option<String>, now: Millis) -> BoxFuture<'_, ChannelResult<Page>> {
        Box::pin(async move {
            let (id, _) = self.me()?;
            // X pages backwards in time from the newest; since_id bounds how far back. All pages
            // are read before anything is stored, so the cursor (the newest id) is saved only
            // once everything older than it is in.
            let mut tweets: Vec<Value> = Vec::new();
            let mut users: HashMap<String, (String, String)> = HashMap::new();
            let mut newest: Option<String> = None;
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let mut path = format!(
                    "/2/users/{id}/mentions?max_results=100&{TWEET_FIELDS}&expansions=author_id&user.fields=username,name"
                );
                if let Some(c) = &cursor {
                    path.push_str(&format!("&since_id={c}"));
                }
                if let Some(t) = &token {
                    path.push_str(&format!("&pagination_token={t}"));
                }
                let v = self.get_json(&path, now).await?;
                if newest.is_none() {
                    newest = v["meta"]["newest_id"].as_str().map(str::to_string);
                }
                for u in v["includes"]["users"].as_array().into_iter().flatten() {
                    if let (Some(uid), Some(un)) = (u["id"].as_str(), u["username"].as_str()) {
                        let name = u["name"].as_str().unwrap_or(un).to_string();
                        users.insert(uid.to_string(), (un.to_string(), name));
                    }
                }
                tweets.extend(v["data"].as_array().cloned().unwrap_or_default());
                token = v["meta"]["next_token"].as_str().map(str::to_string);
                // Without a cursor only the newest page: older mentions predate the help desk.
                if token.is_none() || cursor.is_none() {
                    break;
                }
            }
            tweets.sort_by(|a, b| cmp_ids(a["id"].as_str().unwrap_or(""), b["id"].as_str().unwrap_or("")));
            let items = tweets
                .iter()
                .filter(|t| t["author_id"].as_str() != Some(id.as_str()))
                .filter_map(|t| {
                    let author = t["author_id"].as_str()?;
                    let (handle, name) = users.get(author).cloned().unwrap_or((author.to_string(), author.to_string()));
                    Some(Incoming {
                        message: NewInbound {
                            channel: self.name.clone(),
                            external_id: t["id"].as_str()?.to_string(),
                            customer: Customer { handle, name },
                            text: super::html::decode_entities(t["text"].as_str().unwrap_or("")),
                            conversation_id: t["conversation_id"].as_str().map(str::to_string),
                            in_reply_to: replied_to(t),
                            received_at: t["created_at"].as_str().and_then(parse_iso8601),
                            priority: None,
                        },
                        visibility: None,
                    })
                })
                .collect();
            Ok(Page { items, cursor: newest, more: false })
        })
    }

    fn post<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Posted>> {
        Box::pin(async move {
            let (_, username) = self.me()?;
            let body =
                serde_json::json!({ "text": reply.text, "reply": { "in_reply_to_tweet_id": reply.in_reply_to } });
            let r = self
                .http
                .post(format!("{}/2/tweets", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .map_err(|e| send_error(&e))?;
            let status = r.status();
            let headers = r.headers().clone();
            let text = r.text().await.map_err(|e| send_error(&e))?;
            if !status.is_success() {
                return Err(error_from(status, &headers, &text, now));
            }
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let id = v["data"]["id"].as_str().ok_or_else(|| ChannelError::Transient {
                message: "the answer to a post has no id".into(),
                retry_at: None,
                maybe_sent: true,
            })?;
            Ok(Posted { id: id.to_string(), url: Some(format!("https://x.com/{username}/status/{id}")) })
        })
    }

    fn find_posted<'a>(&'a self, reply: &'a Outgoing, now: Millis) -> BoxFuture<'a, ChannelResult<Option<Posted>>> {
        Box::pin(async move {
            let (id, username) = self.me()?;
            let v = self.get_json(&format!("/2/users/{id}/tweets?max_results=100&{TWEET_FIELDS}"), now).await?;
            let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let want = norm(&reply.text);
            let found = v["data"].as_array().into_iter().flatten().find(|t| {
                replied_to(t).as_deref() == Some(reply.in_reply_to.as_str())
                    // X may put the thread's @mentions in front of the text.
                    && norm(&super::html::decode_entities(t["text"].as_str().unwrap_or(""))).ends_with(&want)
            });
            Ok(found.and_then(|t| {
                let tid = t["id"].as_str()?;
                Some(Posted { id: tid.to_string(), url: Some(format!("https://x.com/{username}/status/{tid}")) })
            }))
        })
    }
}
