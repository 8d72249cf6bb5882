//! Agents, their skills and their tokens.

use super::db::{Conn, Param, Row, query};
use super::{NewAgent, Store, WriteTx};
use crate::error::{Error, Result};
use crate::model::{Agent, AgentStatus, Millis, Role, Skill, event_kind, is_identifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

const AGENT_COLUMNS: &str = "a.id, a.handle, a.display_name, a.function, a.role, a.novice, \
     a.capacity, a.status, a.signature, a.disabled, a.created_at, m.handle AS mentor_handle";

/// SHA-256 of a token, hex. Tokens are 256 random bits, so a plain hash is enough: there is
/// nothing to guess that a slow hash would protect.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("hh_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn agent_from_row(row: &Row, skills: Vec<Skill>) -> Result<Agent> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    Ok(Agent {
        id: row.try_get("id")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
        function: row.try_get("function")?,
        role: Role::parse(&role).ok_or_else(|| Error::Internal(format!("bad role {role}")))?,
        novice: row.try_get("novice")?,
        mentor: row.try_get("mentor_handle")?,
        capacity: row.try_get::<i64>("capacity")? as u32,
        status: AgentStatus::parse(&status).ok_or_else(|| Error::Internal(format!("bad status {status}")))?,
        signature: row.try_get("signature")?,
        skills,
        disabled: row.try_get("disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn skills_of(conn: Conn<'_>, agent_id: i64) -> Result<Vec<Skill>> {
    let rows = query("SELECT topic, proficiency FROM skills WHERE agent_id = ? ORDER BY proficiency DESC, topic")
        .bind(agent_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok(Skill { topic: r.try_get("topic")?, proficiency: r.try_get::<i64>("proficiency")? as u8 }))
        .collect()
}

/// Loads one agent by a condition on `a` (the agents table).
pub(super) async fn load_agent_where(
    mut conn: Conn<'_>,
    condition: &'static str,
    value: impl Param,
) -> Result<Option<Agent>> {
    let sql =
        format!("SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN agents m ON m.id = a.mentor_id WHERE {condition}");
    let row = query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(conn.re()).await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let id: i64 = row.try_get("id")?;
            let skills = skills_of(conn.re(), id).await?;
            Ok(Some(agent_from_row(&row, skills)?))
        }
    }
}

