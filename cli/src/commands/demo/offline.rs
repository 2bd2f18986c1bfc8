//! The offline demo: each message is appended to the sender's replica, and sync bundles
//! carry entries, submissions and co-signatures between the two data directories as an
//! air-gapped deployment would carry them (every one kept in DIR/transfer/).

use super::{rel, Demo, Side};
use crate::commands::append::{append, Appended, Message};
use crate::commands::sync::{export_to_file, import};
use crate::error::Result;

impl Demo {
    /// Appends a message to the sender's replica (the co-signer's is queued for the
    /// sequencer); the next [`Demo::sync`] carries it over.
    pub(super) fn send_offline(
        &mut self,
        from: Side,
        message: Message,
        subject: &str,
        reply: &str,
        to: &str,
    ) -> Result<()> {
        let kind = message.kind;
        let label = match append(self.data(from), message)? {
            Appended::Logged { index, .. } => {
                self.alpha_dirty = true;
                self.sizes[Side::Alpha as usize] = index + 1;
                format!("#{index:<3}")
            }
            Appended::Queued { sequence, .. } => {
                self.bravo_dirty = true;
                format!("q{sequence:<3}")
            }
        };
        self.sent += 1;
        self.say(&format!(
            "  {label} {} → {to}  {:<17} {subject}{reply}",
            from.name(),
            kind.as_str()
        ))
    }

    /// Carries bundles back and forth until both sides hold the same co-signed log.
    pub(super) fn sync(&mut self) -> Result<()> {
        if self.live.is_some() {
            return Ok(());
        }
        while self.bravo_dirty || self.alpha_dirty {
            if self.bravo_dirty {
                let path = self.transfer_path("bravo-to-alpha.dyad-sync");
                let out = export_to_file(&self.bravo, None, &path)?;
                let s = import(&self.alpha, &path)?;
                self.sizes[Side::Alpha as usize] = s.size;
                self.bravo_dirty = false;
                if !s.appended.is_empty() {
                    self.alpha_dirty = true;
                }
                let mut what = Vec::new();
                if out.submissions > 0 {
                    what.push(format!(
                        "{} message(s), appended at {}",
                        out.submissions,
                        join(&s.appended)
                    ));
                }
                if let Some(size) = out.cosigned.last() {
                    what.push(format!("co-signature of size {size}"));
                }
                self.say(&format!(
                    "        ⇄ {}: {}; alpha: {} committed",
                    rel(&self.dir, &path),
                    what.join(", "),
                    s.committed_size
                ))?;
            }
            if self.alpha_dirty {
                let path = self.transfer_path("alpha-to-bravo.dyad-sync");
                let out = export_to_file(&self.alpha, None, &path)?;
                let s = import(&self.bravo, &path)?;
                self.sizes[Side::Bravo as usize] = s.size;
                self.alpha_dirty = false;
                self.bravo_dirty = s.cosigned.is_some();
                let entries = match out.entries {
                    Some((a, b)) if b > a => format!("entries {a}..{}", b - 1),
                    _ => "no entries".to_owned(),
                };
                self.say(&format!(
                    "        ⇄ {}: {entries} + checkpoint; bravo re-checks them and co-signs size {}",
                    rel(&self.dir, &path),
                    s.cosigned.map_or_else(|| "-".to_owned(), |c| c.to_string())
                ))?;
            }
        }
        Ok(())
    }
}

fn join(indexes: &[u64]) -> String {
    indexes
        .iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}
