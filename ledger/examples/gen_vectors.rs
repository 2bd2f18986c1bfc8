//! Writes spec/vectors/entries.json. Run after any change to the entry, checkpoint or
//! receipt format, and commit the result with the spec change:
//! `cargo run -p dyad-ledger --example gen_vectors`

#[path = "../tests/vectors/generate.rs"]
mod generate;

fn main() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let mut text = serde_json::to_string_pretty(&generate::generate()).expect("serialise");
    text.push('\n');
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("error: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
