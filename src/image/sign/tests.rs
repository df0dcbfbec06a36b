//! Payloads, PAE, keys (with OpenSSL-made fixtures), and sign/verify against Debian's
//! real `docker-registry`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use super::*;
use crate::image::registry::testutil::{TestRegistry, write_layout};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/image/keys")
        .join(name)
}

#[test]
fn pae_matches_the_dsse_spec_example() {
    // DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world").
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn simple_signing_payload_is_cosigns_shape() {
    let d = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let p = simple_signing_payload(
        "127.0.0.1:5000/platform/auth-service",
        &d,
        &Default::default(),
    );
    // Byte-for-byte what OpenSSL signed in the fixture, i.e. cosign's key order.
    assert_eq!(p, std::fs::read(fixture("payload.json")).unwrap());
    let parsed = parse_simple_signing(&p).unwrap();
    assert_eq!(parsed.digest, d);
    assert_eq!(
        parsed.docker_reference,
        "127.0.0.1:5000/platform/auth-service"
    );
    let opt = BTreeMap::from([("service".to_string(), "auth".to_string())]);
    let with = simple_signing_payload("r/x", &d, &opt);
    assert!(
        String::from_utf8(with)
            .unwrap()
            .ends_with(r#""optional":{"service":"auth"}}"#)
    );
    assert!(parse_simple_signing(br#"{"critical":{"type":"other"}}"#).is_err());
}

fn provenance() -> Provenance {
    Provenance {
        service: "auth-service".into(),
        stage: "image".into(),
        script: "services/auth/pipeline.rhai".into(),
        script_sha256: Some("ab".repeat(32)),
        source_uri: "https://example.com/acme/mono".into(),
        commit: "3f2a1b".into(),
        inputs: vec![ProvenanceInput {
            uri: "services/auth/go.sum".into(),
            sha256: "cd".repeat(32),
        }],
        builder_id: "https://isect.dev/builders/local@0.1.0".into(),
        invocation_id: "run-42".into(),
        started_on: "2026-01-01T00:00:00Z".into(),
        finished_on: "2026-01-01T00:01:00Z".into(),
    }
}

#[test]
fn provenance_is_an_slsa_v1_statement() {
    let d = format!("sha256:{}", "ef".repeat(32));
    let s = provenance_statement("127.0.0.1:5000/platform/auth", &d, &provenance());
    assert_eq!(s["_type"], STATEMENT_TYPE);
    assert_eq!(s["predicateType"], SLSA_PREDICATE_TYPE);
    assert_eq!(s["subject"][0]["digest"]["sha256"], "ef".repeat(32));
    let b = &s["predicate"]["buildDefinition"];
    assert_eq!(b["buildType"], BUILD_TYPE);
    assert_eq!(b["externalParameters"]["service"], "auth-service");
    assert_eq!(
        b["externalParameters"]["script"],
        "services/auth/pipeline.rhai"
    );
    let deps = b["resolvedDependencies"].as_array().unwrap();
    assert_eq!(deps[0]["uri"], "git+https://example.com/acme/mono@3f2a1b");
    assert_eq!(deps[0]["digest"]["gitCommit"], "3f2a1b");
    assert_eq!(deps[2]["digest"]["sha256"], "cd".repeat(32));
    let r = &s["predicate"]["runDetails"];
    assert_eq!(r["builder"]["id"], "https://isect.dev/builders/local@0.1.0");
    assert_eq!(r["metadata"]["invocationId"], "run-42");
    assert!(statement_covers(&s, &d));
    assert!(!statement_covers(
        &s,
        &format!("sha256:{}", "00".repeat(32))
    ));
}

#[test]
fn generated_keys_round_trip_both_kinds() {
    for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
        let (private, public) = generate_keypair(kind).unwrap();
        assert!(
            private.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{private}"
        );
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let key = SigningKey::from_pem(&private).unwrap();
        let pubkey = PublicKey::from_pem(&public).unwrap();
        assert_eq!(key.kind(), kind);
        assert_eq!(key.public_key(), pubkey);
        assert!(pubkey.key_id().starts_with("sha256:"));
        let sig = key.sign(b"payload");
        assert!(pubkey.verify(b"payload", &sig));
        assert!(
            !pubkey.verify(b"payloaD", &sig),
            "tampered payload verifies"
        );
        let (_, other) = generate_keypair(kind).unwrap();
        assert!(
            !PublicKey::from_pem(&other)
                .unwrap()
                .verify(b"payload", &sig)
        );
    }
    assert_eq!("p256".parse::<KeyKind>(), Ok(KeyKind::EcdsaP256));
    assert!("rsa".parse::<KeyKind>().is_err());
}

#[test]
fn openssl_keys_and_signatures_verify() {
    let payload = std::fs::read(fixture("payload.json")).unwrap();
    for (key, public, sig) in [
        ("ed25519.pem", "ed25519.pub", "payload.ed25519.sig"),
        ("p256-sec1.pem", "p256.pub", "payload.p256.sig"),
    ] {
        let key = SigningKey::load(&fixture(key)).unwrap();
        let public = PublicKey::load(&fixture(public)).unwrap();
        assert_eq!(key.public_key(), public);
        let sig = STANDARD
            .decode(std::fs::read_to_string(fixture(sig)).unwrap().trim())
            .unwrap();
        assert!(
            public.verify(&payload, &sig),
            "OpenSSL's signature verifies"
        );
        assert!(public.verify(&payload, &key.sign(&payload)));
        let mut tampered = payload.clone();
        tampered[20] ^= 1;
        assert!(!public.verify(&tampered, &sig));
    }
}

#[test]
fn missing_or_bad_key_names_the_file_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("cosign.key");
    let e = SigningKey::load(&missing).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SignError::MissingKey { .. }));
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(
        msg.contains("[image] signing_key") && msg.contains("isect image keygen"),
        "{msg}"
    );

    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = SigningKey::load(&junk).unwrap_err();
    assert!(matches!(e, SignError::BadKey { .. }), "{e}");
    assert!(e.to_string().contains("[image] signing_key"), "{e}");
    let enc = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    assert!(SigningKey::from_pem(enc).unwrap_err().contains("encrypted"));
}

