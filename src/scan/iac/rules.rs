//! The core Terraform rules: public storage, internet-open admin and database ports,
//! unencrypted disks and buckets, IAM wildcards and primitive roles (GCP first, then AWS
//! and Azure basics). Each check reads literal values only (see the module doc of `iac`).

use super::iam::{gcp_iam, iam_document, iam_policy_attr, is_gcp_resource_iam};
use super::network::{aws_ingress, aws_vpc_ingress, azure_nsg_rule, gcp_firewall};
use super::{Obj, Resource, Val};
use crate::scan::finding::{Rule, Severity};

/// One rule: what it finds, how to fix it, how bad it is.
#[derive(Debug)]
pub struct RuleDef {
    pub id: &'static str,
    pub description: &'static str,
    pub help: &'static str,
    pub severity: Severity,
}

impl RuleDef {
    /// As SARIF's rule descriptor.
    #[must_use]
    pub fn to_rule(&self) -> Rule {
        Rule {
            id: self.id.to_string(),
            description: self.description.to_string(),
            help: Some(self.help.to_string()),
            help_uri: None,
            severity: self.severity,
        }
    }
}

macro_rules! rule {
    ($name:ident, $id:literal, $sev:ident, $desc:literal, $help:literal) => {
        pub(super) static $name: RuleDef = RuleDef {
            id: $id,
            description: $desc,
            help: $help,
            severity: Severity::$sev,
        };
    };
}

rule!(
    GCS_PUBLIC,
    "tf-gcs-public",
    Critical,
    "A Cloud Storage bucket or object is readable by allUsers or allAuthenticatedUsers",
    "Remove the allUsers/allAuthenticatedUsers grant; serve public content through a CDN or signed URLs, and set public_access_prevention = \"enforced\"."
);
rule!(
    GCS_NO_PAP,
    "tf-gcs-public-access-not-prevented",
    Low,
    "A Cloud Storage bucket neither enforces public access prevention nor uniform bucket-level access",
    "Set public_access_prevention = \"enforced\" (or uniform_bucket_level_access = true) so no ACL can make objects public."
);
rule!(
    S3_PUBLIC_ACL,
    "tf-s3-public-acl",
    Critical,
    "An S3 bucket has a public canned ACL (public-read, public-read-write, authenticated-read)",
    "Use acl = \"private\" (or drop the ACL and set object_ownership = \"BucketOwnerEnforced\") and keep the public access block on."
);
rule!(
    S3_PAB_OFF,
    "tf-s3-public-access-block-disabled",
    High,
    "An S3 public access block leaves some protection off",
    "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to true (each defaults to false)."
);
rule!(
    AZ_PUBLIC_CONTAINER,
    "tf-azure-public-container",
    Critical,
    "An Azure storage container allows anonymous read access",
    "Set container_access_type = \"private\" and allow_nested_items_to_be_public = false on the account."
);
rule!(
    ADMIN_PORT_OPEN,
    "tf-ingress-admin-port-open",
    Critical,
    "Ingress from the whole internet (0.0.0.0/0 or ::/0) to SSH (22) or RDP (3389)",
    "Restrict source ranges to known networks, or use IAP TCP forwarding (35.235.240.0/20) / a bastion / SSM Session Manager instead of an open admin port."
);
rule!(
    DB_PORT_OPEN,
    "tf-ingress-db-port-open",
    High,
    "Ingress from the whole internet to a database port (MySQL, PostgreSQL, SQL Server, Redis, MongoDB)",
    "Keep databases on private networks: restrict the source ranges to the application's subnets or use private service access."
);
rule!(
    EBS_UNENCRYPTED,
    "tf-ebs-unencrypted",
    Medium,
    "An EBS volume is not encrypted",
    "Set encrypted = true (and kms_key_id for a customer key), or enable aws_ebs_encryption_by_default."
);
rule!(
    RDS_UNENCRYPTED,
    "tf-rds-unencrypted",
    Medium,
    "An RDS instance or cluster has storage encryption off",
    "Set storage_encrypted = true; an existing instance must be restored from an encrypted snapshot copy."
);
rule!(
    S3_NO_SSE,
    "tf-s3-no-sse-config",
    Low,
    "An S3 bucket has no server-side encryption configuration in Terraform",
    "Add an aws_s3_bucket_server_side_encryption_configuration (SSE-KMS for sensitive data); S3 applies SSE-S3 by default since 2023, so this matters for a KMS-key policy."
);
rule!(
    GCE_DISK_NO_CMEK,
    "tf-gce-disk-no-cmek",
    Low,
    "A Compute Engine disk has no customer-managed encryption key",
    "Google encrypts every disk with its own keys; add disk_encryption_key { kms_key_self_link = ... } where policy requires CMEK."
);
rule!(
    CLOUDSQL_NO_SSL,
    "tf-cloudsql-ssl-not-required",
    Medium,
    "A Cloud SQL instance accepts unencrypted connections",
    "Set settings.ip_configuration.ssl_mode = \"ENCRYPTED_ONLY\" (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED)."
);
rule!(
    IAM_WILDCARD,
    "tf-iam-wildcard-policy",
    High,
    "An AWS IAM policy allows Action \"*\", or \"service:*\" on Resource \"*\"",
    "List the actions and resources the principal needs; use IAM Access Analyzer to generate a least-privilege policy."
);
rule!(
    GCP_IAM_PUBLIC,
    "tf-gcp-iam-public",
    Critical,
    "A project, folder or organization role is granted to allUsers or allAuthenticatedUsers",
    "Remove the grant: anyone on the internet (or with any Google account) would hold the role."
);
rule!(
    GCP_PRIMITIVE_ROLE,
    "tf-gcp-primitive-role",
    Medium,
    "A primitive role (roles/owner, roles/editor) is granted on a project, folder or organization",
    "Grant predefined or custom roles limited to what the principal needs instead of owner/editor."
);

