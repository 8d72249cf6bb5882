//! Text from customers and the network: making it safe for a terminal, measuring it on screen,
//! and counting it the way each social network counts a post.
//!
//! Everything a customer wrote is untrusted. Before it reaches the terminal, control characters
//! and escape sequences become visible symbols, bidirectional overrides (which can make text read
//! backwards) become U+FFFD, and widths are measured in terminal cells, so emoji and CJK take the
//! two cells they really take.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Whether `c` would make a terminal do something instead of showing a character.
fn is_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1
}

/// Bidirectional embedding, override and isolate controls. (LRM/RLM marks are harmless and kept.)
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A visible stand-in for a control character: the Control Pictures block for C0 (ESC shows as
/// ␛), U+FFFD for the rest.
fn picture(c: char) -> char {
    match c as u32 {
        0x00..=0x1F => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
        0x7F => '\u{2421}',
        _ => '\u{FFFD}',
    }
}

/// One line of untrusted text, safe to draw: line breaks become spaces, tabs a space, every other
/// control character and bidi control a visible symbol.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if is_control(c) => out.push(picture(c)),
            c if is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as plain words to write back to a customer (a template's `{customer_name}`):
/// escape sequences removed whole (CSI `ESC [ … final`, OSC `ESC ] … BEL/ST`, two-byte `ESC x`,
/// C1 CSI), every other control character and bidi control dropped, line breaks and tabs as one
/// space. Unlike [`one_line`] it shows nothing in their place: what it returns goes into a post,
/// not onto a screen, so a visible `␛` would be as wrong there as a raw escape.
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \\).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' || n == '\u{9c}' {
                            break;
                        }
                        if n == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // A two-character sequence (ESC c, ESC 7…): both go.
                _ => {}
            },
            '\u{9b}' => {
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            }
            '\n' | '\r' | '\t' => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if is_control(c) || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() { out } else { trimmed.to_string() }
}

/// Untrusted text as safe lines (split at line breaks; `\r\n` counts as one).
pub fn lines(s: &str) -> Vec<String> {
    s.replace("\r\n", "\n").split(['\n', '\r']).map(one_line).collect()
}

/// Width in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts safe text to at most `max` cells, ending in `…` when something was cut. Never splits a
/// grapheme (an emoji with its modifiers stays whole or goes whole).
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = width(g);
        if used + w > max - 1 {
            break;
        }
        out.push_str(g);
        used += w;
    }
    out.push('…');
    out
}

/// Wraps safe text into lines of at most `max` cells, breaking at spaces where it can.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    for line in lines(s) {
        let mut current = String::new();
        let mut used = 0;
        for word in line.split_inclusive(' ') {
            let w = width(word);
            if used + w > max && !current.is_empty() {
                out.push(current.trim_end().to_string());
                current = String::new();
                used = 0;
            }
            if w > max {
                // A word longer than the line: cut it by graphemes.
                for g in word.graphemes(true) {
                    let gw = width(g);
                    if used + gw > max && !current.is_empty() {
                        out.push(std::mem::take(&mut current));
                        used = 0;
                    }
                    current.push_str(g);
                    used += gw;
                }
            } else {
                current.push_str(word);
                used += w;
            }
        }
        out.push(current.trim_end().to_string());
    }
    out
}

/// How a network counts the length of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Unicode characters; every link counts as 23 (Mastodon).
    Characters,
    /// Grapheme clusters, what a reader sees as one character (Bluesky).
    Graphemes,
    /// X's weighted count: most Latin-script characters 1, CJK, emoji and others 2, a link 23.
    Weighted,
}

/// A network's limit on one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub counting: Counting,
}

/// The limit for a channel, when the network has one. Connectors may report a different one
/// (a Mastodon instance can raise its limit); these are the networks' defaults.
pub fn channel_limit(channel: &str) -> Option<Limit> {
    match channel {
        "mastodon" => Some(Limit { max: 500, counting: Counting::Characters }),
        "bluesky" => Some(Limit { max: 300, counting: Counting::Graphemes }),
        "x" | "twitter" => Some(Limit { max: 280, counting: Counting::Weighted }),
        _ => None,
    }
}

/// Every link counts as this many characters on Mastodon and X.
pub const LINK_LENGTH: usize = 23;

