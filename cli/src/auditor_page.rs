//! The auditor's page (verifier-wasm/www), embedded when `dyad` was built with
//! `DYAD_WEB_PAGE` set (see build.rs): `dyad export web` writes it, `dyad serve` serves it
//! at `/audit/`. It is a build artefact, never committed: a `dyad` built without it says
//! how to build it.

use crate::error::{CliError, Result};

#[cfg(dyad_web_page)]
const PAGE: Option<&[u8]> = Some(include_bytes!(env!("DYAD_WEB_PAGE_FILE")));
#[cfg(not(dyad_web_page))]
const PAGE: Option<&[u8]> = None;

/// How to get a `dyad` with the page.
pub const HOW_TO_BUILD: &str = "run verifier-wasm/www/build.sh (after .ci/install-web-tools.sh), then build dyad with DYAD_WEB_PAGE=target/web/page/index.html";

/// The page, if this `dyad` was built with it.
pub fn embedded() -> Option<&'static [u8]> {
    PAGE
}

/// The page, or the error that says how to build it.
pub fn page() -> Result<&'static [u8]> {
    PAGE.ok_or_else(|| {
        CliError::usage_hint(
            "the auditor's page was not built into this dyad",
            HOW_TO_BUILD,
        )
    })
}
