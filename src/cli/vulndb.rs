//! `isect vulndb import|status`: the OSV database folder of `[scan] vulndb`, laid out as
//! osv-scanner's offline mode keeps it, so one folder serves both tools.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::session::Session;
use super::{GlobalArgs, VulndbCommand, print_stdout};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, ExitStatus, Result};
use crate::exec::scan::resolve;
use crate::scan::osv;

pub(crate) fn vulndb(global: &GlobalArgs, command: &VulndbCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let settings = &session.workspace.config.scan;
    let dir = resolve(&session.workspace.root, &settings.vulndb);
    match command {
        VulndbCommand::Import { source, ecosystem } => {
            let source = if source.is_absolute() {
                source.clone()
            } else {
                session.cwd.join(source)
            };
            let summary = osv::import(&source, &dir, ecosystem.as_deref()).map_err(|e| {
                Error::user(
                    Diagnostic::error(
                        "vulndb::import_failed",
                        format!("cannot import {}: {e}", source.display()),
                    )
                    .note("nothing was written: the database is as it was")
                    .help("download an ecosystem's records from https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip"),
                )
            })?;
            let mut out = format!("imported into {}:\n", settings.vulndb);
            for (ecosystem, records) in &summary.ecosystems {
                let _ = writeln!(out, "  {ecosystem:<10} {records} records");
            }
            print_stdout(&out);
        }
        VulndbCommand::Status => {
            let status = osv::status(
                &dir,
                SystemTime::now(),
                u64::from(settings.vulndb_max_age_days),
            )
            .map_err(|e| {
                Error::user(
                    Diagnostic::error(
                        "vulndb::unreadable",
                        format!("cannot read the vulnerability database {}: {e}", settings.vulndb),
                    )
                    .help("import one with `isect vulndb import <all.zip or folder>`, or point `[scan] vulndb` in isect.toml at osv-scanner's offline folder"),
                )
            })?;
            let mut out = format!("OSV database: {}\n", settings.vulndb);
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>10}  {:<25} {:>10}",
                "ecosystem", "records", "withdrawn", "newest record", "size"
            );
            for e in &status.ecosystems {
                let _ = writeln!(
                    out,
                    "{:<10} {:>8} {:>10}  {:<25} {:>10}{}",
                    e.ecosystem,
                    e.records,
                    e.withdrawn,
                    e.newest_modified.as_deref().unwrap_or("-"),
                    crate::report::human_bytes(e.zip_bytes),
                    if e.stale { "  stale" } else { "" }
                );
            }
            for warning in &status.warnings {
                let _ = writeln!(out, "warning: {warning}");
            }
            print_stdout(&out);
        }
    }
    Ok(ExitStatus::Success)
}
