//! `--json`: one JSON object per event on stdout, the last one the run summary.

use std::io::Write;

use super::{Event, Reporter};

/// Streams events as JSON lines.
pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn event(&self, event: &Event) {
        if let Ok(text) = serde_json::to_string(event) {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let _ = writeln!(lock, "{text}");
        }
    }
}
