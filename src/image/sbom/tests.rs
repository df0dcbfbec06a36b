//! The SBOM against the official CycloneDX 1.5 schema (with the SPDX and JSF schemas it
//! references registered offline), and its reproducibility.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::Value;

use super::*;
use crate::image::inspect::inspect_layout;
use crate::image::inspect::tests::fixture_layout;

fn schema(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas/cyclonedx")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn validator() -> jsonschema::Validator {
    let bom = schema("bom-1.5.schema.json");
    let mut opts = jsonschema::options();
    opts.with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true);
    for name in ["spdx.schema.json", "jsf-0.82.schema.json"] {
        let s = schema(name);
        let id = s["$id"].as_str().unwrap().to_string();
        opts.with_resource(id, jsonschema::Resource::from_contents(s).unwrap());
    }
    opts.build(&bom).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn fixture_bom() -> String {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(dir.path());
    let c = inspect_layout(dir.path()).unwrap();
    let bom = cyclonedx(
        "registry.local:5000/team/api:1.0",
        &c.manifest_digest,
        &c,
        &c.layers,
        1_700_000_000,
    );
    to_json(&bom)
}

#[test]
fn sbom_is_valid_cyclonedx_and_reproducible() {
    let text = fixture_bom();
    assert_eq!(text, fixture_bom(), "two runs differ");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let v = validator();
    assert_valid(&v, &doc);
    // the schema no longer requires `version`: isect writes it anyway
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(doc["metadata"]["component"]["type"], "container");
    assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "isect");
    let comps = doc["components"].as_array().unwrap();
    let by_name = |n: &str| comps.iter().find(|c| c["name"] == n).unwrap();
    let requests = by_name("requests");
    assert_eq!(requests["purl"], "pkg:pypi/requests@2.25.0");
    assert_eq!(requests["licenses"][0]["license"]["id"], "Apache-2.0");
    assert_eq!(by_name("debian")["type"], "operating-system");
    let app = by_name("example.com/svc");
    assert_eq!(app["type"], "application");
    assert_eq!(app["hashes"][0]["alg"], "SHA-256");
    assert_eq!(by_name("zlib1g")["licenses"][0]["license"]["id"], "Zlib");
    // every component is in the graph, Go modules under their binary
    let deps = doc["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), comps.len() + 1);
    let bin_deps = deps
        .iter()
        .find(|d| d["ref"] == "file:/usr/local/bin/svc")
        .unwrap();
    assert!(
        bin_deps["dependsOn"]
            .as_array()
            .unwrap()
            .contains(&Value::from("pkg:golang/stdlib@1.19.0"))
    );
    // a broken document is caught (the validator is not vacuous)
    let mut bad = doc.clone();
    bad["components"][0]["licenses"] = serde_json::json!([{"license": {"id": "Not-A-Licence"}}]);
    assert!(!v.is_valid(&bad));
}

#[test]
fn licences_serial_numbers_and_timestamps() {
    let l = |v: &[&str]| {
        serde_json::to_value(licenses(
            &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ))
        .unwrap()
    };
    assert_eq!(
        l(&["MIT OR Apache-2.0"]),
        serde_json::json!([{"expression": "MIT OR Apache-2.0"}])
    );
    assert_eq!(
        l(&["mit", "Custom Licence", "MIT"]),
        serde_json::json!([{"license": {"id": "MIT"}}, {"license": {"name": "Custom Licence"}}])
    );
    let a = serial_number("sha256:aa");
    assert_eq!(a, serial_number("sha256:aa"));
    assert_ne!(a, serial_number("sha256:ab"));
    assert_eq!(&a[23..24], "8", "{a}");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}
