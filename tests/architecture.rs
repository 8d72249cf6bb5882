//! The architecture of the README as a test: the folders of `src/` depend on each other one way
//! only, the terminal and the client stay off the server and the store, and the pure rules
//! (`routing`, `lifecycle`) use no I/O crate.
//!
//! It reads the library's source: the module tree from the `mod` lines of `src/lib.rs` down, and
//! in every file its `use` trees and the paths it names (`crate::…`, `super::…`, `self::…`, a
//! child module's name, an outside crate's name), with comments and literals left out. The
//! binary (`src/main.rs` and the modules it declares) is a crate of its own on top of the library
//! and is not read.
//!
//! The graph's nodes: each folder of `src/` with its files is one node (`src/tui/`,
//! `src/tui/screens/`; a file `x.rs` beside its folder `x/` belongs to that folder); each file
//! directly in `src/` without a folder of its own is a node (`src/text.rs`); `src/lib.rs` is one
//! too. A node uses another when one of its files names something in the other or declares it
//! with `mod`, so a folder uses its subfolders and they must not use it back. The `mod` lines of
//! `src/lib.rs` do not count: they list the parts, they do not use them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Crates (and parts of `std`) that do I/O: the pure rules name none of them.
const IO_CRATES: &[&str] = &["sqlx", "tokio", "reqwest", "axum", "hyper", "crossterm", "std::fs", "std::net"];

#[test]
fn the_folders_of_src_depend_on_each_other_one_way_only() {
    let crate_ = library();
    let cycles = crate_.cycles(&crate_.edges());
    assert!(cycles.is_empty(), "import cycles between the folders of src/:\n{}", cycles.join("\n"));
}

#[test]
fn the_terminal_and_the_client_use_neither_the_server_nor_the_store() {
    let crate_ = library();
    let mut wrong = Vec::new();
    for r in &crate_.refs {
        let file = rel(&r.file);
        if !(file.starts_with("src/tui/") || file == "src/client.rs") {
            continue;
        }
        let Target::Local(m) = &r.target else { continue };
        if m.first().is_none_or(|t| t != "server" && t != "store") {
            continue;
        }
        wrong.push(format!("{file}:{} names {}", r.line, r.written));
    }
    assert!(
        wrong.is_empty(),
        "the terminal and the client must not use the server or the store:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_pure_rules_use_no_io_crate() {
    let crate_ = library();
    let pure = [vec!["routing".to_string()], vec!["lifecycle".to_string()]];
    let mut wrong = Vec::new();
    for r in &crate_.refs {
        let Target::Outside(path) = &r.target else { continue };
        if !pure.contains(&crate_.node(&r.module)) {
            continue;
        }
        if IO_CRATES.iter().any(|c| path == c || path.starts_with(&format!("{c}::"))) {
            wrong.push(format!("{}:{} names {}", rel(&r.file), r.line, r.written));
        }
    }
    assert!(wrong.is_empty(), "routing and lifecycle do no I/O:\n{}", wrong.join("\n"));
}

/// The checks above can fail: the real graph with one planted reference back up is a cycle.
#[test]
fn a_planted_cycle_is_found_and_named() {
    let crate_ = library();
    let mut edges = crate_.edges();
    let (tui, screens) = (vec!["tui".to_string()], vec!["tui".to_string(), "screens".to_string()]);
    assert!(edges.contains_key(&(tui.clone(), screens.clone())), "the terminal routes to its screens");
    edges.entry((screens, tui)).or_default().push("planted".into());
    let cycles = crate_.cycles(&edges);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].contains("mod screens") && cycles[0].contains("planted"), "{}", cycles[0]);
}

#[test]
fn references_are_resolved_like_the_compiler_does() {
    let crate_ = library();
    let find = |file: &str, written: &str| {
        crate_
            .refs
            .iter()
            .find(|r| rel(&r.file) == file && r.written == written)
            .map(|r| r.target.clone())
            .unwrap_or_else(|| panic!("{file} names {written}"))
    };
    let local = |m: &[&str]| Target::Local(m.iter().map(|s| s.to_string()).collect());
    // `super::` in a folder's file is the folder; in an inline test module, the file.
    assert_eq!(find("src/server/api.rs", "super::openapi"), local(&["server", "openapi"]));
    assert_eq!(find("src/server/metrics.rs", "super::*"), local(&["server", "metrics"]));
    // A child module's name alone is the child; an item is found in its module.
    assert_eq!(find("src/routing/mod.rs", "classifier::Example"), local(&["routing", "classifier"]));
    assert_eq!(find("src/routing/mod.rs", "crate::model::MATCHED_LEARNED"), local(&["model"]));
    assert_eq!(find("src/server/mod.rs", "tokio::spawn"), Target::Outside("tokio::spawn".into()));
    // Comments and strings name nothing.
    let named = |file: &str, written: &str| crate_.refs.iter().any(|r| rel(&r.file) == file && r.written == written);
    assert!(!named("src/channels/mod.rs", "AppState::desk"), "a doc comment");
    assert!(!named("src/model.rs", "Option::is_none"), "a string");
    assert!(named("src/model.rs", "serde::Serialize") || named("src/model.rs", "serde::Deserialize"));
    assert_eq!(crate_.node(&["tui".into(), "screens".into(), "queue".into()]), ["tui", "screens"]);
    assert_eq!(crate_.node(&["text".into()]), ["text"]);
    assert_eq!(crate_.node(&["lifecycle".into(), "tests".into()]), ["lifecycle"]);
}

