//! The hive's routing rules. Pure: no I/O and no clock; callers pass in everything, including the
//! time. The server, the demo and the simulator all call this same code.
//!
//! `classify` maps a question to a topic and function by keyword rules from the configuration;
//! `hive` decides who gets it (eligibility, scoring, urgency, offers).

pub mod hive;

use crate::config::Config;

/// Why a question was routed where it was, so an agent can see it and correct it.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub topic: String,
    pub function: String,
    pub sla_minutes: u32,
    /// 0.0 (fell through to the default topic) to 1.0 (several keywords agreed).
    pub confidence: f32,
    /// The keyword that decided it, or `None` for the default topic.
    pub matched: Option<String>,
}

/// Picks the topic whose keywords occur most often in `text` (whole words, case-insensitive);
/// a topic that lists the question's channel in `channels` wins a tie (a hint, never a match on
/// its own); further ties go to the topic listed first. No match: the default topic.
pub fn classify(config: &Config, channel: &str, text: &str) -> Classification {
    let haystack = normalise(text);
    let mut best: Option<(usize, &crate::config::TopicConfig, String)> = None;
    // One buffer for every keyword: classification runs for each message of a burst.
    let mut needle = String::new();
    for topic in &config.topics {
        let mut hits = 0;
        let mut first = None;
        for kw in &topic.keywords {
            normalise_into(kw, &mut needle);
            // " word ": a plain substring search matches whole words only.
            if needle.len() > 1 && haystack.contains(needle.as_str()) {
                hits += 1;
                first.get_or_insert_with(|| kw.clone());
            }
        }
        // Doubled so a channel hint (worth 1) breaks ties between equal keyword counts.
        let weight = hits * 2 + usize::from(hits > 0 && topic.channels.iter().any(|c| c == channel));
        if hits > 0 && best.as_ref().is_none_or(|(h, _, _)| weight > *h) {
            best = Some((weight, topic, first.unwrap_or_default()));
        }
    }
    match best {
        Some((weight, topic, kw)) => Classification {
            topic: topic.name.clone(),
            function: topic.function.clone(),
            sla_minutes: topic.sla_minutes,
            confidence: (0.5 + 0.25 * ((weight / 2) as f32 - 1.0)).min(1.0),
            matched: Some(kw),
        },
        None => {
            let name = &config.routing.default_topic;
            // validate() guarantees the default topic exists; fall back to the first function
            // rather than panic if a caller built a Config by hand.
            let (function, sla) = config
                .topic(name)
                .map(|t| (t.function.clone(), t.sla_minutes))
                .unwrap_or_else(|| (config.functions.first().map(|f| f.name.clone()).unwrap_or_default(), 60));
            Classification { topic: name.clone(), function, sla_minutes: sla, confidence: 0.0, matched: None }
        }
    }
}

/// Lowercases and turns everything but letters, digits and apostrophes into single spaces, with a
/// space at each end, so that word matching is a plain substring search for " word ".
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    normalise_into(s, &mut out);
    out
}

/// `normalise` into `out`, which is cleared first.
fn normalise_into(s: &str, out: &mut String) {
    out.clear();
    out.push(' ');
    let mut last_space = true;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '\'' {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_pick_the_topic_and_say_why() {
        let c = Config::builtin();
        let r = classify(&c, "mastodon", "I was CHARGED twice for my order, I want a refund!");
        assert_eq!(r.topic, "billing");
        assert_eq!(r.function, "billing");
        assert!(r.confidence > 0.5);
        assert_eq!(r.matched.as_deref(), Some("refund"));
    }

    #[test]
    fn whole_words_only() {
        let c = Config::builtin();
        // "tv" must not match inside "atv"; "hours" inside "ours" must not match either.
        let r = classify(&c, "x", "is this atv ours?");
        assert_eq!(r.topic, "general");
        assert_eq!(r.confidence, 0.0);
        assert_eq!(r.matched, None);
    }

    #[test]
    fn phrases_match_across_punctuation() {
        let c = Config::builtin();
        let r = classify(&c, "bluesky", "My TV won't turn on... HDMI?");
        assert_eq!(r.topic, "setup");
        assert_eq!(r.function, "tech_support");
    }

    #[test]
    fn a_channel_hint_breaks_a_tie() {
        let mut c = Config::builtin();
        // "order" (delivery) and "charge" (billing): one keyword each.
        let text = "order charge";
        assert_eq!(classify(&c, "x", text).topic, "billing", "first listed wins a plain tie");
        c.topics.iter_mut().find(|t| t.name == "delivery").unwrap().channels = vec!["x".into()];
        assert_eq!(classify(&c, "x", text).topic, "delivery");
        assert_eq!(classify(&c, "mastodon", text).topic, "billing");
        assert_eq!(classify(&c, "x", "hello").topic, "general", "a hint alone is no match");
    }
}
