//! Language knowledge, pure where it can be: toolchain probes, command lines, input
//! inference (`go list -deps`), and reading the reports tools write (go test -json,
//! coverage profiles, coverage.py JSON).

pub mod golang;
pub mod node;
pub mod python;
pub mod toolchain;
