//! isect's CLI integration tests: one test binary (as ripgrep, just and uv do). Each test
//! builds its own workspace in a tempdir, runs the real `isect` binary in it, and asserts
//! what a user would see: exit codes, the summary table, log lines and diagnostics.

#![allow(clippy::unwrap_used)]
// A test that cannot run here (no Docker Engine, no registry) says why on stderr.
#![allow(clippy::print_stderr)]

mod common;

mod cache;
mod ci;
mod commands;
mod diagnostics;
mod image;
mod invalidation;
mod platform;
mod remote;
mod run;
mod scan;
mod script_api;
mod secrets;
