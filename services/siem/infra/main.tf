# siem: its event archive and the collectors' ingress. Scanned by `isect scan siem`.
variable "project" {
  type = string
}

resource "google_storage_bucket" "archive" {
  name                        = "${var.project}-siem-archive"
  location                    = "EU"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  retention_policy {
    retention_period = 31536000
  }
}

# Syslog from the collectors' subnet only: 0.0.0.0/0 here would put the SIEM's ingest on
# the internet.
resource "google_compute_firewall" "syslog" {
  name      = "siem-syslog"
  network   = "security"
  direction = "INGRESS"

  allow {
    protocol = "tcp"
    ports    = ["6514"]
  }

  source_ranges = ["10.20.0.0/16"]
}
