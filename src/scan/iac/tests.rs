//! Tests of the Terraform rules: a true and a false positive per rule, the fixtures, and
//! parse errors.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use super::rules::check_all;
use super::{IacError, parse_file, scan};

fn ids(tf: &str) -> Vec<String> {
    let resources = parse_file(tf, "main.tf").unwrap();
    check_all(&resources)
        .into_iter()
        .map(|h| h.rule.id.to_string())
        .collect()
}

fn hits(tf: &str) -> Vec<(String, usize)> {
    let resources = parse_file(tf, "main.tf").unwrap();
    check_all(&resources)
        .into_iter()
        .map(|h| (h.rule.id.to_string(), h.line))
        .collect()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn gcs_public_member_and_binding() {
    let tp = r#"
resource "google_storage_bucket_iam_binding" "b" {
  bucket  = "x"
  role    = "roles/storage.objectViewer"
  members = ["user:a@example.com", "allAuthenticatedUsers"]
}
resource "google_storage_bucket_acl" "acl" {
  bucket      = "x"
  role_entity = ["READER:allUsers"]
}"#;
    assert_eq!(ids(tp), ["tf-gcs-public", "tf-gcs-public"]);
    let fp = r#"
resource "google_storage_bucket_iam_member" "m" {
  bucket = "x"
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:api@p.iam.gserviceaccount.com"
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn gcs_bucket_public_access_prevention() {
    let tp = "resource \"google_storage_bucket\" \"b\" {\n  name = \"x\"\n  uniform_bucket_level_access = false\n}\n";
    assert_eq!(hits(tp), [("tf-gcs-public-access-not-prevented".into(), 1)]);
    for fp in [
        "resource \"google_storage_bucket\" \"b\" {\n  public_access_prevention = \"enforced\"\n}",
        "resource \"google_storage_bucket\" \"b\" {\n  uniform_bucket_level_access = true\n}",
        // Unknown: a variable decides.
        "resource \"google_storage_bucket\" \"b\" {\n  public_access_prevention = var.pap\n}",
    ] {
        assert!(ids(fp).is_empty(), "{fp}");
    }
}

#[test]
fn s3_public_acl_and_access_block() {
    let tp = r#"
resource "aws_s3_bucket_acl" "a" {
  bucket = "x"
  acl    = "public-read-write"
}
resource "aws_s3_bucket_public_access_block" "p" {
  bucket                  = "x"
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = true
}"#;
    assert_eq!(
        hits(tp),
        [
            ("tf-s3-public-acl".into(), 4),
            ("tf-s3-public-access-block-disabled".into(), 9)
        ]
    );
    let fp = r#"
resource "aws_s3_bucket_acl" "a" {
  acl = "private"
}
resource "aws_s3_bucket_public_access_block" "p" {
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn azure_public_container() {
    assert_eq!(
        ids("resource \"azurerm_storage_container\" \"c\" {\n container_access_type = \"blob\"\n}"),
        ["tf-azure-public-container"]
    );
    assert!(ids("resource \"azurerm_storage_container\" \"c\" {\n container_access_type = \"private\"\n}").is_empty());
}

#[test]
fn gcp_firewall_ports_ranges_and_direction() {
    let tp = r#"
resource "google_compute_firewall" "f" {
  source_ranges = ["10.0.0.0/8", "0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["3300-3350"]
  }
}
resource "google_compute_firewall" "all" {
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "all"
  }
}"#;
    assert_eq!(
        hits(tp),
        [
            ("tf-ingress-db-port-open".into(), 4),
            ("tf-ingress-admin-port-open".into(), 11),
            ("tf-ingress-db-port-open".into(), 11),
        ]
    );
    let fp = r#"
resource "google_compute_firewall" "egress" {
  direction          = "EGRESS"
  destination_ranges = ["0.0.0.0/0"]
  source_ranges      = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
resource "google_compute_firewall" "internal" {
  source_ranges = ["10.0.0.0/8"]
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
resource "google_compute_firewall" "web" {
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["80", "443", "8000-8100"]
  }
}
resource "google_compute_firewall" "vars" {
  source_ranges = var.ranges
  allow {
    protocol = "tcp"
  }
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn aws_and_azure_ingress() {
    let tp = r#"
resource "aws_security_group_rule" "rdp" {
  type        = "ingress"
  from_port   = 3389
  to_port     = 3389
  protocol    = "tcp"
  cidr_blocks = ["0.0.0.0/0"]
}
resource "aws_vpc_security_group_ingress_rule" "all" {
  cidr_ipv6   = "::/0"
  ip_protocol = "-1"
}
resource "azurerm_network_security_rule" "ssh" {
  direction                  = "Inbound"
  access                     = "Allow"
  protocol                   = "Tcp"
  source_address_prefix      = "*"
  destination_port_range     = "22"
}"#;
    assert_eq!(
        ids(tp),
        [
            "tf-ingress-admin-port-open",
            "tf-ingress-admin-port-open",
            "tf-ingress-db-port-open",
            "tf-ingress-admin-port-open"
        ]
    );
    let fp = r#"
resource "aws_security_group" "web" {
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/16"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_security_group_rule" "out" {
  type        = "egress"
  from_port   = 22
  to_port     = 22
  protocol    = "tcp"
  cidr_blocks = ["0.0.0.0/0"]
}
resource "azurerm_network_security_rule" "deny" {
  direction                  = "Inbound"
  access                     = "Deny"
  protocol                   = "Tcp"
  source_address_prefix      = "*"
  destination_port_range     = "22"
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn encryption_rules() {
    let tp = r#"
resource "aws_ebs_volume" "v" {
  size      = 10
  encrypted = false
}
resource "aws_db_instance" "db" {
  engine = "postgres"
}
resource "google_compute_disk" "d" {
  name = "d"
}
resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}"#;
    assert_eq!(
        hits(tp),
        [
            ("tf-ebs-unencrypted".into(), 4),
            ("tf-rds-unencrypted".into(), 6),
            ("tf-gce-disk-no-cmek".into(), 9),
            ("tf-s3-no-sse-config".into(), 12),
        ]
    );
    let fp = r#"
resource "aws_ebs_volume" "v" {
  encrypted = var.encrypted
}
resource "aws_db_instance" "db" {
  storage_encrypted = true
}
resource "aws_db_instance" "replica" {
  replicate_source_db = aws_db_instance.db.identifier
}
resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}"#;
    assert!(ids(fp).is_empty());
    // Account-wide default encryption covers volumes without `encrypted`.
    let default_on = "resource \"aws_ebs_encryption_by_default\" \"d\" {\n enabled = true\n}\nresource \"aws_ebs_volume\" \"v\" {\n size = 1\n}";
    assert!(ids(default_on).is_empty());
}

#[test]
fn cloud_sql_ssl() {
    let tp =
        "resource \"google_sql_database_instance\" \"i\" {\n  settings {\n    tier = \"x\"\n  }\n}";
    assert_eq!(hits(tp), [("tf-cloudsql-ssl-not-required".into(), 2)]);
    let fp_require = "resource \"google_sql_database_instance\" \"i\" {\n settings {\n  ip_configuration {\n   require_ssl = true\n  }\n }\n}";
    let fp_dynamic = "resource \"google_sql_database_instance\" \"i\" {\n settings {\n  dynamic \"ip_configuration\" {\n   for_each = var.ip\n   content {}\n  }\n }\n}";
    assert!(ids(fp_require).is_empty());
    assert!(ids(fp_dynamic).is_empty());
}

#[test]
fn iam_wildcards() {
    let tp = r#"
resource "aws_iam_role_policy" "p" {
  policy = <<EOF
{"Version": "2012-10-17",
 "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]}
EOF
}
data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["*"]
    resources = ["arn:aws:s3:::x"]
  }
}"#;
    assert_eq!(
        hits(tp),
        [
            ("tf-iam-wildcard-policy".into(), 3),
            ("tf-iam-wildcard-policy".into(), 9)
        ]
    );
    let fp = r#"
resource "aws_iam_policy" "p" {
  policy = jsonencode({
    Statement = [
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" },
      { Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::bucket/*" },
      { Effect = "Deny", Action = "*", Resource = "*" },
    ]
  })
}
resource "aws_iam_policy" "interpolated" {
  policy = <<EOF
{"Statement": [{"Effect": "Allow", "Action": "${var.action}", "Resource": "*"}]}
EOF
}
data "aws_iam_policy_document" "d" {
  statement {
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]
  }
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn gcp_project_iam() {
    let tp = r#"
resource "google_project_iam_binding" "b" {
  role    = "roles/editor"
  members = ["allUsers", "group:devs@example.com"]
}"#;
    assert_eq!(ids(tp), ["tf-gcp-iam-public", "tf-gcp-primitive-role"]);
    let fp = r#"
resource "google_project_iam_member" "m" {
  role   = "roles/viewer"
  member = "group:devs@example.com"
}
resource "google_cloud_run_v2_service_iam_member" "public" {
  role   = "roles/run.invoker"
  member = "allUsers"
}"#;
    assert!(ids(fp).is_empty());
}

#[test]
fn clean_fixture_has_no_findings() {
    let report = scan(&fixtures(), "iac/clean").unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.rules.len(), super::rules().len());
}

#[test]
fn bad_fixture_findings_with_lines() {
    let report = scan(&fixtures(), "iac/bad").unwrap();
    let got: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{} {}", f.rule_id, f.location))
        .collect();
    let want = [
        "tf-gcs-public-access-not-prevented iac/bad/main.tf:2",
        "tf-gcs-public iac/bad/main.tf:10",
        "tf-ingress-admin-port-open iac/bad/main.tf:17",
        "tf-ingress-db-port-open iac/bad/main.tf:17",
        "tf-gce-disk-no-cmek iac/bad/main.tf:25",
        "tf-cloudsql-ssl-not-required iac/bad/main.tf:38",
        "tf-gcp-primitive-role iac/bad/main.tf:46",
        "tf-s3-public-acl iac/bad/main.tf:51",
        "tf-s3-no-sse-config iac/bad/main.tf:49",
        "tf-ingress-db-port-open iac/bad/main.tf:57",
        "tf-ebs-unencrypted iac/bad/main.tf:65",
        "tf-iam-wildcard-policy iac/bad/main.tf:72",
    ];
    assert_eq!(got, want);
    let f = &report.findings[1];
    assert_eq!(
        f.message,
        "google_storage_bucket_iam_member.world_read: bucket access granted to allUsers"
    );
    assert_eq!(f.severity, crate::scan::Severity::Critical);
}

#[test]
fn parse_error_names_file_and_line() {
    let err = scan(&fixtures(), "iac/broken").unwrap_err();
    let IacError::Parse { path, line, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, "iac/broken/main.tf");
    assert!(*line >= 8, "{err}");
    assert!(err.to_string().starts_with("iac/broken/main.tf:"), "{err}");
}

#[test]
fn terraform_folder_and_gitignore_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = tmp.path().join("infra");
    std::fs::create_dir_all(svc.join(".terraform/modules/x")).unwrap();
    std::fs::write(
        svc.join(".terraform/modules/x/main.tf"),
        "resource \"aws_ebs_volume\" \"v\" {}",
    )
    .unwrap();
    std::fs::write(svc.join(".gitignore"), "generated/\n").unwrap();
    std::fs::create_dir_all(svc.join("generated")).unwrap();
    std::fs::write(
        svc.join("generated/x.tf"),
        "resource \"aws_ebs_volume\" \"v\" {}",
    )
    .unwrap();
    let report = scan(tmp.path(), "infra").unwrap();
    assert!(report.findings.is_empty());
    // Nothing was scanned, and nothing else is said: most services have no Terraform.
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}
