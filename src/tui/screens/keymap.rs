//! Keys and what they do. The help overlay and the footer are generated from this one table, so
//! they can never disagree with the keys that work. Users remap actions in `[client.keys]`.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::KeyList;

/// Where an action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    Global,
    /// The question under the cursor or open: in the queue and the conversation.
    Question,
    Queue,
    Conversation,
    Approvals,
    Composer,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Question => "Queue and conversation",
            Context::Queue => "Queue",
            Context::Conversation => "Conversation",
            Context::Approvals => "Approvals",
            Context::Composer => "Composer",
        }
    }
}

macro_rules! actions {
    ($($variant:ident, $name:literal, $ctx:ident, $label:literal, [$($key:literal),*];)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name used in `[client.keys]`.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }

            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$ctx),* }
            }

            /// A few words for the footer and help.
            pub fn label(self) -> &'static str {
                match self { $(Action::$variant => $label),* }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
        }
    };
}

actions! {
    Quit, "quit", Global, "quit", ["q", "ctrl-c"];
    Help, "help", Global, "help", ["?"];
    ShowQueue, "show_queue", Global, "queue", ["1"];
    ShowDashboard, "show_dashboard", Global, "dashboard", ["2"];
    ShowApprovals, "show_approvals", Global, "approvals", ["3"];
    Up, "up", Global, "up", ["up", "k"];
    Down, "down", Global, "down", ["down", "j"];
    PageUp, "page_up", Global, "page up", ["pageup"];
    PageDown, "page_down", Global, "page down", ["pagedown"];
    Top, "top", Global, "first", ["home", "g"];
    Bottom, "bottom", Global, "last", ["end", "G"];
    Back, "back", Global, "back", ["esc"];
    Open, "open", Queue, "open", ["enter"];
    Claim, "claim", Question, "claim", ["c"];
    Next, "next", Question, "next best", ["n"];
    Filter, "filter", Queue, "filter", ["f", "tab"];
    Search, "search", Queue, "search", ["/"];
    Reply, "reply", Conversation, "reply", ["r"];
    Note, "note", Conversation, "note", ["N"];
    Transfer, "transfer", Conversation, "transfer", ["t"];
    Topic, "topic", Conversation, "correct topic", ["T"];
    Resolve, "resolve", Question, "resolve", ["x"];
    ResolveWithoutReply, "resolve_without_reply", Question, "resolve unanswered", ["X"];
    Release, "release", Question, "release", ["u"];
    Reopen, "reopen", Question, "reopen", ["o"];
    Unhold, "unhold", Question, "let held in", ["H"];
    Approve, "approve", Approvals, "approve", ["a"];
    Edit, "edit", Approvals, "edit & approve", ["e"];
    Reject, "reject", Approvals, "reject", ["R"];
    Send, "send", Composer, "send", ["ctrl-s"];
    Templates, "templates", Composer, "templates", ["ctrl-t"];
    CloseComposer, "close_composer", Composer, "close (draft kept)", ["esc"];
}

