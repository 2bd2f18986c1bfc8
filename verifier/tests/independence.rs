//! The verifier is what an auditor trusts instead of either party, so it must not share code
//! with the ledger: this fails if `cargo metadata` shows the verifier depending on any other
//! crate of this workspace (which is the only way `dyad-ledger` could reach it: no published
//! crate can depend on it), or on a crate outside the set the verifier is allowed.

use std::process::Command;

use serde_json::Value;

/// curve25519-dalek is ed25519-dalek's own arithmetic, named directly for the keyed verifier
/// (src/keyed.rs): it adds no code the verifier did not already trust. once_cell (its
/// `race::OnceBox`, no_std) builds the basepoint's table once for every keyed verifier
/// (src/comb.rs), where std's `OnceLock` is not available.
const ALLOWED: [&str; 7] = [
    "base64",
    "curve25519-dalek",
    "ed25519-dalek",
    "once_cell",
    "serde",
    "sha2",
    "thiserror",
];

#[test]
fn verifier_depends_on_nothing_in_the_workspace() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    // --no-deps reads only the workspace's own manifests: no network, no lock resolution.
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(
        members.contains(&"dyad-ledger"),
        "the workspace should contain dyad-ledger: {members:?}"
    );
    let verifier = packages
        .iter()
        .find(|p| p["name"] == "dyad-verifier")
        .expect("dyad-verifier");
    let normal: Vec<&str> = verifier["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str())
        .collect();
    for name in &normal {
        assert!(
            !members.contains(name),
            "dyad-verifier depends on the workspace crate {name}"
        );
        assert!(
            ALLOWED.contains(name),
            "dyad-verifier depends on {name}, outside {ALLOWED:?}"
        );
    }
    assert!(
        normal.contains(&"sha2") && normal.contains(&"ed25519-dalek"),
        "unexpected dependency list {normal:?}"
    );
}
