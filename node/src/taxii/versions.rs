//! `GET .../objects/{id}/versions/` (TAXII 2.1 section 5.7): the version times of one
//! object, paged; every version, whatever `match[version]` says.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::answer::paging;
use super::index::Page;
use super::objects::{serve_page, PagedRequest};
use crate::Shared;

fn versions_body(page: &Page) -> String {
    let versions: Vec<Value> = page
        .records
        .iter()
        .map(|r| Value::from(&*r.version))
        .collect();
    format!(
        "{{{},\"versions\":{}}}",
        paging(page.next),
        Value::Array(versions)
    )
}

pub(super) async fn versions(
    State(shared): State<Arc<Shared>>,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = PagedRequest {
        collection,
        query,
        only_id: Some(id),
        adjust: |q| {
            q.versions = super::query::Versions {
                all: true,
                ..Default::default()
            };
        },
    };
    serve_page(shared, &headers, request, versions_body).await
}