/// The library's source, read once for all the checks.
fn library() -> &'static Crate {
    static CRATE: OnceLock<Crate> = OnceLock::new();
    CRATE.get_or_init(|| Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")))
}

/// `src/…` of a path under the package.
fn rel(file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file.strip_prefix(root).unwrap_or(file).to_string_lossy().replace('\\', "/")
}

type ModPath = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// The innermost module of the library the path reaches.
    Local(ModPath),
    /// A path outside the library, as written (`tokio::spawn`, `std::fs`, or a local name).
    Outside(String),
}

struct Module {
    file: PathBuf,
    /// It has a folder: `x/mod.rs`, or `x.rs` beside `x/`.
    folder: bool,
}

struct Ref {
    file: PathBuf,
    line: usize,
    /// The module (inline ones included) the path is written in.
    module: ModPath,
    written: String,
    target: Target,
    /// A `mod` line: the module declares the target.
    declares: bool,
}

struct Crate {
    modules: BTreeMap<ModPath, Module>,
    refs: Vec<Ref>,
}

/// A path as read, before it is resolved.
struct RawRef {
    line: usize,
    module: ModPath,
    segments: Vec<String>,
    declares: bool,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut modules = BTreeMap::new();
        let mut raw: Vec<(PathBuf, RawRef)> = Vec::new();
        let mut todo = vec![(Vec::new(), src.join("lib.rs"), src.to_path_buf())];
        modules.insert(Vec::new(), Module { file: src.join("lib.rs"), folder: true });
        while let Some((path, file, dir)) = todo.pop() {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let parsed = parse(&path, &text);
            for (inline, declared) in parsed.modules {
                let mut child = path.clone();
                child.extend(inline.iter().cloned());
                child.push(declared.clone());
                if parsed.inline.contains(&child) {
                    modules.insert(child, Module { file: file.clone(), folder: false });
                    continue;
                }
                let base = inline.iter().fold(dir.clone(), |d, m| d.join(m));
                let (child_file, child_dir, folder) = if base.join(format!("{declared}.rs")).exists() {
                    // A folder of SQL files (`store/migrations/`) is no folder of modules.
                    let d = base.join(&declared);
                    let folder = std::fs::read_dir(&d)
                        .map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "rs")))
                        .unwrap_or(false);
                    (base.join(format!("{declared}.rs")), d, folder)
                } else {
                    (base.join(&declared).join("mod.rs"), base.join(&declared), true)
                };
                modules.insert(child.clone(), Module { file: child_file.clone(), folder });
                todo.push((child, child_file, child_dir));
            }
            raw.extend(parsed.refs.into_iter().map(|r| (file.clone(), r)));
        }
        let refs = raw
            .into_iter()
            .filter_map(|(file, r)| {
                let target = resolve(&modules, &r.module, &r.segments)?;
                // `use crate::routing::{self, …}` names `crate::routing`.
                let shown = r.segments.len() - r.segments.iter().rev().take_while(|s| *s == "self").count();
                Some(Ref {
                    file,
                    line: r.line,
                    module: r.module,
                    written: r.segments[..shown.max(1)].join("::"),
                    target,
                    declares: r.declares,
                })
            })
            .collect();
        Crate { modules, refs }
    }

    /// The node a module belongs to: its innermost enclosing folder, else its file in `src/`.
    fn node(&self, module: &[String]) -> ModPath {
        (1..=module.len())
            .rev()
            .find(|&n| self.modules.get(&module[..n]).is_some_and(|m| m.folder))
            .map(|n| module[..n].to_vec())
            .unwrap_or_else(|| module.iter().take(1).cloned().collect())
    }

    fn name(&self, node: &ModPath) -> String {
        match self.modules.get(node) {
            _ if node.is_empty() => "src/lib.rs".into(),
            Some(m) if m.folder => format!("src/{}/", node.join("/")),
            Some(m) => rel(&m.file),
            None => format!("crate::{}", node.join("::")),
        }
    }

    /// Who uses whom, with where it is written.
    fn edges(&self) -> BTreeMap<(ModPath, ModPath), Vec<String>> {
        let mut edges: BTreeMap<(ModPath, ModPath), Vec<String>> = BTreeMap::new();
        for r in &self.refs {
            let Target::Local(target) = &r.target else { continue };
            if r.declares && r.module.is_empty() {
                continue;
            }
            let (from, to) = (self.node(&r.module), self.node(target));
            if from != to {
                let what = if r.declares { format!("mod {}", r.written) } else { r.written.clone() };
                edges.entry((from, to)).or_default().push(format!("{}:{} {what}", rel(&r.file), r.line));
            }
        }
        edges
    }

    /// Every cycle found (one per set of nodes), each as `a → b (where) → a (where)`.
    fn cycles(&self, edges: &BTreeMap<(ModPath, ModPath), Vec<String>>) -> Vec<String> {
        let mut next: BTreeMap<&ModPath, Vec<&ModPath>> = BTreeMap::new();
        for (from, to) in edges.keys() {
            next.entry(from).or_default().push(to);
        }
        let mut done = BTreeSet::new();
        let mut found: BTreeMap<BTreeSet<ModPath>, Vec<ModPath>> = BTreeMap::new();
        for start in next.keys() {
            let mut stack = Vec::new();
            dfs(start, &next, &mut stack, &mut done, &mut found);
        }
        found
            .values()
            .map(|cycle| {
                let mut s = self.name(&cycle[0]);
                for pair in cycle.windows(2) {
                    let why = &edges[&(pair[0].clone(), pair[1].clone())];
                    let shown: Vec<&str> = why.iter().take(3).map(String::as_str).collect();
                    let more = if why.len() > 3 { format!(" and {} more", why.len() - 3) } else { String::new() };
                    s += &format!(" → {} ({}{more})", self.name(&pair[1]), shown.join(", "));
                }
                s
            })
            .collect()
    }
}

