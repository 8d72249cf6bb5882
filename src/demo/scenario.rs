//! The demo's script: who works in the hive besides the demo user, what customers ask and when,
//! and what colleagues answer. Written in TOML (the embedded `scenarios/default.toml`, or a file
//! given with `--scenario`), checked against the built-in configuration when loaded so that a
//! mistake shows up as one clear message instead of a world that quietly does nothing, then
//! expanded into a timeline of customer messages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::config::Config;
use crate::model::{Customer, Role, Skill};
use crate::routing;

/// The scenario `helphive demo` plays when no file is given.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.toml");

/// Channels a scenario may use: the networks the terminal knows how to count for, plus plain
/// webhooks and forums.
pub const CHANNELS: [&str; 5] = ["mastodon", "bluesky", "x", "webhook", "forum"];

/// Handle of the administrator account the world uses to post customer messages; no colleague or
/// user may take it.
pub const ADMIN_HANDLE: &str = "hive-admin";

/// Longest scenario accepted: a demo is minutes long, and a cap keeps time arithmetic far from
/// overflow.
const MAX_SECONDS: f64 = 24.0 * 3600.0;

/// The lease is 10 minutes in the built-in configuration; a colleague who took longer to write
/// a reply would lose the question half-way, which is not what a scenario author means.
const MAX_ANSWER_SECONDS: f64 = 540.0;

/// Social posts are short; anything longer in a scenario is a mistake (a missing quote).
const MAX_TEXT_CHARS: usize = 2000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    pub user: UserSpec,
    #[serde(default)]
    pub colleagues: Vec<ColleagueSpec>,
    #[serde(default)]
    pub arrivals: Vec<ArrivalSpec>,
    #[serde(default)]
    pub bursts: Vec<BurstSpec>,
    #[serde(default)]
    pub replies: RepliesSpec,
    /// Where it came from: "built-in default" or the file's path. Set by the loader.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Scenario seconds from the first to the last thing worth watching; `run_headless` callers
    /// use it as the default length.
    pub duration_seconds: f64,
}

/// The person watching the demo: a real agent account whose role comes from the command line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    #[serde(default = "default_user_handle")]
    pub handle: String,
    #[serde(default = "default_user_name")]
    pub name: String,
    pub function: String,
    /// `topic:level`, as on the command line.
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default = "default_capacity")]
    pub capacity: u32,
}

fn default_user_handle() -> String {
    "you".into()
}

fn default_user_name() -> String {
    "You (demo)".into()
}

fn default_capacity() -> u32 {
    3
}

fn default_review_seconds() -> f64 {
    30.0
}

/// A simulated employee.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColleagueSpec {
    pub handle: String,
    pub name: String,
    pub function: String,
    #[serde(default = "default_role")]
    pub role: Role,
    /// `topic:level`; routing matches questions to these (level 3 or more is a primary skill,
    /// below that the colleague only gets the topic once its deadline nears).
    pub skills: Vec<String>,
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Scenario seconds from claiming a question to sending the reply.
    pub answer_seconds: f64,
    #[serde(default)]
    pub novice: bool,
    /// The colleague who approves a novice's replies. When the demo user's role is mentor, the
    /// user takes this place instead, so the approvals land on their screen.
    #[serde(default)]
    pub mentor: Option<String>,
    /// For mentors: scenario seconds a mentee's reply waits before they approve it.
    #[serde(default = "default_review_seconds")]
    pub review_seconds: f64,
}

fn default_role() -> Role {
    Role::Agent
}

