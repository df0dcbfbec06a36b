//! The signed documents: cosign's simple-signing payload and the SLSA v1 provenance
//! statement (in-toto Statement v1).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Layer media type of a cosign signature payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation holding the base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer media type of a DSSE-wrapped attestation.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// isect's own layer annotation naming the signing key (`sha256:` of its SPKI DER).
pub const KEY_ID_ANNOTATION: &str = "dev.isect/key-id";
/// The `type` of a cosign image signature.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";
/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1.
pub const SLSA_PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The build type isect records.
pub const BUILD_TYPE: &str = "https://isect.dev/buildtypes/pipeline/v1";

/// The simple-signing payload for image `digest` known as `docker_reference`
/// (`registry/repo`, no tag). Keys serialize sorted, which is cosign's own order.
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &str,
    optional: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = if optional.is_empty() {
        Value::Null
    } else {
        json!(optional)
    };
    let doc = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": optional,
    });
    doc.to_string().into_bytes()
}

/// The fields of a simple-signing payload that verification looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub digest: String,
}

/// Reads a simple-signing payload; `Err` says what is missing.
pub fn parse_simple_signing(bytes: &[u8]) -> Result<SimpleSigning, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("payload is not JSON: {e}"))?;
    let critical = &v["critical"];
    if critical["type"].as_str() != Some(COSIGN_SIGNATURE_TYPE) {
        return Err(format!("payload type is not `{COSIGN_SIGNATURE_TYPE}`"));
    }
    let digest = critical["image"]["docker-manifest-digest"]
        .as_str()
        .ok_or("payload has no critical.image.docker-manifest-digest")?;
    Ok(SimpleSigning {
        docker_reference: critical["identity"]["docker-reference"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        digest: digest.to_string(),
    })
}

/// One input the build read, by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceInput {
    /// Where it is, e.g. a workspace-relative path or a URL.
    pub uri: String,
    /// Its sha256, lowercase hex.
    pub sha256: String,
}

/// What SLSA provenance records about one image build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// The service the image is of.
    pub service: String,
    /// The pipeline stage that built it (e.g. `image`).
    pub stage: String,
    /// The pipeline script, workspace-relative.
    pub script: String,
    /// The script's sha256 (hex), recorded among the resolved dependencies when set.
    pub script_sha256: Option<String>,
    /// The source repository (`https://…` or `git+https://…`).
    pub source_uri: String,
    /// The source commit.
    pub commit: String,
    /// The inputs' digests.
    pub inputs: Vec<ProvenanceInput>,
    /// Who built it, e.g. `https://isect.dev/builders/local@0.1.0` or a CI runner URL.
    pub builder_id: String,
    /// This run's id.
    pub invocation_id: String,
    /// RFC 3339 start time.
    pub started_on: String,
    /// RFC 3339 end time.
    pub finished_on: String,
}

/// The in-toto Statement v1 with an SLSA v1 provenance predicate about image `digest`.
pub fn provenance_statement(subject_name: &str, digest: &str, p: &Provenance) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let source = if p.source_uri.starts_with("git+") {
        p.source_uri.clone()
    } else {
        format!("git+{}", p.source_uri)
    };
    let mut deps = vec![json!({
        "uri": format!("{source}@{}", p.commit),
        "digest": {"gitCommit": p.commit},
    })];
    if let Some(sha) = &p.script_sha256 {
        deps.push(json!({"uri": p.script, "digest": {"sha256": sha}}));
    }
    deps.extend(
        p.inputs
            .iter()
            .map(|i| json!({"uri": i.uri, "digest": {"sha256": i.sha256}})),
    );
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": hex}}],
        "predicateType": SLSA_PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "service": p.service,
                    "stage": p.stage,
                    "script": p.script,
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": p.builder_id},
                "metadata": {
                    "invocationId": p.invocation_id,
                    "startedOn": p.started_on,
                    "finishedOn": p.finished_on,
                },
            },
        },
    })
}

/// True when `statement` is an SLSA v1 statement with a subject of sha256 `digest`.
pub fn statement_covers(statement: &Value, digest: &str) -> bool {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    statement["_type"].as_str() == Some(STATEMENT_TYPE)
        && statement["predicateType"].as_str() == Some(SLSA_PREDICATE_TYPE)
        && statement["subject"].as_array().is_some_and(|s| {
            s.iter()
                .any(|x| x["digest"]["sha256"].as_str() == Some(hex))
        })
}
