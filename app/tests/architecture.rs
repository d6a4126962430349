//! The layout's one rule that no compiler checks: no module of `app/src` imports a module that
//! imports it back, directly or through others. A module here is a file (`mod.rs` names its
//! folder); a path `crate::…`, `super::…` or `self::…` outside test modules is an import of
//! the deepest module it names. A parent and its own children may refer to each other (that
//! is how a folder re-exports its rooms).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn modules(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read app/src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            modules(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under root").with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            if parts.last().map(String::as_str) == Some("tests") {
                continue;
            }
            let src = std::fs::read_to_string(&path).expect("read source");
            // test modules may reach anywhere
            let src = src.split("#[cfg(test)]\nmod tests").next().unwrap_or("").to_string();
            out.insert(parts.join("::"), src);
        }
    }
}

/// The module a path names, from module `at` (`crate::a::b::Item` → `a::b` if that exists).
fn target(at: &str, path: &[&str], mods: &BTreeMap<String, String>) -> Option<String> {
    let mut base: Vec<&str> = if at.is_empty() { vec![] } else { at.split("::").collect() };
    let mut rest = path;
    match rest.first() {
        Some(&"crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some(&"super") | Some(&"self") => {
            while let Some(&p) = rest.first() {
                match p {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let full: Vec<&str> = base.into_iter().chain(rest.iter().copied()).collect();
    (1..=full.len()).rev().map(|k| full[..k].join("::")).find(|m| mods.contains_key(m))
}

fn imports(at: &str, src: &str, mods: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = src.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (i, _) in src.match_indices(start) {
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':')
            {
                continue;
            }
            let end = src[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(src.len(), |e| i + e);
            let path: Vec<&str> = src[i..end].split("::").filter(|p| !p.is_empty()).collect();
            if let Some(t) = target(at, &path, mods) {
                let related =
                    t == at || at.starts_with(&format!("{t}::")) || t.starts_with(&format!("{at}::"));
                if !related {
                    out.insert(t);
                }
            }
        }
    }
    out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut mods = BTreeMap::new();
    modules(&root, &root, &mut mods);
    assert!(mods.len() > 100, "found only {} modules", mods.len());
    let edges: BTreeMap<&str, BTreeSet<String>> =
        mods.iter().map(|(m, src)| (m.as_str(), imports(m, src, &mods))).collect();
    // every module that reaches back to itself is part of a circle
    let mut circles = vec![];
    for (&m, direct) in &edges {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<(&str, Vec<&str>)> =
            direct.iter().map(|d| (d.as_str(), vec![m, d.as_str()])).collect();
        while let Some((at, trail)) = stack.pop() {
            if at == m {
                circles.push(trail.join(" → "));
                break;
            }
            if !seen.insert(at) {
                continue;
            }
            for next in edges.get(at).into_iter().flatten() {
                let mut t = trail.clone();
                t.push(next.as_str());
                stack.push((next.as_str(), t));
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_checker_sees_a_circle() {
    let mods: BTreeMap<String, String> = [
        ("a".to_string(), "use crate::b::Thing;".to_string()),
        ("b".to_string(), "fn f() { super::a::g() }".to_string()),
        ("a::inner".to_string(), "use super::Thing;".to_string()),
    ]
    .into();
    assert_eq!(imports("a", &mods["a"], &mods), BTreeSet::from(["b".to_string()]));
    assert_eq!(imports("b", &mods["b"], &mods), BTreeSet::from(["a".to_string()]));
    // a child naming its parent is not a circle
    assert!(imports("a::inner", &mods["a::inner"], &mods).is_empty());
}
