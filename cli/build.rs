//! Embeds the auditor's page when it was built: `DYAD_WEB_PAGE` names its one HTML file
//! (verifier-wasm/www/build.sh writes target/web/page/index.html). Without it `dyad` builds
//! as ever (no wasm tooling needed) and `dyad export web` / `/audit/` say how to build it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dyad_web_page)");
    println!("cargo::rerun-if-env-changed=DYAD_WEB_PAGE");
    let Some(page) = std::env::var_os("DYAD_WEB_PAGE") else {
        return;
    };
    let page = std::path::PathBuf::from(page);
    let page = std::fs::canonicalize(&page).unwrap_or_else(|e| {
        panic!(
            "DYAD_WEB_PAGE={}: {e} (build it with verifier-wasm/www/build.sh, or unset DYAD_WEB_PAGE)",
            page.display()
        )
    });
    println!("cargo::rerun-if-changed={}", page.display());
    println!("cargo::rustc-cfg=dyad_web_page");
    println!("cargo::rustc-env=DYAD_WEB_PAGE_FILE={}", page.display());
}