impl Store {
    /// Adds an employee and returns it with its first token (shown once, stored hashed).
    pub async fn add_agent(&self, new: NewAgent, known_functions: &[String], now: Millis) -> Result<(Agent, String)> {
        let handle = new.handle.trim().trim_start_matches('@').to_string();
        if handle.is_empty()
            || handle.len() > 32
            || !handle.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(Error::invalid("handle must be 1 to 32 letters, digits, '.', '_' or '-'"));
        }
        if new.display_name.trim().is_empty() || new.display_name.chars().count() > 80 {
            return Err(Error::invalid("display name must be 1 to 80 characters"));
        }
        if !known_functions.contains(&new.function) {
            return Err(Error::invalid(format!(
                "unknown function '{}'; known: {}",
                new.function,
                known_functions.join(", ")
            )));
        }
        if !(1..=50).contains(&new.capacity) {
            return Err(Error::invalid("capacity must be from 1 to 50"));
        }
        for s in &new.skills {
            if !is_identifier(&s.topic) || !(1..=5).contains(&s.proficiency) {
                return Err(Error::invalid(format!(
                    "skill '{}:{}': topic must be a name and proficiency 1 to 5",
                    s.topic, s.proficiency
                )));
            }
        }
        if new.novice && new.mentor.is_none() {
            return Err(Error::invalid("a novice needs a mentor (--mentor HANDLE)"));
        }
        let mut tx = self.write(now).await?;
        let mentor_id = match &new.mentor {
            None => None,
            Some(m) => {
                let m = m.trim_start_matches('@');
                let mentor = load_agent_where(tx.conn(), "a.handle = ?", m)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("mentor '@{m}' does not exist")))?;
                if mentor.role < Role::Mentor {
                    return Err(Error::invalid(format!(
                        "'@{m}' cannot mentor: role is {}, needs mentor, lead or admin",
                        mentor.role
                    )));
                }
                Some(mentor.id)
            }
        };
        let exists =
            query("SELECT 1 FROM agents WHERE handle = ?").bind(handle.clone()).fetch_optional(tx.conn()).await?;
        if exists.is_some() {
            return Err(Error::conflict("handle_taken", format!("handle '@{handle}' is taken")));
        }
        let id: i64 = query(
            "INSERT INTO agents (handle, display_name, function, role, novice, mentor_id, capacity, \
             status, status_at, signature, disabled, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 'offline', ?, ?, FALSE, ?) RETURNING id",
        )
        .bind(handle.clone())
        .bind(new.display_name.trim().to_string())
        .bind(new.function.clone())
        .bind(new.role.as_str())
        .bind(new.novice)
        .bind(mentor_id)
        .bind(new.capacity as i64)
        .bind(now)
        .bind(new.signature.clone())
        .bind(now)
        .scalar_one(tx.conn())
        .await?;
        for s in &new.skills {
            query(
                "INSERT INTO skills (agent_id, topic, proficiency) VALUES (?, ?, ?) \
                 ON CONFLICT (agent_id, topic) DO UPDATE SET proficiency = excluded.proficiency",
            )
            .bind(id)
            .bind(s.topic.clone())
            .bind(s.proficiency as i64)
            .execute(tx.conn())
            .await?;
        }
        let token = insert_token(&mut tx, id).await?;
        let agent = load_agent_where(tx.conn(), "a.id = ?", id)
            .await?
            .ok_or_else(|| Error::Internal("agent vanished".into()))?;
        tx.event(event_kind::AGENT_ADDED, None, None, serde_json::json!({ "agent": &agent })).await?;
        tx.commit().await?;
        Ok((agent, token))
    }

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        let mut conn = self.read().await?;
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN agents m ON m.id = a.mentor_id ORDER BY a.function, a.handle"
        );
        let rows = query(sqlx::AssertSqlSafe(sql)).fetch_all(conn.conn()).await?;
        let skill_rows =
            query("SELECT agent_id, topic, proficiency FROM skills ORDER BY agent_id, proficiency DESC, topic")
                .fetch_all(conn.conn())
                .await?;
        let mut skills: std::collections::HashMap<i64, Vec<Skill>> = Default::default();
        for r in &skill_rows {
            skills
                .entry(r.try_get("agent_id")?)
                .or_default()
                .push(Skill { topic: r.try_get("topic")?, proficiency: r.try_get::<i64>("proficiency")? as u8 });
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                agent_from_row(r, skills.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    pub async fn agent_by_handle(&self, handle: &str) -> Result<Option<Agent>> {
        let mut conn = self.read().await?;
        load_agent_where(conn.conn(), "a.handle = ?", handle.trim_start_matches('@')).await
    }

    /// Disables an employee: their tokens stop working and what they held returns to the queue.
    pub async fn disable_agent(&self, handle: &str, actor: Option<&str>, now: Millis) -> Result<Agent> {
        let handle = handle.trim_start_matches('@');
        let mut tx = self.write(now).await?;
        let agent = load_agent_where(tx.conn(), "a.handle = ?", handle)
            .await?
            .ok_or_else(|| Error::not_found(format!("no agent '@{handle}'")))?;
        if agent.role == Role::Admin && !agent.disabled {
            let admins: i64 = query("SELECT COUNT(*) AS n FROM agents WHERE role = 'admin' AND NOT disabled")
                .fetch_one(tx.conn())
                .await?
                .try_get("n")?;
            if admins <= 1 {
                // Nobody could add, enable or disable anyone through the API afterwards.
                return Err(Error::conflict(
                    "last_admin",
                    format!("@{handle} is the last enabled admin; add or enable another admin first"),
                ));
            }
        }
        query("UPDATE agents SET disabled = TRUE, status = 'offline', status_at = ? WHERE id = ?")
            .bind(now)
            .bind(agent.id)
            .execute(tx.conn())
            .await?;
        query("UPDATE tokens SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(agent.id)
            .execute(tx.conn())
            .await?;
        let held: Vec<i64> = query("SELECT id FROM questions WHERE holder_id = ? AND state = 'claimed'")
            .bind(agent.id)
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        for qid in held {
            let q = super::questions::must_load(tx.conn(), qid).await?;
            super::questions::apply(&mut tx, qid, crate::lifecycle::holder_disabled(&q, actor, now)).await?;
        }
        tx.event(event_kind::AGENT_DISABLED, None, actor, serde_json::json!({ "handle": handle })).await?;
        tx.commit().await?;
        self.announce_credentials_changed();
        self.agent_by_handle_in_writer(handle).await
    }

    /// Enables a disabled employee again. Their old tokens stay revoked: issue a new one.
    pub async fn enable_agent(&self, handle: &str, actor: Option<&str>, now: Millis) -> Result<Agent> {
        let handle = handle.trim_start_matches('@');
        let mut tx = self.write(now).await?;
        let agent = load_agent_where(tx.conn(), "a.handle = ?", handle)
            .await?
            .ok_or_else(|| Error::not_found(format!("no agent '@{handle}'")))?;
        if !agent.disabled {
            return Err(Error::conflict("not_disabled", format!("@{handle} is not disabled")));
        }
        query("UPDATE agents SET disabled = FALSE, status = 'offline', status_at = ? WHERE id = ?")
            .bind(now)
            .bind(agent.id)
            .execute(tx.conn())
            .await?;
        tx.event(event_kind::AGENT_ENABLED, None, actor, serde_json::json!({ "handle": handle })).await?;
        tx.commit().await?;
        self.forget_sessions();
        self.agent_by_handle_in_writer(handle).await
    }

    async fn agent_by_handle_in_writer(&self, handle: &str) -> Result<Agent> {
        // Read through the writer so the caller sees its own write even before a reader's
        // snapshot catches up.
        let mut conn = self.lock_writer().await?;
        load_agent_where(conn.conn(), "a.handle = ?", handle)
            .await?
            .ok_or_else(|| Error::not_found(format!("no agent '@{handle}'")))
    }

    /// Issues another token for an employee. Earlier tokens stay valid unless `revoke_others`.
    pub async fn issue_token(&self, handle: &str, revoke_others: bool, now: Millis) -> Result<String> {
        let handle = handle.trim_start_matches('@');
        let mut tx = self.write(now).await?;
        let agent = load_agent_where(tx.conn(), "a.handle = ?", handle)
            .await?
            .ok_or_else(|| Error::not_found(format!("no agent '@{handle}'")))?;
        if agent.disabled {
            return Err(Error::conflict("agent_disabled", format!("'@{handle}' is disabled")));
        }
        if revoke_others {
            query("UPDATE tokens SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(agent.id)
                .execute(tx.conn())
                .await?;
        }
        let token = insert_token(&mut tx, agent.id).await?;
        tx.commit().await?;
        if revoke_others {
            self.announce_credentials_changed();
        }
        Ok(token)
    }

    /// The agent a bearer token belongs to, if the token is valid and the agent enabled.
    ///
    /// Answers are remembered for up to a second ([`super::AUTH_CACHE_TTL`]) to spare every
    /// request three queries. Changes made through this store (disable, revoke, status) forget
    /// them at once; a change from another process (the admin CLI) takes effect within the TTL.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Agent>> {
        let hash = hash_token(token.trim());
        if let Some(agent) = self.cached_session(&hash) {
            return Ok(Some(agent));
        }
        let mut conn = self.read().await?;
        let row = query(
            "SELECT t.agent_id FROM tokens t JOIN agents a ON a.id = t.agent_id \
             WHERE t.hash = ? AND t.revoked_at IS NULL AND NOT a.disabled",
        )
        .bind(hash.clone())
        .fetch_optional(conn.conn())
        .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let id: i64 = r.try_get("agent_id")?;
                let agent = load_agent_where(conn.conn(), "a.id = ?", id).await?;
                if let Some(a) = &agent {
                    self.remember_session(hash, a.clone());
                }
                Ok(agent)
            }
        }
    }

    /// Of these token hashes, the ones that still sign in an enabled agent, read afresh (no
    /// cache): open event streams are checked against it.
    pub async fn valid_token_hashes(&self, hashes: &[String]) -> Result<std::collections::HashSet<String>> {
        let mut valid = std::collections::HashSet::new();
        let mut conn = self.read().await?;
        // SQLite allows 32,766 parameters a statement; pages of 500 keep each query small.
        for page in hashes.chunks(500) {
            let marks = vec!["?"; page.len()].join(", ");
            let sql = format!(
                "SELECT t.hash FROM tokens t JOIN agents a ON a.id = t.agent_id \
                 WHERE t.revoked_at IS NULL AND NOT a.disabled AND t.hash IN ({marks})"
            );
            // Only placeholders are formatted in; the hashes are bound.
            let mut q = query(sqlx::AssertSqlSafe(sql));
            for h in page {
                q = q.bind(h.clone());
            }
            for row in q.fetch_all(conn.conn()).await? {
                valid.insert(row.try_get("hash")?);
            }
        }
        Ok(valid)
    }

    /// Sets an agent's presence (online, away, offline).
    pub async fn set_status(&self, agent: &Agent, status: AgentStatus, now: Millis) -> Result<Agent> {
        let mut tx = self.write(now).await?;
        query("UPDATE agents SET status = ?, status_at = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(now)
            .bind(agent.id)
            .execute(tx.conn())
            .await?;
        tx.event(
            event_kind::AGENT_STATUS,
            None,
            Some(&agent.handle),
            serde_json::json!({ "handle": agent.handle, "function": agent.function, "status": status }),
        )
        .await?;
        let updated = load_agent_where(tx.conn(), "a.id = ?", agent.id)
            .await?
            .ok_or_else(|| Error::not_found("agent vanished"))?;
        tx.commit().await?;
        self.forget_sessions();
        Ok(updated)
    }
}

async fn insert_token(tx: &mut WriteTx, agent_id: i64) -> Result<String> {
    let token = new_token();
    let now = tx.now;
    query("INSERT INTO tokens (agent_id, hash, created_at) VALUES (?, ?, ?)")
        .bind(agent_id)
        .bind(hash_token(&token))
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(token)
}