/// One customer message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalSpec {
    /// Scenario seconds from the start.
    pub at: f64,
    /// A name to refer to it from a follow-up's `in_reply_to`.
    #[serde(default)]
    pub id: Option<String>,
    /// Required, except on a follow-up, which stays on its original's channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// The customer's handle; a follow-up defaults to its original's customer.
    #[serde(default)]
    pub customer: Option<String>,
    /// The customer's display name; defaults to the handle.
    #[serde(default)]
    pub name: Option<String>,
    pub text: String,
    /// The customer has already waited this long when the message shows up (its received time
    /// lies in the past, so it starts close to its response deadline).
    #[serde(default)]
    pub waiting_minutes: Option<f64>,
    /// The `id` of an earlier arrival this one answers. The customer writes back only once that
    /// question has been answered, so it returns to whoever answered it.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub priority: Option<i32>,
    /// The topic the text is meant to land in; checked against the keyword rules when loading,
    /// so a reworded text cannot silently end up with another function.
    #[serde(default)]
    pub topic: Option<String>,
}

/// Many customers asking much the same thing at once (an outage, a late delivery round).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstSpec {
    pub at: f64,
    pub count: u32,
    /// The messages are spread evenly over this many scenario seconds.
    #[serde(default)]
    pub spread_seconds: f64,
    /// Used in turn.
    pub channels: Vec<String>,
    /// Used in turn.
    pub texts: Vec<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

/// What colleagues write. `{name}` in a reply becomes the customer's first name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepliesSpec {
    /// For a topic with no replies of its own.
    #[serde(default)]
    pub fallback: Vec<String>,
    /// For a customer who wrote back after an answer.
    #[serde(default)]
    pub followup: Vec<String>,
    #[serde(default)]
    pub topics: BTreeMap<String, Vec<String>>,
}

/// Said when a scenario gives no reply at all that fits.
const LAST_RESORT_REPLY: &str =
    "Hi {name}, thanks for getting in touch! We're looking into this and will get back to you shortly.";

/// A customer message on the timeline, with everything resolved.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub at: f64,
    /// Shown in reports: the arrival's `id`, or a made-up name for unnamed ones.
    pub label: String,
    /// Unique within the scenario; the world prefixes a per-run tag to make the external id.
    pub key: String,
    pub channel: String,
    pub customer: Customer,
    pub text: String,
    pub waiting_minutes: Option<f64>,
    /// The `key` of the arrival this one answers.
    pub in_reply_to: Option<String>,
    pub priority: Option<i32>,
}

/// Invented customers for bursts.
const BURST_CUSTOMERS: [&str; 16] = [
    "Alva Brinkman",
    "Bram Oyelaran",
    "Cato Lindqvist",
    "Dilys Parrow",
    "Emeka Sundberg",
    "Fenna Koster",
    "Gideon Marsh",
    "Hedda Quill",
    "Ivo Terranova",
    "Juna Petrakis",
    "Kasimir Dole",
    "Liv Amsel",
    "Matteo Griffin",
    "Nell Okoro",
    "Otto Varnum",
    "Perpetua Lane",
];

