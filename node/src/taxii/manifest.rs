//! `GET .../manifest/` (TAXII 2.1 section 5.4): one record per object version, with the
//! dyad entry that carried it (spec/node.md 11.5): `x_dyad_index`, its log index, and
//! `x_dyad_receipt`, the command that writes its offline-verifiable receipt.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::answer::paging;
use super::index::Page;
use super::media::STIX_MEDIA_TYPE;
use super::objects::{serve_page, PagedRequest};
use super::time::format_micros;
use crate::Shared;

fn manifest_body(page: &Page) -> String {
    let records: Vec<Value> = page
        .records
        .iter()
        .map(|r| {
            json!({
                "id": &*r.id,
                "date_added": format_micros(r.date_added),
                "version": &*r.version,
                "media_type": STIX_MEDIA_TYPE,
                "x_dyad_index": r.entry,
                "x_dyad_receipt": format!("dyad receipt {}", r.entry),
            })
        })
        .collect();
    let objects = if records.is_empty() {
        String::new()
    } else {
        format!(",\"objects\":{}", Value::Array(records))
    };
    format!("{{{}{objects}}}", paging(page.next))
}

pub(super) async fn manifest(
    State(shared): State<Arc<Shared>>,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = PagedRequest {
        collection,
        query,
        only_id: None,
        adjust: |_| {},
    };
    serve_page(shared, &headers, request, manifest_body).await
}