#[test]
fn dsse_envelopes_sign_verify_and_catch_tampering() {
    let key = SigningKey::from_pem(&generate_keypair(KeyKind::EcdsaP256).unwrap().0).unwrap();
    let other = SigningKey::from_pem(&generate_keypair(KeyKind::Ed25519).unwrap().0).unwrap();
    let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, br#"{"a":1}"#, &key);
    let json: serde_json::Value = serde_json::to_value(&env).unwrap();
    assert_eq!(json["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    assert_eq!(env.verify(&key.public_key()).unwrap(), br#"{"a":1}"#);
    assert_eq!(
        env.verify(&other.public_key()),
        Err(EnvelopeCheck::WrongKey)
    );

    let mut tampered = env.clone();
    tampered.payload = STANDARD.encode(br#"{"a":2}"#);
    assert_eq!(
        tampered.verify(&key.public_key()),
        Err(EnvelopeCheck::BadSignature)
    );
    // The type is signed too (that is what PAE is for).
    let mut retyped = env.clone();
    retyped.payload_type = "text/plain".into();
    assert_eq!(
        retyped.verify(&key.public_key()),
        Err(EnvelopeCheck::BadSignature)
    );
}

#[tokio::test]
async fn sign_and_verify_against_the_real_registry() {
    let Some(reg) = TestRegistry::start(false) else {
        return;
    };
    let client = RegistryClient::new(&reg.addr, false).unwrap();
    let repo = "platform/auth-service";
    let image = Reference::parse(&format!("{}/{repo}:v1", reg.addr)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let digest = write_layout(dir.path(), b"release one");
    client
        .push_layout(dir.path(), repo, &["v1".into()])
        .await
        .unwrap();

    // Not signed yet.
    let (_, public) = generate_keypair(KeyKind::Ed25519).unwrap();
    let public = PublicKey::from_pem(&public).unwrap();
    let e = verify_image(&client, &image, &public).await.unwrap_err();
    assert!(matches!(e, VerifyError::Unsigned { .. }), "{e}");

    for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
        let key = SigningKey::from_pem(&generate_keypair(kind).unwrap().0).unwrap();
        let report = sign_image(&client, &image, &key, &provenance())
            .await
            .unwrap();
        assert_eq!(report.digest, digest);
        assert_eq!(report.signature.0, format!("sha256-{}.sig", &digest[7..]));
        let ok = verify_image(&client, &image, &key.public_key())
            .await
            .unwrap();
        assert_eq!(ok.digest, digest);
        assert_eq!(ok.docker_reference, image.name());
        assert_eq!(ok.provenance["subject"][0]["digest"]["sha256"], digest[7..]);
        // Pinned by digest works too.
        let pinned = image.with_digest(&digest);
        verify_image(&client, &pinned, &key.public_key())
            .await
            .unwrap();
    }
    // Both keys' signatures sit side by side in the .sig manifest, as with cosign.
    let sigs = client
        .attachments(repo, &digest, AttachmentKind::Signature)
        .await
        .unwrap();
    assert_eq!(sigs.len(), 2);
    assert!(sigs[0].annotations.contains_key(SIGNATURE_ANNOTATION));

    // A key that never signed.
    let e = verify_image(&client, &image, &public).await.unwrap_err();
    assert!(matches!(e, VerifyError::WrongKey { .. }), "{e}");

    // Re-tag v1 to other content: the tag's new digest is unsigned.
    let key = SigningKey::from_pem(&generate_keypair(KeyKind::Ed25519).unwrap().0).unwrap();
    sign_image(&client, &image, &key, &provenance())
        .await
        .unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let digest2 = write_layout(dir2.path(), b"release two, not signed");
    client
        .push_layout(dir2.path(), repo, &["v1".into()])
        .await
        .unwrap();
    let e = verify_image(&client, &image, &key.public_key())
        .await
        .unwrap_err();
    assert!(
        matches!(e, VerifyError::Unsigned { ref digest, .. } if *digest == digest2),
        "{e}"
    );

    // A pin to the signed digest notices the tag moved.
    let pinned = image.with_digest(&digest);
    let pinned = Reference {
        tag: Some("v1".into()),
        ..pinned
    };
    let e = verify_image(&client, &pinned, &key.public_key())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, VerifyError::DigestMismatch { .. }), "{msg}");
    assert!(msg.contains(&digest) && msg.contains(&digest2), "{msg}");

    // Copying the old signature over to the new digest does not help: the signed payload
    // names the old digest.
    let old_sig = client
        .get_manifest(
            repo,
            &attachment_tag(&digest, AttachmentKind::Signature).unwrap(),
        )
        .await
        .unwrap();
    let new_tag = attachment_tag(&digest2, AttachmentKind::Signature).unwrap();
    client
        .put_manifest(repo, &new_tag, &old_sig.media_type, &old_sig.bytes)
        .await
        .unwrap();
    let e = verify_image(&client, &image, &key.public_key())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, VerifyError::DigestMismatch { .. }), "{msg}");
    assert!(msg.contains(&digest) && msg.contains(&digest2), "{msg}");
}

