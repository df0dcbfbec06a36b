//! The image's CycloneDX 1.5 JSON SBOM: the container, its operating system, Go binaries
//! and every package inspection found, with purls, versions, licences and hashes, and
//! the dependency graph image → components. Reproducible: the serial number derives
//! from the manifest digest, the timestamp is a parameter, and the order is fixed
//! (typed structs, so field order never depends on serde_json's features).

pub mod spdx;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::image::inspect::{ImageContents, ImagePackage, PackageEcosystem, purl};
use crate::image::rfc3339;

/// A CycloneDX BOM (the subset isect writes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    pub bom_format: &'static str,
    pub spec_version: &'static str,
    pub serial_number: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub timestamp: String,
    pub tools: Tools,
    pub component: Component,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tools {
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hash {
    pub alg: &'static str,
    pub content: String,
}

/// One entry of `licenses`: a licence (SPDX `id` or free `name`) or one expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LicenseChoice {
    License { license: License },
    Expression { expression: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct License {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    #[serde(rename = "ref")]
    pub reference: String,
    pub depends_on: Vec<String>,
}

fn property(name: &str, value: impl Into<String>) -> Property {
    Property {
        name: name.to_string(),
        value: value.into(),
    }
}

/// `urn:uuid:` of an RFC 9562 version-8 (name-based, vendor hash) UUID from the
/// manifest digest: the same image always gets the same serial number.
#[must_use]
pub fn serial_number(manifest_digest: &str) -> String {
    let h = Sha256::digest(format!("isect cyclonedx sbom\0{manifest_digest}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = |r: std::ops::Range<usize>| b[r].iter().map(|v| format!("{v:02x}")).collect::<String>();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        x(0..4),
        x(4..6),
        x(6..8),
        x(8..10),
        x(10..16)
    )
}

/// A package's licences: one SPDX expression alone, else each as an SPDX `id` when
/// known and a `name` otherwise (the schema enumerates ids).
#[must_use]
pub fn licenses(list: &[String]) -> Vec<LicenseChoice> {
    if let [one] = list
        && spdx::is_expression(one)
    {
        return vec![LicenseChoice::Expression {
            expression: one.trim().to_string(),
        }];
    }
    let mut out: Vec<LicenseChoice> = Vec::new();
    for l in list.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let license = match spdx::id(l) {
            Some(id) => License {
                id: Some(id.to_string()),
                name: None,
            },
            None => License {
                id: None,
                name: Some(l.to_string()),
            },
        };
        let choice = LicenseChoice::License { license };
        if !out.contains(&choice) {
            out.push(choice);
        }
    }
    out
}

/// The SBOM of the image `image_ref` (`registry/path/name:tag`) whose manifest is
/// `manifest_digest` and whose layers are `layers` (lowest first), as of `timestamp`
/// (seconds since the epoch; pass `SOURCE_DATE_EPOCH` or the image's creation time for
/// a reproducible file).
#[must_use]
pub fn cyclonedx(
    image_ref: &str,
    manifest_digest: &str,
    contents: &ImageContents,
    layers: &[String],
    timestamp: u64,
) -> Bom {
    let image_bom_ref = format!(
        "{}@{manifest_digest}",
        image_ref.split('@').next().unwrap_or(image_ref)
    );
    let image = Component {
        kind: "container",
        bom_ref: Some(image_bom_ref.clone()),
        name: image_ref.to_string(),
        version: Some(manifest_digest.to_string()),
        description: None,
        hashes: manifest_digest
            .strip_prefix("sha256:")
            .map(|h| Hash {
                alg: "SHA-256",
                content: h.to_string(),
            })
            .into_iter()
            .collect(),
        licenses: Vec::new(),
        purl: Some(purl::oci(image_ref, manifest_digest)),
        properties: layers
            .iter()
            .map(|l| property("isect:image:layer", l))
            .collect(),
    };

    let mut components: Vec<Component> = Vec::new();
    let mut top: Vec<String> = Vec::new();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();

    let os_ref = contents.os.as_ref().map(|os| {
        let r = format!("os:{}@{}", os.id, os.version_id.as_deref().unwrap_or(""));
        components.push(Component {
            kind: "operating-system",
            bom_ref: Some(r.clone()),
            name: os.id.clone(),
            version: os.version_id.clone(),
            description: os.pretty_name.clone(),
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            properties: Vec::new(),
        });
        top.push(r.clone());
        r
    });

    let mut binary_refs: BTreeMap<&str, String> = BTreeMap::new();
    for bin in &contents.go_binaries {
        let r = format!("file:/{}", bin.path);
        let released = bin
            .main_version
            .as_deref()
            .filter(|v| *v != "(devel)" && !v.is_empty());
        components.push(Component {
            kind: "application",
            bom_ref: Some(r.clone()),
            name: bin.main_module.clone(),
            version: bin.main_version.clone(),
            description: None,
            hashes: vec![Hash {
                alg: "SHA-256",
                content: bin.sha256.clone(),
            }],
            licenses: Vec::new(),
            purl: released.map(|v| purl::golang(&bin.main_module, v)),
            properties: vec![
                property("isect:image:path", format!("/{}", bin.path)),
                property("isect:go:version", &bin.go_version),
            ],
        });
        top.push(r.clone());
        binary_refs.insert(bin.path.as_str(), r);
    }

    // one component per purl, listing every file that records it
    let mut by_purl: BTreeMap<&str, Vec<&ImagePackage>> = BTreeMap::new();
    for p in &contents.packages {
        by_purl.entry(p.purl.as_str()).or_default().push(p);
    }
    for (purl, found) in &by_purl {
        let first = found[0];
        let mut properties: Vec<Property> = Vec::new();
        if let Some(src) = &first.source {
            properties.push(property("isect:deb:source", src));
        }
        for p in found {
            properties.push(property(
                "isect:image:path",
                format!("/{}", p.path_in_image),
            ));
            let parent = match (
                p.ecosystem,
                binary_refs.get(p.path_in_image.as_str()),
                &os_ref,
            ) {
                (PackageEcosystem::Go, Some(bin), _) => Some(bin),
                (PackageEcosystem::Debian, _, Some(os)) => Some(os),
                _ => None,
            };
            let deps = match parent {
                Some(parent) => edges.entry(parent.clone()).or_default(),
                None => &mut top,
            };
            if !deps.iter().any(|d| d == purl) {
                deps.push((*purl).to_string());
            }
        }
        components.push(Component {
            kind: "library",
            bom_ref: Some((*purl).to_string()),
            name: first.name.clone(),
            version: Some(first.version.clone()),
            description: None,
            hashes: Vec::new(),
            licenses: licenses(&first.licenses),
            purl: Some((*purl).to_string()),
            properties,
        });
    }

    let mut dependencies = vec![Dependency {
        reference: image_bom_ref,
        depends_on: top,
    }];
    for c in &components {
        let Some(r) = &c.bom_ref else { continue };
        dependencies.push(Dependency {
            reference: r.clone(),
            depends_on: edges.remove(r).unwrap_or_default(),
        });
    }

    Bom {
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: serial_number(manifest_digest),
        version: 1,
        metadata: Metadata {
            timestamp: rfc3339(timestamp),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    bom_ref: None,
                    name: "isect".into(),
                    version: Some(env!("CARGO_PKG_VERSION").into()),
                    description: None,
                    hashes: Vec::new(),
                    licenses: Vec::new(),
                    purl: None,
                    properties: Vec::new(),
                }],
            },
            component: image,
        },
        components,
        dependencies,
    }
}

/// The BOM as the file stored beside the image: pretty JSON, newline-terminated.
#[must_use]
pub fn to_json(bom: &Bom) -> String {
    // a Bom is plain strings, numbers and vectors: serialising cannot fail
    let mut s = serde_json::to_string_pretty(bom).unwrap_or_default();
    s.push('\n');
    s
}