impl Scenario {
    /// The embedded default, or the file at `path`. Errors name the file and what is wrong.
    pub fn load(path: Option<&Path>) -> Result<Scenario, String> {
        match path {
            None => Scenario::parse(DEFAULT_SCENARIO, "built-in default"),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read scenario file {}: {e}", p.display()))?;
                Scenario::parse(&text, &p.display().to_string())
            }
        }
    }

    /// Parses and checks a scenario; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, String> {
        let what = if origin == "built-in default" {
            "built-in default scenario".to_string()
        } else {
            format!("scenario file {origin}")
        };
        let mut s: Scenario = toml::from_str(text).map_err(|e| format!("{what}: {}", toml_error(&e, text)))?;
        s.origin = origin.to_string();
        s.validate(&Config::builtin()).map_err(|e| format!("{what}: {e}"))?;
        Ok(s)
    }

    /// How long the scenario runs.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.scenario.duration_seconds)
    }

    fn validate(&self, config: &Config) -> Result<(), String> {
        let meta = &self.scenario;
        if meta.name.trim().is_empty() {
            return Err("[scenario] name is empty".into());
        }
        check_seconds("[scenario] duration_seconds", meta.duration_seconds)?;
        if meta.duration_seconds == 0.0 {
            return Err("[scenario] duration_seconds must be more than 0".into());
        }

        let u = &self.user;
        check_handle("[user]", &u.handle)?;
        check_person("[user]", &u.name, &u.function, &u.skills, u.capacity, config)?;

        let mut handles: HashMap<&str, &ColleagueSpec> = HashMap::new();
        for c in &self.colleagues {
            let at = format!("colleague '{}'", c.handle);
            check_handle(&at, &c.handle)?;
            if c.handle == u.handle {
                return Err(format!("{at}: the handle is the demo user's"));
            }
            if handles.insert(c.handle.as_str(), c).is_some() {
                return Err(format!("{at} is listed twice"));
            }
            check_person(&at, &c.name, &c.function, &c.skills, c.capacity, config)?;
            if c.role == Role::Admin {
                return Err(format!("{at}: role must be agent, mentor or lead"));
            }
            check_seconds(&format!("{at}: answer_seconds"), c.answer_seconds)?;
            if c.answer_seconds > MAX_ANSWER_SECONDS {
                return Err(format!(
                    "{at}: answer_seconds is {}; at most {MAX_ANSWER_SECONDS} fit in a claim's lease",
                    c.answer_seconds
                ));
            }
            check_seconds(&format!("{at}: review_seconds"), c.review_seconds)?;
        }
        for c in &self.colleagues {
            let at = format!("colleague '{}'", c.handle);
            match (&c.mentor, c.novice) {
                (None, true) => return Err(format!("{at} is a novice and needs a mentor")),
                (Some(_), false) => {
                    return Err(format!("{at}: only a novice has a mentor (add novice = true)"));
                }
                (Some(m), true) => {
                    let mentor = handles
                        .get(m.as_str())
                        .ok_or_else(|| format!("{at}: mentor '{m}' is not one of the colleagues"))?;
                    if mentor.role < Role::Mentor {
                        return Err(format!("{at}: mentor '{m}' needs role = \"mentor\" or \"lead\""));
                    }
                    if mentor.novice {
                        return Err(format!("{at}: mentor '{m}' is a novice too"));
                    }
                }
                (None, false) => {}
            }
        }

        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, a) in self.arrivals.iter().enumerate() {
            if let Some(id) = &a.id {
                if id.trim().is_empty() {
                    return Err(format!("arrival {} has an empty id", i + 1));
                }
                if ids.insert(id.as_str(), i).is_some() {
                    return Err(format!("arrival id '{id}' is used twice"));
                }
            }
        }
        for (i, a) in self.arrivals.iter().enumerate() {
            let at = match &a.id {
                Some(id) => format!("arrival '{id}'"),
                None => format!("arrival {} (at {} s)", i + 1, a.at),
            };
            check_seconds(&format!("{at}: at"), a.at)?;
            if a.at > meta.duration_seconds {
                return Err(format!("{at} comes at {} s, after the scenario ends ({} s)", a.at, meta.duration_seconds));
            }
            check_text(&at, &a.text)?;
            if let Some(w) = a.waiting_minutes
                && !(w.is_finite() && (0.0..=7.0 * 24.0 * 60.0).contains(&w))
            {
                return Err(format!("{at}: waiting_minutes must be from 0 to a week's worth"));
            }
            if let Some(p) = a.priority
                && !(-10..=10).contains(&p)
            {
                return Err(format!("{at}: priority must be from -10 to 10"));
            }
            if let Some(c) = &a.channel {
                check_channel(&at, c)?;
            }
            if let Some(name) = &a.name
                && (name.trim().is_empty() || name.len() > 256)
            {
                return Err(format!("{at}: name must be 1 to 256 characters"));
            }
            if let Some(c) = &a.customer
                && (c.trim().is_empty() || c.len() > 256 || c.chars().any(char::is_whitespace))
            {
                return Err(format!("{at}: customer must be a handle: 1 to 256 characters, no spaces"));
            }
            match &a.in_reply_to {
                None => {
                    if a.channel.is_none() {
                        return Err(format!("{at} needs a channel ({})", CHANNELS.join(", ")));
                    }
                    if a.customer.is_none() {
                        return Err(format!("{at} needs a customer handle"));
                    }
                    if let (Some(t), Some(channel)) = (&a.topic, &a.channel) {
                        check_topic(&at, channel, &a.text, t, config)?;
                    }
                }
                Some(parent) => {
                    let p = *ids
                        .get(parent.as_str())
                        .ok_or_else(|| format!("{at}: in_reply_to '{parent}' is not the id of any arrival"))?;
                    if self.arrivals[p].at >= a.at {
                        return Err(format!(
                            "{at}: answers '{parent}', which only arrives at {} s",
                            self.arrivals[p].at
                        ));
                    }
                    let parent_channel = self.channel_of(p);
                    if let (Some(mine), Some(theirs)) = (&a.channel, parent_channel)
                        && mine != theirs
                    {
                        return Err(format!(
                            "{at}: a follow-up stays on its original's channel ({theirs}), not {mine}"
                        ));
                    }
                    if a.topic.is_some() {
                        return Err(format!(
                            "{at}: a follow-up joins its original's question; it has no topic of its own"
                        ));
                    }
                }
            }
        }

        for (i, b) in self.bursts.iter().enumerate() {
            let at = format!("burst {} (at {} s)", i + 1, b.at);
            check_seconds(&format!("{at}: at"), b.at)?;
            check_seconds(&format!("{at}: spread_seconds"), b.spread_seconds)?;
            if b.at > meta.duration_seconds {
                return Err(format!("{at} comes after the scenario ends ({} s)", meta.duration_seconds));
            }
            if !(1..=500).contains(&b.count) {
                return Err(format!("{at}: count must be from 1 to 500"));
            }
            if b.channels.is_empty() {
                return Err(format!("{at}: give at least one channel"));
            }
            for c in &b.channels {
                check_channel(&at, c)?;
            }
            if b.texts.is_empty() {
                return Err(format!("{at}: give at least one text"));
            }
            for t in &b.texts {
                check_text(&at, t)?;
                // Texts and channels pair up in turn; every pairing is checked, which is simpler
                // than working out which ones a given count produces.
                if let Some(topic) = &b.topic {
                    for channel in &b.channels {
                        check_topic(&at, channel, t, topic, config)?;
                    }
                }
            }
        }

        let r = &self.replies;
        for (topic, list) in &r.topics {
            if config.topic(topic).is_none() {
                return Err(format!("[replies.topics] '{topic}' is not a topic; known: {}", topic_names(config)));
            }
            for t in list {
                check_text(&format!("[replies.topics] {topic}"), t)?;
            }
        }
        for t in r.fallback.iter().chain(&r.followup) {
            check_text("[replies]", t)?;
        }
        Ok(())
    }

    /// The channel arrival `i` is on, following `in_reply_to` back to the original.
    fn channel_of(&self, i: usize) -> Option<&str> {
        let mut seen = HashSet::new();
        let mut cur = i;
        loop {
            let a = self.arrivals.get(cur)?;
            if let Some(c) = &a.channel {
                return Some(c);
            }
            let parent = a.in_reply_to.as_deref()?;
            if !seen.insert(cur) {
                return None;
            }
            cur = self.arrivals.iter().position(|x| x.id.as_deref() == Some(parent))?;
        }
    }

    /// Every customer message in the order they arrive. Follow-ups take their original's channel
    /// and customer unless they name their own.
    pub(crate) fn timeline(&self) -> Vec<Arrival> {
        let mut out: Vec<Arrival> = Vec::new();
        let mut order: Vec<usize> = (0..self.arrivals.len()).collect();
        // Originals come before their follow-ups (validate checks their times), so resolving in
        // time order always finds the original already resolved.
        order.sort_by(|a, b| self.arrivals[*a].at.total_cmp(&self.arrivals[*b].at));
        let mut by_id: HashMap<&str, Arrival> = HashMap::new();
        for i in order {
            let a = &self.arrivals[i];
            let key = match &a.id {
                Some(id) => format!("a-{id}"),
                None => format!("n{}", i + 1),
            };
            let label = a.id.clone().unwrap_or_else(|| format!("arrival {}", i + 1));
            let parent = a.in_reply_to.as_deref().and_then(|p| by_id.get(p));
            let channel =
                a.channel.clone().or_else(|| parent.map(|p| p.channel.clone())).unwrap_or_else(|| "webhook".into());
            let handle = a
                .customer
                .clone()
                .or_else(|| parent.map(|p| p.customer.handle.clone()))
                .unwrap_or_else(|| "customer".into());
            let name = a
                .name
                .clone()
                .or_else(|| parent.filter(|_| a.customer.is_none()).map(|p| p.customer.name.clone()))
                .unwrap_or_else(|| handle.clone());
            let arrival = Arrival {
                at: a.at,
                label,
                key,
                channel,
                customer: Customer { handle: handle.trim_start_matches('@').to_string(), name },
                text: a.text.clone(),
                waiting_minutes: a.waiting_minutes,
                in_reply_to: parent.map(|p| p.key.clone()),
                priority: a.priority,
            };
            if let Some(id) = &a.id {
                by_id.insert(id, arrival.clone());
            }
            out.push(arrival);
        }
        for (b, burst) in self.bursts.iter().enumerate() {
            let n = burst.count as usize;
            for i in 0..n {
                let who = BURST_CUSTOMERS[(b * 7 + i) % BURST_CUSTOMERS.len()];
                let first = who.split_whitespace().next().unwrap_or(who).to_lowercase();
                out.push(Arrival {
                    at: burst.at + burst.spread_seconds * i as f64 / n as f64,
                    label: format!("burst {} #{}", b + 1, i + 1),
                    key: format!("b{}-{}", b + 1, i + 1),
                    channel: burst.channels[i % burst.channels.len()].clone(),
                    customer: Customer { handle: format!("{first}_{}{}", b + 1, i + 1), name: who.into() },
                    text: burst.texts[i % burst.texts.len()].clone(),
                    waiting_minutes: None,
                    in_reply_to: None,
                    priority: None,
                });
            }
        }
        out.sort_by(|a, b| a.at.total_cmp(&b.at));
        out
    }

    /// The skills of a person in the scenario, already checked by `validate`.
    pub(crate) fn skills(list: &[String]) -> Vec<Skill> {
        list.iter().filter_map(|s| Skill::parse(s).ok()).collect()
    }

    /// A colleague's reply to a question: a follow-up reply when the customer wrote back, else
    /// one for the topic, else a general one. Among those, the one sharing the most words with
    /// what the customer wrote, so a handful of canned replies still read as answers; `pick`
    /// breaks ties, so equal candidates take turns.
    pub(crate) fn reply_text(
        &self,
        topic: &str,
        followup: bool,
        question: &str,
        customer_name: &str,
        pick: usize,
    ) -> String {
        let r = &self.replies;
        let list = if followup && !r.followup.is_empty() {
            &r.followup
        } else {
            match r.topics.get(topic) {
                Some(l) if !l.is_empty() => l,
                _ => &r.fallback,
            }
        };
        let asked = words(question);
        let scores: Vec<usize> = list.iter().map(|t| words(t).intersection(&asked).count()).collect();
        let best = scores.iter().copied().max().unwrap_or(0);
        let candidates: Vec<&String> = list.iter().zip(&scores).filter(|(_, s)| **s == best).map(|(t, _)| t).collect();
        let template =
            if candidates.is_empty() { LAST_RESORT_REPLY } else { candidates[pick % candidates.len()].as_str() };
        let first = customer_name.split_whitespace().next().unwrap_or(customer_name);
        template.replace("{name}", first)
    }
}

