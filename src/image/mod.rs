//! The image stage's engines: container images written by isect itself (`oci`), built by
//! the Docker Engine (`docker`), bases assembled from Debian packages (`debian`), pushed to
//! a registry (`registry`), inspected for what they contain (`inspect`), described by a
//! CycloneDX SBOM (`sbom`) and signed with SLSA provenance (`sign`). Nothing here prints
//! or knows about pipelines: `exec` calls these inside steps.

pub mod debian;
pub mod docker;
pub mod inspect;
pub mod oci;
pub mod registry;
pub mod sbom;
pub mod sign;