static ALL: [&RuleDef; 15] = [
    &GCS_PUBLIC,
    &GCS_NO_PAP,
    &S3_PUBLIC_ACL,
    &S3_PAB_OFF,
    &AZ_PUBLIC_CONTAINER,
    &ADMIN_PORT_OPEN,
    &DB_PORT_OPEN,
    &EBS_UNENCRYPTED,
    &RDS_UNENCRYPTED,
    &S3_NO_SSE,
    &GCE_DISK_NO_CMEK,
    &CLOUDSQL_NO_SSL,
    &IAM_WILDCARD,
    &GCP_IAM_PUBLIC,
    &GCP_PRIMITIVE_ROLE,
];

/// Every rule the Terraform scan checks.
#[must_use]
pub fn rules() -> &'static [&'static RuleDef] {
    &ALL
}

/// One rule violated by one resource.
pub(crate) struct Hit {
    pub rule: &'static RuleDef,
    pub path: String,
    pub line: usize,
    pub address: String,
    pub message: String,
    /// What distinguishes two hits of one rule on one resource (for the fingerprint).
    pub detail: String,
}

pub(super) struct Out<'a> {
    res: &'a Resource,
    hits: Vec<Hit>,
}

impl Out<'_> {
    pub(super) fn hit(&mut self, rule: &'static RuleDef, line: usize, what: &str, detail: &str) {
        let address = self.res.address();
        self.hits.push(Hit {
            rule,
            path: self.res.path.clone(),
            line,
            message: format!("{address}: {what}"),
            address,
            detail: detail.to_string(),
        });
    }
}

