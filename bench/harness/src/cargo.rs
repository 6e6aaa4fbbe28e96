//! Building the variants' binaries with cargo, and finding them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::Result;
use crate::variants::{VARIANTS, Variant};

/// Builds every variant's package in release mode (in the bench workspace's
/// target directory, or `CARGO_TARGET_DIR`) and answers the binaries of
/// `variants`, by name. All packages are built together, whichever variants
/// run, so that cargo unifies their dependencies' features the same way every
/// time: a variant's binary does not depend on which others were selected.
pub fn build(bench: &Path, variants: &[&Variant]) -> Result<HashMap<String, PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(bench.join("Cargo.toml"));
    let mut packages: Vec<&str> = VARIANTS.iter().map(|variant| variant.package).collect();
    packages.sort_unstable();
    packages.dedup();
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !output.status.success() {
        return Err(
            "cargo build failed (see above; if our crates are mid-change, retry later)".into(),
        );
    }
    let mut binaries = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some((name, path)) = executable(line) {
            binaries.insert(name, path);
        }
    }
    for variant in variants {
        if !binaries.contains_key(variant.binary) {
            return Err(format!(
                "cargo built no binary {} in package {}",
                variant.binary, variant.package
            )
            .into());
        }
    }
    Ok(binaries)
}

/// The binary a `compiler-artifact` message announces, if any.
fn executable(message: &str) -> Option<(String, PathBuf)> {
    let message: Value = serde_json::from_str(message).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let path = message["executable"].as_str()?;
    let name = message["target"]["name"].as_str()?;
    Some((name.to_owned(), PathBuf::from(path)))
}