/// Depth first; a node met again while still on the stack closes a cycle.
fn dfs<'a>(
    node: &'a ModPath,
    next: &BTreeMap<&'a ModPath, Vec<&'a ModPath>>,
    stack: &mut Vec<&'a ModPath>,
    done: &mut BTreeSet<&'a ModPath>,
    found: &mut BTreeMap<BTreeSet<ModPath>, Vec<ModPath>>,
) {
    if let Some(at) = stack.iter().position(|n| *n == node) {
        let mut cycle: Vec<ModPath> = stack[at..].iter().map(|n| (*n).clone()).collect();
        cycle.push(node.clone());
        found.entry(cycle.iter().cloned().collect()).or_insert(cycle);
        return;
    }
    if done.contains(node) {
        return;
    }
    stack.push(node);
    for n in next.get(node).into_iter().flatten() {
        dfs(n, next, stack, done, found);
    }
    stack.pop();
    done.insert(node);
}

/// The module a path written in `module` reaches; `None` for `Self::…`.
fn resolve(modules: &BTreeMap<ModPath, Module>, module: &ModPath, segments: &[String]) -> Option<Target> {
    let first = segments.first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => module.clone(),
        "Self" => return None,
        _ => {
            let mut child = module.clone();
            child.push(first.clone());
            if !modules.contains_key(&child) {
                return Some(Target::Outside(segments.join("::")));
            }
            module.clone()
        }
    };
    let skip = usize::from(first == "crate" || first == "self");
    for s in &segments[skip..] {
        match s.as_str() {
            "super" => {
                base.pop();
            }
            "self" | "*" => {}
            _ => base.push(s.clone()),
        }
    }
    while !modules.contains_key(&base) {
        base.pop();
    }
    Some(Target::Local(base))
}

struct Parsed {
    /// `mod` lines: the inline modules around them and the declared name.
    modules: Vec<(Vec<String>, String)>,
    /// Inline modules (`mod tests { … }`), as full paths.
    inline: BTreeSet<ModPath>,
    refs: Vec<RawRef>,
}

