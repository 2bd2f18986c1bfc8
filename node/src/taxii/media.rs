//! Content negotiation (TAXII 2.1 section 1.6.8, spec/node.md 11.2): every answer is
//! `application/taxii+json;version=2.1`; a request whose `Accept` admits none of it is
//! answered 406.

/// The media type of every TAXII answer.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of the objects a collection holds.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Whether an `Accept` header value (absent: anything) admits [`TAXII_MEDIA_TYPE`]:
/// `application/taxii+json` with `version=2.1` or no version, `application/*` or `*/*`,
/// unless its `q` is 0.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').take(64).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut version_ok = true;
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "version" => version_ok = value == "2.1",
                "q" => version_ok &= value.parse::<f32>().map_or(true, |q| q > 0.0),
                _ => {}
            }
        }
        version_ok
            && matches!(
                essence.as_str(),
                "application/taxii+json" | "application/*" | "*/*"
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_taxii_21_and_wildcards_only() {
        for ok in [
            None,
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json; version=2.1"),
            Some("application/taxii+json"),
            Some("text/html, */*;q=0.8"),
            Some("application/*"),
        ] {
            assert!(accepts_taxii(ok), "{ok:?}");
        }
        for refused in [
            "application/taxii+json;version=2.0",
            "application/vnd.oasis.taxii+json; version=2.0",
            "text/html",
            "application/taxii+json;version=2.1;q=0",
            "",
        ] {
            assert!(!accepts_taxii(Some(refused)), "{refused:?}");
        }
    }
}