/// The words of a text that say something (four letters or more), lowercased.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && *w != "name")
        .map(str::to_lowercase)
        .collect()
}

fn toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn check_seconds(what: &str, v: f64) -> Result<(), String> {
    if !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v)) {
        return Err(format!("{what} must be from 0 to {MAX_SECONDS} seconds, not {v}"));
    }
    Ok(())
}

/// The same rule the store applies, checked here so the error names the scenario entry.
fn check_handle(what: &str, h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 32
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !ok {
        return Err(format!("{what}: handle '{h}' must be 1 to 32 letters, digits, '.', '_' or '-'"));
    }
    if h == ADMIN_HANDLE {
        return Err(format!("{what}: handle '{h}' is kept for the demo's administrator"));
    }
    Ok(())
}

fn check_person(
    what: &str,
    name: &str,
    function: &str,
    skills: &[String],
    capacity: u32,
    config: &Config,
) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 80 {
        return Err(format!("{what}: name must be 1 to 80 characters"));
    }
    if !config.has_function(function) {
        let known: Vec<_> = config.functions.iter().map(|f| f.name.as_str()).collect();
        return Err(format!("{what}: unknown function '{function}'; known: {}", known.join(", ")));
    }
    for s in skills {
        let skill = Skill::parse(s).map_err(|e| format!("{what}: {e}"))?;
        if config.topic(&skill.topic).is_none() {
            return Err(format!(
                "{what}: skill '{s}' names unknown topic '{}'; known: {}",
                skill.topic,
                topic_names(config)
            ));
        }
    }
    if !(1..=50).contains(&capacity) {
        return Err(format!("{what}: capacity must be from 1 to 50"));
    }
    Ok(())
}

fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what}: a text is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("{what}: a text is longer than {MAX_TEXT_CHARS} characters"));
    }
    Ok(())
}

fn check_channel(what: &str, c: &str) -> Result<(), String> {
    if !CHANNELS.contains(&c) {
        return Err(format!("{what}: unknown channel '{c}'; use one of {}", CHANNELS.join(", ")));
    }
    Ok(())
}

fn check_topic(what: &str, channel: &str, text: &str, topic: &str, config: &Config) -> Result<(), String> {
    if config.topic(topic).is_none() {
        return Err(format!("{what}: topic '{topic}' is not a topic; known: {}", topic_names(config)));
    }
    let got = routing::classify(config, &routing::ModelSlot::default(), channel, text);
    if got.topic != topic {
        let why = match &got.matched {
            Some(k) => format!("the keyword '{k}' sends it to '{}'", got.topic),
            None => format!("no keyword matches, so it goes to the default topic '{}'", got.topic),
        };
        return Err(format!("{what}: the text is meant for topic '{topic}' but {why}: \"{text}\""));
    }
    Ok(())
}

fn topic_names(config: &Config) -> String {
    config.topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_loads_and_covers_the_story() {
        let s = Scenario::load(None).unwrap();
        let config = Config::builtin();
        let timeline = s.timeline();
        let functions: HashSet<String> = timeline
            .iter()
            .filter(|a| a.in_reply_to.is_none())
            .map(|a| routing::classify(&config, &routing::ModelSlot::default(), &a.channel, &a.text).function)
            .collect();
        assert!(functions.len() >= 4, "{functions:?}");
        assert!(timeline.iter().any(|a| a.in_reply_to.is_some()), "a follow-up");
        assert!(timeline.iter().any(|a| a.waiting_minutes.is_some()), "a question near its deadline");
        assert!(!s.bursts.is_empty());
        assert!(s.colleagues.iter().any(|c| c.novice));
        let fns: HashSet<&str> = s.colleagues.iter().map(|c| c.function.as_str()).collect();
        assert!(fns.len() >= 4, "{fns:?}");
        // External ids must not collide within a run.
        let keys: HashSet<&str> = timeline.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys.len(), timeline.len());
    }

    #[test]
    fn follow_ups_inherit_channel_and_customer() {
        let s = Scenario::load(None).unwrap();
        let t = s.timeline();
        let f = t.iter().find(|a| a.in_reply_to.is_some()).unwrap();
        let parent = t.iter().find(|a| Some(&a.key) == f.in_reply_to.as_ref()).unwrap();
        assert_eq!(f.channel, parent.channel);
        assert_eq!(f.customer, parent.customer);
        assert!(parent.at < f.at);
    }

    #[test]
    fn mistakes_are_named() {
        let base = "[scenario]\nname = \"t\"\nduration_seconds = 60\n[user]\nfunction = \"store\"\n";
        let cases = [
            (
                "[[colleagues]]\nhandle = \"a\"\nname = \"A\"\nfunction = \"nope\"\nskills = []\nanswer_seconds = 5\n",
                "unknown function 'nope'",
            ),
            (
                "[[colleagues]]\nhandle = \"a\"\nname = \"A\"\nfunction = \"store\"\nskills = [\"setup:9\"]\nanswer_seconds = 5\n",
                "level must be from 1 to 5",
            ),
            (
                "[[colleagues]]\nhandle = \"a\"\nname = \"A\"\nfunction = \"store\"\nskills = []\nanswer_seconds = 5\nnovice = true\n",
                "needs a mentor",
            ),
            (
                "[[arrivals]]\nat = 5\nchannel = \"myspace\"\ncustomer = \"c\"\ntext = \"hi\"\n",
                "unknown channel 'myspace'",
            ),
            (
                "[[arrivals]]\nat = 5\nchannel = \"x\"\ncustomer = \"c\"\ntext = \"hi\"\nin_reply_to = \"zz\"\n",
                "not the id of any arrival",
            ),
            ("[[arrivals]]\nat = 500\nchannel = \"x\"\ncustomer = \"c\"\ntext = \"hi\"\n", "after the scenario ends"),
            (
                "[[arrivals]]\nat = 5\nchannel = \"x\"\ncustomer = \"c\"\ntext = \"I want a refund\"\ntopic = \"setup\"\n",
                "keyword 'refund' sends it to 'billing'",
            ),
            ("[[arrivals]]\nat = 5\nchanel = \"x\"\n", "chanel"),
        ];
        for (extra, want) in cases {
            let e = Scenario::parse(&format!("{base}{extra}"), "t.toml").unwrap_err();
            assert!(e.starts_with("scenario file t.toml: "), "{e}");
            assert!(e.contains(want), "wanted '{want}' in: {e}");
        }
    }

    #[test]
    fn replies_fit_the_question_and_greet_by_first_name() {
        let s = Scenario::load(None).unwrap();
        let t = s.timeline();
        let wifi = t.iter().find(|a| a.label == "chime-wifi").unwrap();
        let r = s.reply_text("setup", false, &wifi.text, "Marta Okafor", 1);
        assert!(r.starts_with("Hi Marta,") && r.contains("firmware"), "{r}");
        let hdmi = t.iter().find(|a| a.text.contains("HDMI")).unwrap();
        let r = s.reply_text("setup", false, &hdmi.text, "Noor Haddad", 0);
        assert!(r.contains("warranty"), "{r}");
        let r = s.reply_text("no_such_topic", false, "hello", "Marta Okafor", 0);
        assert!(!r.contains("{name}"), "{r}");
        let empty = Scenario::parse(
            "[scenario]\nname = \"t\"\nduration_seconds = 60\n[user]\nfunction = \"store\"\n",
            "t.toml",
        )
        .unwrap();
        let r = empty.reply_text("billing", true, "refund please", "Marta Okafor", 3);
        assert!(r.starts_with("Hi Marta,"), "{r}");
    }
}