/// The `mod` lines, the `use` trees and the paths of one file (the module at `path`).
fn parse(path: &ModPath, text: &str) -> Parsed {
    let toks = tokens(&code_only(text));
    let mut out = Parsed { modules: Vec::new(), inline: BTreeSet::new(), refs: Vec::new() };
    // Inline modules open around the current token, with the brace depth they close at.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let here = |open: &[(String, usize)]| {
        let mut m = path.clone();
        m.extend(open.iter().map(|(n, _)| n.clone()));
        m
    };
    let mut i = 0;
    while i < toks.len() {
        let (t, line) = (toks[i].0.as_str(), toks[i].1);
        let at = |k: usize| toks.get(k).map(|t| t.0.as_str()).unwrap_or("");
        match t {
            "{" => depth += 1,
            "}" => {
                if open.last().is_some_and(|(_, d)| *d == depth) {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if is_ident(at(i + 1)) && (at(i + 2) == ";" || at(i + 2) == "{") => {
                let name = at(i + 1).to_string();
                let inline: Vec<String> = open.iter().map(|(n, _)| n.clone()).collect();
                out.modules.push((inline, name.clone()));
                if at(i + 2) == "{" {
                    let mut m = here(&open);
                    m.push(name.clone());
                    out.inline.insert(m);
                    depth += 1;
                    open.push((name, depth));
                } else {
                    out.refs.push(RawRef { line, module: here(&open), segments: vec![name], declares: true });
                }
                i += 3;
                continue;
            }
            "use" => {
                let mut paths = Vec::new();
                i += 1;
                use_tree(&toks, &mut i, Vec::new(), &mut paths);
                for segments in paths {
                    out.refs.push(RawRef { line, module: here(&open), segments, declares: false });
                }
                continue;
            }
            _ if is_ident(t) && at(i + 1) == "::" && (i == 0 || at(i - 1) != "::") => {
                let mut segments = vec![t.to_string()];
                let mut k = i + 1;
                while at(k) == "::" && is_ident(at(k + 1)) {
                    segments.push(at(k + 1).to_string());
                    k += 2;
                }
                out.refs.push(RawRef { line, module: here(&open), segments, declares: false });
                i = k;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads one use tree (`a::b::{c, d::*, e as f}`) starting at `toks[*i]`, up to the `;` that
/// ends it at the top level; each leaf's path goes to `out`.
fn use_tree(toks: &[(String, usize)], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    while let Some((t, _)) = toks.get(*i) {
        match t.as_str() {
            "::" => *i += 1,
            "*" => {
                *i += 1;
                prefix.push("*".into());
                break;
            }
            "{" => {
                *i += 1;
                while let Some((t, _)) = toks.get(*i) {
                    match t.as_str() {
                        "}" => {
                            *i += 1;
                            break;
                        }
                        "," => *i += 1,
                        _ => use_tree(toks, i, prefix.clone(), out),
                    }
                }
                if toks.get(*i).is_some_and(|(t, _)| t == ";") {
                    *i += 1;
                }
                return;
            }
            "as" => *i += 2,
            ";" => {
                *i += 1;
                break;
            }
            "," | "}" => break,
            _ if is_ident(t) => {
                prefix.push(t.clone());
                *i += 1;
            }
            _ => *i += 1,
        }
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
}

fn is_ident(t: &str) -> bool {
    t.starts_with(|c: char| c.is_alphabetic() || c == '_') && t != "_"
}

/// Identifiers (keywords too), `::`, and single punctuation characters, with their line numbers.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((chars[start..i].iter().collect(), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
        } else {
            out.push((c.to_string(), line));
            i += 1;
        }
    }
    out
}

/// The source with comments, strings and character literals blanked out (lines kept).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, s: &[char]| {
        out.extend(s.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    };
    let ident = |k: usize| c.get(k).is_some_and(|ch| ch.is_alphanumeric() || *ch == '_');
    let mut i = 0;
    while i < c.len() {
        let rest = &c[i..];
        let end = if rest.starts_with(&['/', '/']) {
            i + rest.iter().position(|&ch| ch == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            let (mut k, mut depth) = (i + 2, 1);
            while k < c.len() && depth > 0 {
                if c[k..].starts_with(&['/', '*']) {
                    depth += 1;
                    k += 2;
                } else if c[k..].starts_with(&['*', '/']) {
                    depth -= 1;
                    k += 2;
                } else {
                    k += 1;
                }
            }
            k
        } else if c[i] == 'r' && (i == 0 || !ident(i - 1) || (c[i - 1] == 'b' && (i < 2 || !ident(i - 2)))) && {
            let hashes = rest[1..].iter().take_while(|&&ch| ch == '#').count();
            rest.get(1 + hashes) == Some(&'"')
        } {
            let hashes = rest[1..].iter().take_while(|&&ch| ch == '#').count();
            let mut k = i + 2 + hashes;
            while k < c.len()
                && !(c[k] == '"' && c[k + 1..].iter().take(hashes).filter(|&&ch| ch == '#').count() == hashes)
            {
                k += 1;
            }
            (k + 1 + hashes).min(c.len())
        } else if c[i] == '"' {
            let mut k = i + 1;
            while k < c.len() && c[k] != '"' {
                k += if c[k] == '\\' { 2 } else { 1 };
            }
            (k + 1).min(c.len())
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            i + 3 + c[i + 3..].iter().position(|&ch| ch == '\'').unwrap_or(0) + 1
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        blank(&mut out, &c[i..end.min(c.len())]);
        i = end.min(c.len()).max(i + 1);
    }
    out
}
