//! SPDX licence ids: the well-known ids an SBOM may write as `license.id` (CycloneDX's
//! schema enumerates the SPDX list; anything not recognised here goes to `license.name`),
//! and the names package managers use for them (Debian short names, trove classifiers).

/// Common SPDX ids that were on the licence list when CycloneDX 1.5 shipped (2023), so
/// validators of any age accept them. Not exhaustive: an unknown id is written as a name.
const IDS: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "APSL-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "Beerware",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSL-1.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "CECILL-2.1",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "FSFAP",
    "FSFUL",
    "FSFULLR",
    "FTL",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "IJG",
    "Info-ZIP",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "Libpng",
    "libtiff",
    "LPPL-1.3c",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MPL-1.1",
    "MPL-2.0",
    "MPL-2.0-no-copyleft-exception",
    "MS-PL",
    "NCSA",
    "OFL-1.1",
    "OLDAP-2.8",
    "OpenSSL",
    "PHP-3.01",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "SGI-B-2.0",
    "Sleepycat",
    "TCL",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "Zlib",
    "ZPL-2.1",
];

/// Names that mean an id: deprecated SPDX ids, Debian short names, common spellings.
const ALIASES: &[(&str, &str)] = &[
    ("GPL-2", "GPL-2.0-only"),
    ("GPL-2.0", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("GPL-3", "GPL-3.0-only"),
    ("GPL-3.0", "GPL-3.0-only"),
    ("GPL-3+", "GPL-3.0-or-later"),
    ("GPL-3.0+", "GPL-3.0-or-later"),
    ("LGPL-2", "LGPL-2.0-only"),
    ("LGPL-2+", "LGPL-2.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3.0", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"),
    ("LGPL-3.0+", "LGPL-3.0-or-later"),
    ("AGPL-3", "AGPL-3.0-only"),
    ("AGPL-3.0", "AGPL-3.0-only"),
    ("AGPL-3+", "AGPL-3.0-or-later"),
    ("Apache-2", "Apache-2.0"),
    ("Apache 2.0", "Apache-2.0"),
    ("Apache License 2.0", "Apache-2.0"),
    ("Apache License, Version 2.0", "Apache-2.0"),
    ("Apache Software License", "Apache-2.0"),
    ("Expat", "MIT"),
    ("MIT License", "MIT"),
    ("BSD-2-clause", "BSD-2-Clause"),
    ("BSD-3-clause", "BSD-3-Clause"),
    ("BSD-4-clause", "BSD-4-Clause"),
    ("ISC License (ISCL)", "ISC"),
    ("MPL-2", "MPL-2.0"),
    ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("GNU General Public License v2 (GPLv2)", "GPL-2.0-only"),
    ("GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
    (
        "GNU General Public License v2 or later (GPLv2+)",
        "GPL-2.0-or-later",
    ),
    (
        "GNU General Public License v3 or later (GPLv3+)",
        "GPL-3.0-or-later",
    ),
    (
        "GNU Lesser General Public License v3 (LGPLv3)",
        "LGPL-3.0-only",
    ),
    (
        "GNU Lesser General Public License v2 or later (LGPLv2+)",
        "LGPL-2.0-or-later",
    ),
    ("The Unlicense (Unlicense)", "Unlicense"),
    ("zlib/libpng License", "Zlib"),
];

/// The canonical spelling of a known SPDX id (ids compare case-insensitively).
#[must_use]
pub fn id(s: &str) -> Option<&'static str> {
    let s = s.trim();
    IDS.iter().copied().find(|i| i.eq_ignore_ascii_case(s))
}

/// A licence as written by a package, with known spellings mapped to their SPDX id.
#[must_use]
pub fn normalize(s: &str) -> String {
    let s = s.trim();
    if let Some(i) = id(s) {
        return i.to_string();
    }
    ALIASES
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(s))
        .map_or_else(|| s.to_string(), |(_, i)| (*i).to_string())
}

/// The last part of a `License :: …` trove classifier.
#[must_use]
pub fn from_classifier(s: &str) -> String {
    normalize(s)
}

/// A Debian `copyright` short name (`GPL-2+`, `Expat`, `BSD-3-clause`).
#[must_use]
pub fn from_debian(s: &str) -> String {
    normalize(s)
}

/// Whether `s` is an SPDX licence expression over known ids (`MIT OR Apache-2.0`,
/// `GPL-2.0-or-later WITH Classpath-exception-2.0`, `LicenseRef-x`), not a bare id.
#[must_use]
pub fn is_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let has_operator = tokens.iter().any(|t| matches!(*t, "AND" | "OR" | "WITH"));
    let mut after_with = false;
    let known = tokens.iter().all(|t| {
        let ok = match *t {
            "AND" | "OR" | "WITH" | "(" | ")" => true,
            t if after_with => t.ends_with("exception") || t.contains("-exception-"),
            t => id(t.trim_end_matches('+')).is_some() || t.starts_with("LicenseRef-"),
        };
        after_with = *t == "WITH";
        ok
    });
    has_operator && known && spaced.matches('(').count() == spaced.matches(')').count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_aliases_and_expressions() {
        assert_eq!(id("mit"), Some("MIT"));
        assert_eq!(normalize("Expat"), "MIT");
        assert_eq!(normalize("GPL-2+"), "GPL-2.0-or-later");
        assert_eq!(normalize("Some Custom Licence"), "Some Custom Licence");
        assert!(is_expression("MIT OR Apache-2.0"));
        assert!(is_expression("(MIT AND BSD-3-Clause) OR GPL-2.0-or-later"));
        assert!(is_expression("GPL-2.0-only WITH Classpath-exception-2.0"));
        assert!(!is_expression("MIT"));
        assert!(!is_expression("BSD or whatever"));
        for (_, i) in ALIASES {
            assert!(id(i).is_some(), "{i}");
        }
    }

    #[test]
    fn every_id_is_in_the_cyclonedx_spdx_schema() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/schemas/cyclonedx/spdx.schema.json"
        );
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let enumerated: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for i in IDS {
            assert!(enumerated.contains(i), "{i} is not an SPDX id");
        }
    }
}
