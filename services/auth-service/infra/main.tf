# auth-service on Cloud Run: its runtime identity, the signing key in Secret Manager, and
# the bucket of published JWKS documents. Scanned by `isect scan auth-service` (scan::iac).
terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
  }
}

variable "project" {
  type = string
}

variable "region" {
  type    = string
  default = "europe-west1"
}

variable "image" {
  type        = string
  description = "The image isect pushed, by digest."
}

resource "google_service_account" "auth" {
  account_id   = "auth-service"
  display_name = "auth-service runtime"
}

resource "google_secret_manager_secret" "signing_key" {
  secret_id = "auth-signing-key"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "auth_reads_key" {
  secret_id = google_secret_manager_secret.signing_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.auth.email}"
}

resource "google_cloud_run_v2_service" "auth" {
  name     = "auth-service"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"

  template {
    service_account = google_service_account.auth.email
    containers {
      image = var.image
      ports {
        container_port = 8080
      }
      env {
        name = "AUTH_SIGNING_KEY"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.signing_key.secret_id
            version = "latest"
          }
        }
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
}

resource "google_storage_bucket" "jwks" {
  name                        = "${var.project}-auth-jwks"
  location                    = "EU"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }
}

resource "google_storage_bucket_iam_member" "auth_publishes_jwks" {
  bucket = google_storage_bucket.jwks.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.auth.email}"
}
