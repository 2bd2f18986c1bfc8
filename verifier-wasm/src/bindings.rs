//! The JavaScript face of the checks (wasm32 only): thin wrappers that move bytes and
//! text across and return each answer as JSON text for `JSON.parse`. Key files come as
//! two arrays, their names and their texts.

use wasm_bindgen::prelude::*;

fn pairs(names: Vec<String>, texts: Vec<String>) -> Vec<(String, String)> {
    names.into_iter().zip(texts).collect()
}

/// The most key-change receipts a key history may hold (spec 8): the page refuses more
/// before it reads them.
#[wasm_bindgen]
pub fn max_key_history() -> usize {
    dyad_verifier::receipt::MAX_KEY_HISTORY
}

/// The largest receipt, and key-change receipt, accepted: the page refuses a larger file
/// before it reads it.
#[wasm_bindgen]
pub fn max_receipt_bytes() -> usize {
    dyad_verifier::receipt::MAX_RECEIPT_BYTES
}

/// A receipt check: add the key files, key history, attachments and endorsement, then
/// `verify`.
#[wasm_bindgen]
pub struct ReceiptCheck(crate::receipt::ReceiptCheck);

#[wasm_bindgen]
impl ReceiptCheck {
    #[wasm_bindgen(constructor)]
    pub fn new() -> ReceiptCheck {
        ReceiptCheck(crate::receipt::ReceiptCheck::new())
    }
    pub fn add_key_file(&mut self, name: &str, text: &str) {
        self.0.add_key_file(name, text);
    }
    /// A key-change receipt of the receipt's key history (`key-changes/<index>.tlog-proof`).
    pub fn add_key_change(&mut self, name: &str, bytes: Vec<u8>) {
        self.0.add_key_change(name, bytes);
    }
    pub fn add_attachment(&mut self, name: &str, bytes: Vec<u8>) {
        self.0.add_attachment(name, bytes);
    }
    pub fn set_endorsement(&mut self, bytes: Vec<u8>) {
        self.0.set_endorsement(bytes);
    }
    pub fn set_origin(&mut self, origin: &str) {
        self.0.set_origin(origin);
    }
    pub fn verify(&self, bytes: &[u8]) -> String {
        self.0.verify(bytes)
    }
}

impl Default for ReceiptCheck {
    fn default() -> Self {
        ReceiptCheck::new()
    }
}

/// Evidence of equivocation or of a broken promise, against the key files.
#[wasm_bindgen]
pub fn verify_evidence(bytes: &[u8], names: Vec<String>, texts: Vec<String>) -> String {
    crate::evidence::verify(bytes, &pairs(names, texts))
}

#[wasm_bindgen]
pub fn verify_inclusion(leaf: &[u8], index: u64, size: u64, proof: &[u8], root: &[u8]) -> String {
    crate::proofs::verify_inclusion(leaf, index, size, proof, root)
}

#[wasm_bindgen]
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[u8],
) -> String {
    crate::proofs::verify_consistency(old_size, new_size, old_root, new_root, proof)
}

#[wasm_bindgen]
pub fn verify_note(note: &[u8], key_lines: &str) -> String {
    crate::proofs::verify_note(note, key_lines)
}

/// A log held whole: leaves and checkpoints, then `run`.
#[wasm_bindgen]
pub struct LeafAudit(crate::proofs::LeafAudit);

#[wasm_bindgen]
impl LeafAudit {
    #[wasm_bindgen(constructor)]
    pub fn new() -> LeafAudit {
        LeafAudit(crate::proofs::LeafAudit::new())
    }
    pub fn add_leaf(&mut self, bytes: Vec<u8>) {
        self.0.add_leaf(bytes);
    }
    pub fn add_checkpoint(&mut self, note: Vec<u8>) {
        self.0.add_checkpoint(note);
    }
    pub fn run(&self, names: Vec<String>, texts: Vec<String>) -> String {
        self.0.run(&pairs(names, texts))
    }
}

impl Default for LeafAudit {
    fn default() -> Self {
        LeafAudit::new()
    }
}

/// A log served over tlog-tiles, audited as the caller fetches what it asks for.
#[wasm_bindgen]
pub struct LogAudit(crate::log_audit::LogAudit);

#[wasm_bindgen]
impl LogAudit {
    /// Throws the reason when the key files are not two parties' keys.
    #[wasm_bindgen(constructor)]
    pub fn new(names: Vec<String>, texts: Vec<String>) -> Result<LogAudit, JsError> {
        crate::log_audit::LogAudit::new(&pairs(names, texts))
            .map(LogAudit)
            .map_err(|e| JsError::new(&e))
    }
    pub fn start(&mut self, note: &[u8]) -> String {
        self.0.start(note)
    }
    pub fn next_request(&mut self) -> String {
        self.0.next_request()
    }
    pub fn feed(&mut self, bytes: &[u8], full_bundle: bool) -> String {
        self.0.feed(bytes, full_bundle)
    }
    pub fn finish(&mut self) -> String {
        self.0.finish()
    }
}
