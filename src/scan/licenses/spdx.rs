//! SPDX licence expressions (`MIT OR Apache-2.0`, `(MIT AND BSD-3-Clause)`, `WITH`, `+`),
//! common non-SPDX names normalised to SPDX ids, and licence texts classified by their key
//! phrases. An ambiguous name ("BSD", "LGPL") becomes a set of candidate ids: it is allowed
//! only when every candidate is, and denied only when every candidate is.

/// One licence term: a set of candidate ids (one when unambiguous) or an unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    Known(Vec<String>),
    Unknown(String),
}

/// An expression in disjunctive normal form: alternatives, each a conjunction of terms.
pub(crate) type Dnf = Vec<Vec<Term>>;

/// The SPDX ids isect knows; an id in the policy's lists counts as known too.
const KNOWN_IDS: &[&str] = &[
    "0BSD",
    "AFL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-2.0",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSL-1.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.2",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "MS-PL",
    "NCSA",
    "OFL-1.1",
    "OpenSSL",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "SSPL-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "W3C",
    "WTFPL",
    "X11",
    "Zlib",
    "ZPL-2.1",
    "BUSL-1.1",
    "Elastic-2.0",
];

/// Deprecated SPDX ids and their current names.
fn modern(id: &str) -> Option<&'static str> {
    Some(match id.to_ascii_lowercase().as_str() {
        "gpl-2.0" => "GPL-2.0-only",
        "gpl-2.0+" => "GPL-2.0-or-later",
        "gpl-3.0" => "GPL-3.0-only",
        "gpl-3.0+" => "GPL-3.0-or-later",
        "lgpl-2.0" => "LGPL-2.0-only",
        "lgpl-2.1" => "LGPL-2.1-only",
        "lgpl-2.1+" => "LGPL-2.1-or-later",
        "lgpl-3.0" => "LGPL-3.0-only",
        "lgpl-3.0+" => "LGPL-3.0-or-later",
        "agpl-3.0" => "AGPL-3.0-only",
        _ => return None,
    })
}

/// The canonical spelling of an SPDX id (known, or in `extra`), handling `+` and
/// deprecated ids.
pub(crate) fn canonical_id(id: &str, extra: &[String]) -> Option<String> {
    if let Some(m) = modern(id) {
        return Some(m.to_string());
    }
    let find = |s: &str| {
        KNOWN_IDS
            .iter()
            .map(|k| (*k).to_string())
            .chain(extra.iter().cloned())
            .find(|k| k.eq_ignore_ascii_case(s))
    };
    if let Some(found) = find(id) {
        return Some(found);
    }
    // `MPL-2.0+`, `Apache-2.0+`: "this version or later"; the named one is what a policy lists.
    let base = id.strip_suffix('+')?;
    find(&format!("{base}-or-later")).or_else(|| find(base))
}

