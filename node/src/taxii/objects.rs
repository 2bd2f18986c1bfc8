//! `GET .../objects/` and `GET .../objects/{id}/` (TAXII 2.1 sections 5.3 and 5.5): an
//! envelope of whole STIX objects, paged; and [`serve_page`], the paged read the
//! manifest and versions endpoints share.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::answer::{
    check_accept, date_headers, error, failed, find_collection, paging, parse_query, taxii,
};
use super::index::Page;
use super::query::Query;
use super::with_index;
use crate::Shared;

/// What one paged request reads: its collection, query and, for one object's routes, the
/// object's id.
pub(super) struct PagedRequest {
    pub collection: String,
    pub query: Option<String>,
    pub only_id: Option<String>,
    /// Applied to the parsed query (the versions endpoint asks for every version).
    pub adjust: fn(&mut Query),
}

/// Checks the request, reads its page, and answers it as `render` writes it (404 for one
/// object's route when nothing of that object matches), with the date-added headers.
pub(super) async fn serve_page(
    shared: Arc<Shared>,
    headers: &HeaderMap,
    request: PagedRequest,
    render: fn(&Page) -> String,
) -> Response {
    if let Err(r) = check_accept(&shared, headers) {
        return r;
    }
    let direction = match find_collection(&shared, &request.collection) {
        Ok((_, d)) => d,
        Err(r) => return r,
    };
    let mut query = match parse_query(&shared, request.query.as_deref()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    (request.adjust)(&mut query);
    let only_id = request.only_id.clone();
    let answered = with_index(&shared, move |indexed| {
        let page = indexed
            .collection(direction)
            .page(&query, only_id.as_deref());
        let empty = page.records.is_empty();
        let r = date_headers(taxii(StatusCode::OK, render(&page)), &page.records);
        (empty, r)
    })
    .await;
    match answered {
        Ok((true, _)) if request.only_id.is_some() => error(
            &shared,
            StatusCode::NOT_FOUND,
            "no-such-object",
            "no such object in this collection",
        ),
        Ok((_, r)) => r,
        Err(e) => failed(&shared, e),
    }
}

fn envelope(page: &Page) -> String {
    let mut body = format!("{{{}", paging(page.next));
    if !page.records.is_empty() {
        body.push_str(",\"objects\":[");
        for (i, r) in page.records.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&r.json);
        }
        body.push(']');
    }
    body.push('}');
    body
}

pub(super) async fn objects(
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
    serve_page(shared, &headers, request, envelope).await
}

pub(super) async fn object(
    State(shared): State<Arc<Shared>>,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = PagedRequest {
        collection,
        query,
        only_id: Some(id),
        adjust: |_| {},
    };
    serve_page(shared, &headers, request, envelope).await
}