/// Runs every rule over every resource.
pub(crate) fn check_all(resources: &[Resource]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for res in resources {
        let mut out = Out {
            res,
            hits: Vec::new(),
        };
        let b = &res.body;
        match (res.block.as_str(), res.kind.as_str()) {
            ("data", "aws_iam_policy_document") => iam_document(b, &mut out),
            ("data", _) => {}
            (_, "google_storage_bucket") => gcs_bucket(b, &mut out),
            (_, "google_storage_bucket_iam_member" | "google_storage_bucket_iam_binding")
            | (
                _,
                "google_storage_bucket_access_control"
                | "google_storage_default_object_access_control"
                | "google_storage_object_access_control",
            )
            | (_, "google_storage_bucket_acl") => gcs_grants(b, &mut out),
            (_, "aws_s3_bucket") => {
                s3_acl(b, &mut out);
                s3_sse(res, resources, &mut out);
            }
            (_, "aws_s3_bucket_acl") => s3_acl(b, &mut out),
            (_, "aws_s3_bucket_public_access_block" | "aws_s3_account_public_access_block") => {
                s3_access_block(b, &mut out);
            }
            (_, "azurerm_storage_container") => azure_container(b, &mut out),
            (_, "google_compute_firewall") => gcp_firewall(b, &mut out),
            (_, "aws_security_group") => {
                for rule in b.blocks("ingress").into_iter().flatten() {
                    aws_ingress(rule, &mut out);
                }
            }
            (_, "aws_security_group_rule")
                if b.get("type").and_then(Val::as_str) == Some("ingress") =>
            {
                aws_ingress(b, &mut out);
            }
            (_, "aws_vpc_security_group_ingress_rule") => aws_vpc_ingress(b, &mut out),
            (_, "azurerm_network_security_rule") => azure_nsg_rule(b, &mut out),
            (_, "azurerm_network_security_group") => {
                for rule in b.blocks("security_rule").into_iter().flatten() {
                    azure_nsg_rule(rule, &mut out);
                }
            }
            (_, "aws_ebs_volume") => ebs(b, resources, &mut out),
            (_, "aws_db_instance" | "aws_rds_cluster") => rds(b, &mut out),
            (_, "google_compute_disk" | "google_compute_region_disk")
                if b.get("disk_encryption_key").is_none() =>
            {
                out.hit(
                    &GCE_DISK_NO_CMEK,
                    b.line,
                    "disk encrypted with Google-managed keys only (no disk_encryption_key)",
                    "",
                );
            }
            (_, "google_sql_database_instance") => cloud_sql(b, &mut out),
            (
                _,
                "aws_iam_policy"
                | "aws_iam_role_policy"
                | "aws_iam_user_policy"
                | "aws_iam_group_policy",
            ) => {
                iam_policy_attr(b, &mut out);
            }
            (_, kind) if is_gcp_resource_iam(kind) => gcp_iam(b, &mut out),
            _ => {}
        }
        hits.extend(out.hits);
    }
    hits
}

pub(super) fn lower(v: Option<&Val>) -> Option<String> {
    v.and_then(Val::as_str).map(str::to_ascii_lowercase)
}

// ---- public storage -------------------------------------------------------------------

pub(super) const PUBLIC_MEMBERS: [&str; 2] = ["allUsers", "allAuthenticatedUsers"];

fn gcs_grants(b: &Obj, out: &mut Out<'_>) {
    for key in ["member", "members", "entity", "role_entity"] {
        let Some(v) = b.get(key) else { continue };
        for item in v.items() {
            // role_entity items are "READER:allUsers".
            let Some(who) = item.as_str().map(|s| s.rsplit(':').next().unwrap_or(s)) else {
                continue;
            };
            if PUBLIC_MEMBERS.contains(&who) {
                out.hit(
                    &GCS_PUBLIC,
                    b.line_of(key),
                    &format!("bucket access granted to {who}"),
                    who,
                );
            }
        }
    }
}

fn gcs_bucket(b: &Obj, out: &mut Out<'_>) {
    let pap = b.get("public_access_prevention");
    let ubla = b.get("uniform_bucket_level_access");
    let pap_enforced = match pap {
        Some(Val::Str(s)) => s == "enforced",
        Some(v) => !v.is_known(),
        None => false,
    };
    let ubla_on = match ubla {
        Some(Val::Bool(on)) => *on,
        Some(v) => !v.is_known(),
        None => false,
    };
    if !pap_enforced && !ubla_on {
        out.hit(
            &GCS_NO_PAP,
            b.line,
            "public access prevention is not enforced and uniform bucket-level access is off",
            "",
        );
    }
}

fn s3_acl(b: &Obj, out: &mut Out<'_>) {
    if let Some(acl) = b.get("acl").and_then(Val::as_str)
        && matches!(
            acl,
            "public-read" | "public-read-write" | "authenticated-read"
        )
    {
        out.hit(
            &S3_PUBLIC_ACL,
            b.line_of("acl"),
            &format!("canned ACL {acl} makes the bucket public"),
            acl,
        );
    }
}

