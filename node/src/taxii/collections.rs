//! `GET /taxii2/api/collections/` and `GET .../collections/{id}/` (TAXII 2.1 sections 5.1
//! and 5.2): the two collections, readable, not writable.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::answer::{check_accept, find_collection, taxii};
use super::media::STIX_MEDIA_TYPE;
use super::CollectionInfo;
use crate::Shared;

fn resource(c: &CollectionInfo) -> Value {
    json!({
        "id": c.id,
        "title": c.title,
        "description": format!("The STIX objects of the committed threat-indicators entries {}.", c.title),
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

pub(super) async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_accept(&shared, &headers) {
        return r;
    }
    let collections: Vec<Value> = shared.taxii.collections.iter().map(resource).collect();
    taxii(
        StatusCode::OK,
        json!({ "collections": collections }).to_string(),
    )
}

pub(super) async fn one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_accept(&shared, &headers) {
        return r;
    }
    match find_collection(&shared, &id) {
        Ok((c, _)) => taxii(StatusCode::OK, resource(&c).to_string()),
        Err(r) => r,
    }
}