#[tokio::test]
async fn tampered_signature_in_the_registry_is_a_bad_signature() {
    let Some(reg) = TestRegistry::start(false) else {
        return;
    };
    let client = RegistryClient::new(&reg.addr, false).unwrap();
    let repo = "team/app";
    let dir = tempfile::tempdir().unwrap();
    let digest = write_layout(dir.path(), b"app");
    client.push_layout(dir.path(), repo, &[]).await.unwrap();
    let image = Reference::parse(&format!("{}/{repo}@{digest}", reg.addr)).unwrap();
    let key = SigningKey::from_pem(&generate_keypair(KeyKind::EcdsaP256).unwrap().0).unwrap();
    // A payload signed by this key for this digest, but with another payload substituted.
    let payload = simple_signing_payload(&image.name(), &digest, &Default::default());
    let sig = STANDARD.encode(key.sign(b"something else"));
    let layer = AttachmentLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        data: payload,
        annotations: BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_string(), sig),
            (KEY_ID_ANNOTATION.to_string(), key.public_key().key_id()),
        ]),
    };
    client
        .attach(repo, &digest, AttachmentKind::Signature, vec![layer])
        .await
        .unwrap();
    let e = verify_image(&client, &image, &key.public_key())
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::BadSignature { .. }), "{e}");

    // A good signature beside it wins, but an image without provenance is still refused.
    let payload = simple_signing_payload(&image.name(), &digest, &Default::default());
    let sig = STANDARD.encode(key.sign(&payload));
    let layer = AttachmentLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        data: payload,
        annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig)]),
    };
    client
        .attach(repo, &digest, AttachmentKind::Signature, vec![layer])
        .await
        .unwrap();
    let e = verify_image(&client, &image, &key.public_key())
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::NoProvenance { .. }), "{e}");
    assert!(e.to_string().contains(".att"), "{e}");
}