/// One key with modifiers, as written in the config (`ctrl-s`, `enter`, `N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut rest = s.trim();
        let (mut ctrl, mut alt) = (false, false);
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            "space" => KeyCode::Char(' '),
            f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            other => {
                return Err(format!("'{other}' is not a key (see the [client.keys] comment in config.example.toml)"));
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        let code = e.code;
        Key { code, ctrl: e.modifiers.contains(KeyModifiers::CONTROL), alt: e.modifiers.contains(KeyModifiers::ALT) }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::F(n) => write!(f, "f{n}"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            _ => f.write_str("?"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: BTreeMap<Action, Vec<Key>>,
}

impl KeyMap {
    /// The defaults with the user's overrides; an unknown action or key is an error that names it.
    pub fn new(overrides: &BTreeMap<String, KeyList>) -> Result<KeyMap, String> {
        let mut bindings = BTreeMap::new();
        for a in Action::ALL {
            let keys = a.default_keys().iter().map(|k| Key::parse(k)).collect::<Result<Vec<_>, _>>()?;
            bindings.insert(*a, keys);
        }
        for (name, list) in overrides {
            let action = Action::ALL
                .iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| format!("[client.keys]: there is no action '{name}'"))?;
            let keys = list
                .keys()
                .into_iter()
                .map(Key::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[client.keys] {name}: {e}"))?;
            bindings.insert(*action, keys);
        }
        Ok(KeyMap { bindings })
    }

    pub fn defaults() -> KeyMap {
        // The built-in table is checked by a test, so this cannot fail.
        KeyMap::new(&BTreeMap::new()).unwrap_or(KeyMap { bindings: BTreeMap::new() })
    }

    /// The action `key` means in one of `contexts` (first match wins).
    pub fn action(&self, key: &KeyEvent, contexts: &[Context]) -> Option<Action> {
        let k = Key::from_event(key);
        for ctx in contexts {
            for (action, keys) in &self.bindings {
                if action.context() == *ctx && keys.iter().any(|b| matches(b, &k)) {
                    return Some(*action);
                }
            }
        }
        None
    }

    pub fn keys(&self, action: Action) -> &[Key] {
        self.bindings.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// "c" or "↑/k": how the footer and help write an action's keys.
    pub fn describe(&self, action: Action) -> String {
        self.keys(action).iter().map(|k| k.to_string()).collect::<Vec<_>>().join("/")
    }
}

fn matches(bound: &Key, pressed: &Key) -> bool {
    if bound.ctrl != pressed.ctrl || bound.alt != pressed.alt {
        return false;
    }
    match (bound.code, pressed.code) {
        // Case matters for letters (N is not n); terminals send Shift+n as 'N'.
        (KeyCode::Char(a), KeyCode::Char(b)) if bound.ctrl => a.eq_ignore_ascii_case(&b),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_parse_and_resolve_by_context() {
        let m = KeyMap::new(&BTreeMap::new()).unwrap();
        assert_eq!(
            m.action(
                &press(KeyCode::Char('c'), KeyModifiers::NONE),
                &[Context::Queue, Context::Question, Context::Global]
            ),
            Some(Action::Claim)
        );
        assert_eq!(
            m.action(&press(KeyCode::Char('N'), KeyModifiers::SHIFT), &[Context::Conversation]),
            Some(Action::Note)
        );
        assert_eq!(
            m.action(&press(KeyCode::Char('s'), KeyModifiers::CONTROL), &[Context::Composer]),
            Some(Action::Send)
        );
        assert_eq!(m.action(&press(KeyCode::Char('c'), KeyModifiers::NONE), &[Context::Composer]), None);
        assert_eq!(m.describe(Action::Up), "↑/k");
    }

    #[test]
    fn overrides_replace_and_errors_name_the_problem() {
        let mut o = BTreeMap::new();
        o.insert("claim".to_string(), KeyList::Many(vec!["C".into(), "ctrl-k".into()]));
        let m = KeyMap::new(&o).unwrap();
        assert_eq!(
            m.action(&press(KeyCode::Char('C'), KeyModifiers::SHIFT), &[Context::Question]),
            Some(Action::Claim)
        );
        assert_eq!(m.action(&press(KeyCode::Char('c'), KeyModifiers::NONE), &[Context::Question]), None);
        assert_eq!(m.describe(Action::Claim), "C/ctrl-k");
        let mut bad = BTreeMap::new();
        bad.insert("fly".to_string(), KeyList::One("f".into()));
        assert_eq!(KeyMap::new(&bad).unwrap_err(), "[client.keys]: there is no action 'fly'");
        let mut bad = BTreeMap::new();
        bad.insert("claim".to_string(), KeyList::One("hyper-x".into()));
        assert!(KeyMap::new(&bad).unwrap_err().contains("'hyper-x' is not a key"));
    }
}