/// Splits text into links (`http://…`, `https://…` up to the next space) and the rest.
fn segments(text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find_link(rest) {
        if start > 0 {
            out.push((false, &rest[..start]));
        }
        let end = rest[start..].find(char::is_whitespace).map_or(rest.len(), |e| start + e);
        out.push((true, &rest[start..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push((false, rest));
    }
    out
}

fn find_link(s: &str) -> Option<usize> {
    let a = s.find("https://");
    let b = s.find("http://");
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// X's weight of one character: 1 for the ranges twitter-text counts light, else 2.
fn x_weight(c: char) -> usize {
    match c as u32 {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

fn is_emoji_grapheme(g: &str) -> bool {
    g.chars().any(|c| {
        matches!(c as u32,
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D)
    })
}

/// The length of `text` as the network counts it.
pub fn count(text: &str, counting: Counting) -> usize {
    match counting {
        Counting::Graphemes => text.graphemes(true).count(),
        Counting::Characters => {
            segments(text).into_iter().map(|(link, s)| if link { LINK_LENGTH } else { s.chars().count() }).sum()
        }
        Counting::Weighted => segments(text)
            .into_iter()
            .map(|(link, s)| {
                if link {
                    LINK_LENGTH
                } else {
                    s.graphemes(true)
                        .map(|g| if is_emoji_grapheme(g) { 2 } else { g.chars().map(x_weight).sum() })
                        .sum()
                }
            })
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_become_visible() {
        let evil = "hi\x1b[2J\x1b]0;pwned\x07 there\u{9b}31m";
        let safe = one_line(evil);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert_eq!(safe, "hi\u{241B}[2J\u{241B}]0;pwned\u{2407} there\u{FFFD}31m");
    }

    #[test]
    fn plain_text_drops_escape_sequences_and_controls_whole() {
        assert_eq!(plain("Ann \x1b[31mLee\x1b[0m"), "Ann Lee");
        assert_eq!(plain("\x1b]0;owned\x07Bo\u{9b}1mb"), "Bob");
        assert_eq!(plain("\x1b]8;;http://x\x1b\\Eve\x1b]8;;\x1b\\"), "Eve");
        assert_eq!(plain("Li\u{202E}nus\u{202C}\r\nT.\x7f"), "Linus T.");
        assert_eq!(plain("陈伟 🌻"), "陈伟 🌻");
        assert_eq!(plain(EVIL_FOR_PLAIN), "REDx");
    }

    const EVIL_FOR_PLAIN: &str = "\x1b[2J\x1b]0;owned\x07\u{9b}31m RED\u{202E}x\u{202C}\x1bc\x1b";

    #[test]
    fn bidi_overrides_are_neutralised_and_lines_split() {
        assert_eq!(one_line("abc\u{202E}fed"), "abc\u{FFFD}fed");
        assert_eq!(one_line("a\u{2066}b\u{2069}"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(lines("one\r\ntwo\nthree\x1b"), ["one", "two", "three\u{241B}"]);
        assert_eq!(one_line("a\n\nb\tc"), "a b c");
    }

    #[test]
    fn widths_count_terminal_cells() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("👍"), 2);
        assert_eq!(truncate("日本語のテキスト", 7), "日本語…");
        assert_eq!(truncate("short", 10), "short");
        // A family emoji is one grapheme: kept whole or dropped whole.
        let t = truncate("ab👨‍👩‍👧cd", 4);
        assert!(t == "ab…" || t.starts_with("ab👨‍👩‍👧"), "{t}");
        assert!(width(&truncate("ab👨‍👩‍👧cd", 4)) <= 4);
    }

    #[test]
    fn wrapping_respects_width() {
        let w = wrap("the quick brown fox jumps", 10);
        assert_eq!(w, ["the quick", "brown fox", "jumps"]);
        assert!(wrap("日本語日本語日本語", 5).iter().all(|l| width(l) <= 5));
    }

    #[test]
    fn networks_count_their_own_way() {
        // Mastodon: characters, a link is 23.
        assert_eq!(count("hello", Counting::Characters), 5);
        assert_eq!(count("see https://example.com/a/very/long/path/indeed ok", Counting::Characters), 4 + 23 + 3);
        // Bluesky: graphemes; a family emoji is one.
        assert_eq!(count("👨‍👩‍👧é", Counting::Graphemes), 2);
        // X: CJK and emoji weigh 2, a link 23.
        assert_eq!(count("abc", Counting::Weighted), 3);
        assert_eq!(count("日本", Counting::Weighted), 4);
        assert_eq!(count("hi 👍", Counting::Weighted), 5);
        assert_eq!(count("👨‍👩‍👧", Counting::Weighted), 2);
        assert_eq!(count("go http://x.co now", Counting::Weighted), 3 + 23 + 4);
        assert_eq!(channel_limit("x").unwrap().max, 280);
        assert_eq!(channel_limit("webhook"), None);
    }
}