fn s3_access_block(b: &Obj, out: &mut Out<'_>) {
    let off: Vec<&str> = [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ]
    .into_iter()
    .filter(|flag| match b.get(flag) {
        None | Some(Val::Bool(false)) => true,
        Some(Val::Str(s)) => s == "false",
        Some(_) => false,
    })
    .collect();
    if !off.is_empty() {
        let line = off.iter().map(|f| b.line_of(f)).min().unwrap_or(b.line);
        out.hit(
            &S3_PAB_OFF,
            line,
            &format!("{} not true", off.join(", ")),
            &off.join(","),
        );
    }
}

fn azure_container(b: &Obj, out: &mut Out<'_>) {
    if let Some(kind) = b.get("container_access_type").and_then(Val::as_str)
        && matches!(kind, "blob" | "container")
    {
        out.hit(
            &AZ_PUBLIC_CONTAINER,
            b.line_of("container_access_type"),
            &format!("container_access_type = \"{kind}\" allows anonymous reads"),
            kind,
        );
    }
}

// ---- encryption ------------------------------------------------------------------------

fn ebs(b: &Obj, all: &[Resource], out: &mut Out<'_>) {
    let default_on = all.iter().any(|r| {
        r.kind == "aws_ebs_encryption_by_default"
            && !matches!(r.body.get("enabled"), Some(Val::Bool(false)))
    });
    match b.get("encrypted") {
        None | Some(Val::Bool(false)) if !default_on => {
            out.hit(
                &EBS_UNENCRYPTED,
                b.line_of("encrypted"),
                "volume is not encrypted (encrypted is not true)",
                "",
            );
        }
        _ => {}
    }
}

fn rds(b: &Obj, out: &mut Out<'_>) {
    // Replicas and snapshot restores inherit their source's encryption; serverless v1 is always encrypted.
    if b.get("replicate_source_db").is_some()
        || b.get("snapshot_identifier").is_some()
        || lower(b.get("engine_mode")).as_deref() == Some("serverless")
    {
        return;
    }
    if matches!(b.get("storage_encrypted"), None | Some(Val::Bool(false))) {
        out.hit(
            &RDS_UNENCRYPTED,
            b.line_of("storage_encrypted"),
            "storage_encrypted is not true",
            "",
        );
    }
}

fn s3_sse(res: &Resource, all: &[Resource], out: &mut Out<'_>) {
    let b = &res.body;
    if b.get("server_side_encryption_configuration").is_some() {
        return;
    }
    let prefix = format!("aws_s3_bucket.{}.", res.name);
    let own_name = b.get("bucket").and_then(Val::as_str);
    let covered = all
        .iter()
        .filter(|r| r.kind == "aws_s3_bucket_server_side_encryption_configuration")
        .any(|r| {
            match r.body.get("bucket") {
                Some(Val::Ref(text)) => {
                    text.starts_with(&prefix) || !text.starts_with("aws_s3_bucket.")
                }
                Some(Val::Str(name)) => Some(name.as_str()) == own_name,
                // An unresolvable bucket may be this one: no guess.
                _ => true,
            }
        });
    if !covered {
        out.hit(
            &S3_NO_SSE,
            b.line,
            "no server-side encryption configuration references this bucket",
            "",
        );
    }
}

fn cloud_sql(b: &Obj, out: &mut Out<'_>) {
    let settings = b.blocks("settings");
    let Some(Some(settings)) = settings.first() else {
        return; // absent or dynamic: not literal
    };
    let ip = settings.blocks("ip_configuration");
    let (line, ok) = match ip.first() {
        None => (settings.line, false),
        Some(None) => return,
        Some(Some(ip)) => {
            let mode = ip.get("ssl_mode");
            let require = ip.get("require_ssl");
            if mode.is_some_and(|m| !m.is_known()) || require.is_some_and(|r| !r.is_known()) {
                return;
            }
            let ok = matches!(
                mode.and_then(Val::as_str),
                Some("ENCRYPTED_ONLY" | "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
            ) || matches!(require, Some(Val::Bool(true)));
            (
                ip.line_of(if mode.is_some() {
                    "ssl_mode"
                } else {
                    "require_ssl"
                }),
                ok,
            )
        }
    };
    if !ok {
        out.hit(
            &CLOUDSQL_NO_SSL,
            line,
            "unencrypted connections are accepted (ssl_mode is not ENCRYPTED_ONLY)",
            "",
        );
    }
}