/// Common non-SPDX names (PyPI `License:` fields and classifiers, npm's old spellings).
fn named(name: &str) -> Option<Vec<&'static str>> {
    // Words that never decide which licence it is: "The MIT License", "Apache License,
    // Version 2.0" → "mit", "apache 2.0".
    let lowered = name
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .replace(['(', ')', ','], " ");
    let n = lowered
        .split_whitespace()
        .filter(|w| !matches!(*w, "the" | "license" | "licence" | "version"))
        .collect::<Vec<_>>()
        .join(" ");
    let n = n.as_str();
    Some(match n {
        "mit" | "mit mit" | "expat" | "mit-style" => vec!["MIT"],
        "apache 2.0"
        | "apache-2"
        | "apache 2"
        | "apache license 2.0"
        | "apache license version 2.0"
        | "apache software license 2.0"
        | "apache software"
        | "asl 2.0"
        | "apache2"
        | "apache" => {
            vec!["Apache-2.0"]
        }
        "bsd" | "bsd-style" | "new bsd" | "bsd license bsd" => vec!["BSD-2-Clause", "BSD-3-Clause"],
        "3-clause bsd" | "bsd 3-clause" | "new bsd license" | "modified bsd" | "bsd-3" => {
            vec!["BSD-3-Clause"]
        }
        "2-clause bsd" | "bsd 2-clause" | "simplified bsd" | "freebsd" | "bsd-2" => {
            vec!["BSD-2-Clause"]
        }
        "isc" | "iscl" | "isc iscl" => vec!["ISC"],
        "mozilla public 2.0 mpl 2.0" | "mpl 2.0" | "mpl2" | "mozilla public license 2.0" => {
            vec!["MPL-2.0"]
        }
        "python software foundation" | "psf" | "psfl" => vec!["PSF-2.0"],
        "unlicense" | "unlicense unlicense" => vec!["Unlicense"],
        "public domain" | "cc0" | "cc0 1.0 universal" => vec!["CC0-1.0"],
        "gplv2" | "gpl v2" | "gpl-2" | "gpl 2" | "gnu general public v2 gplv2" => {
            vec!["GPL-2.0-only", "GPL-2.0-or-later"]
        }
        "gplv3" | "gpl v3" | "gpl-3" | "gpl 3" | "gnu general public v3 gplv3" => {
            vec!["GPL-3.0-only", "GPL-3.0-or-later"]
        }
        "gnu general public v2 or later gplv2+" => vec!["GPL-2.0-or-later"],
        "gnu general public v3 or later gplv3+" => vec!["GPL-3.0-or-later"],
        "gpl" | "gnu gpl" | "gnu general public" => vec![
            "GPL-2.0-only",
            "GPL-2.0-or-later",
            "GPL-3.0-only",
            "GPL-3.0-or-later",
        ],
        "lgpl"
        | "gnu lgpl"
        | "gnu library or lesser general public lgpl"
        | "gnu lesser general public" => vec![
            "LGPL-2.1-only",
            "LGPL-2.1-or-later",
            "LGPL-3.0-only",
            "LGPL-3.0-or-later",
        ],
        "lgplv3" | "gnu lesser general public v3 lgplv3" => {
            vec!["LGPL-3.0-only", "LGPL-3.0-or-later"]
        }
        "lgplv2" | "lgplv2.1" | "gnu lesser general public v2 lgplv2" => {
            vec!["LGPL-2.1-only", "LGPL-2.1-or-later"]
        }
        "gnu affero general public v3 or later agplv3+" => vec!["AGPL-3.0-or-later"],
        "agplv3" | "gnu affero general public v3" | "gnu affero general public v3 agplv3" => {
            vec!["AGPL-3.0-only", "AGPL-3.0-or-later"]
        }
        "eclipse public 2.0 epl-2.0" | "eclipse public 2.0" | "epl 2.0" => vec!["EPL-2.0"],
        "zlib/libpng" | "zlib" => vec!["Zlib"],
        _ => return None,
    })
}

/// One name or id (no operators) as a term.
pub(crate) fn term(word: &str, extra: &[String]) -> Term {
    if let Some(id) = canonical_id(word, extra) {
        return Term::Known(vec![id]);
    }
    match named(word) {
        Some(ids) => Term::Known(ids.into_iter().map(str::to_string).collect()),
        None => Term::Unknown(word.trim().to_string()),
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    With,
    Word(String),
}

fn tokens(text: &str) -> Vec<Tok> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    spaced
        .split_whitespace()
        .map(|w| match w {
            "(" => Tok::Open,
            ")" => Tok::Close,
            w if w.eq_ignore_ascii_case("and") => Tok::And,
            w if w.eq_ignore_ascii_case("or") => Tok::Or,
            w if w.eq_ignore_ascii_case("with") => Tok::With,
            w => Tok::Word(w.to_string()),
        })
        .collect()
}

/// Parses an SPDX expression into DNF, or `None` when it is not one (then the caller
/// treats the whole text as a name).
pub(crate) fn parse(text: &str, extra: &[String]) -> Option<Dnf> {
    let toks = tokens(text);
    let mut pos = 0;
    let dnf = parse_or(&toks, &mut pos, extra)?;
    // Expressions with hundreds of alternatives are not licences.
    (pos == toks.len() && dnf.len() <= 64).then_some(dnf)
}

fn parse_or(t: &[Tok], pos: &mut usize, extra: &[String]) -> Option<Dnf> {
    let mut alts = parse_and(t, pos, extra)?;
    while t.get(*pos) == Some(&Tok::Or) {
        *pos += 1;
        alts.extend(parse_and(t, pos, extra)?);
    }
    Some(alts)
}

fn parse_and(t: &[Tok], pos: &mut usize, extra: &[String]) -> Option<Dnf> {
    let mut acc = parse_atom(t, pos, extra)?;
    while t.get(*pos) == Some(&Tok::And) {
        *pos += 1;
        let rhs = parse_atom(t, pos, extra)?;
        let mut next = Vec::new();
        for a in &acc {
            for b in &rhs {
                next.push(a.iter().chain(b).cloned().collect());
            }
        }
        acc = next;
    }
    Some(acc)
}

fn parse_atom(t: &[Tok], pos: &mut usize, extra: &[String]) -> Option<Dnf> {
    match t.get(*pos)? {
        Tok::Open => {
            *pos += 1;
            let inner = parse_or(t, pos, extra)?;
            (t.get(*pos) == Some(&Tok::Close)).then_some(())?;
            *pos += 1;
            Some(inner)
        }
        Tok::Word(w) => {
            *pos += 1;
            // An exception only adds permissions: the licence is judged by its base id.
            if t.get(*pos) == Some(&Tok::With) {
                matches!(t.get(*pos + 1), Some(Tok::Word(_))).then_some(())?;
                *pos += 2;
            }
            // A bare word that is not an SPDX id makes the text a name, not an expression.
            let term = canonical_id(w, extra).map(|id| Term::Known(vec![id]))?;
            Some(vec![vec![term]])
        }
        _ => None,
    }
}

/// A declared licence (an SPDX expression, or a name) in DNF.
pub(crate) fn interpret(text: &str, extra: &[String]) -> Dnf {
    parse(text, extra).unwrap_or_else(|| vec![vec![term(text, extra)]])
}

/// Classifies a licence file's text by its key phrases.
pub(crate) fn classify_text(text: &str) -> Option<Vec<&'static str>> {
    let t = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    let v3 = has("version 3");
    Some(if has("gnu affero general public license") {
        vec!["AGPL-3.0-only", "AGPL-3.0-or-later"]
    } else if has("gnu lesser general public license") || has("gnu library general public license")
    {
        if v3 {
            vec!["LGPL-3.0-only", "LGPL-3.0-or-later"]
        } else {
            vec!["LGPL-2.1-only", "LGPL-2.1-or-later"]
        }
    } else if has("gnu general public license") {
        if v3 {
            vec!["GPL-3.0-only", "GPL-3.0-or-later"]
        } else {
            vec!["GPL-2.0-only", "GPL-2.0-or-later"]
        }
    } else if has("mozilla public license") && has("2.0") {
        vec!["MPL-2.0"]
    } else if has("apache license") && has("version 2.0") {
        vec!["Apache-2.0"]
    } else if has("permission is hereby granted, free of charge") {
        vec!["MIT"]
    } else if has("redistribution and use in source and binary forms") {
        if has("neither the name") || has("endorse or promote") {
            vec!["BSD-3-Clause"]
        } else {
            vec!["BSD-2-Clause"]
        }
    } else if has(
        "permission to use, copy, modify, and/or distribute this software for any purpose",
    ) || has(
        "permission to use, copy, modify, and distribute this software for any purpose with or without fee",
    ) {
        vec!["ISC"]
    } else if has("this is free and unencumbered software released into the public domain") {
        vec!["Unlicense"]
    } else {
        return None;
    })
}
