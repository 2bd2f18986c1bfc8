//! The admin API's reads of the replica (spec/node.md 5.3 to 5.6): a receipt, an inclusion
//! or consistency proof, a co-signed checkpoint note. The node holds the store while it
//! runs, so the operator's CLI asks it for these; both compute them with
//! `dyad_ledger::reads`, and a refusal comes back as the JSON of its
//! [`ReadError`] (its `reason`, its fields and a `message`), from which the CLI words it
//! as it does on a store it opens itself.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_ledger::channel::Channel;
use dyad_ledger::reads::{self, ReadError};
use serde_json::Value;

use super::admin::check_token;
use crate::response::{json, reject, text, unavailable};
use crate::Shared;

/// The longest query string read; the longest a valid one can be is well below.
const MAX_QUERY: usize = 128;

/// `GET /admin/receipt?index=I`.
pub(super) async fn receipt(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const ENDPOINT: &str = "admin-receipt";
    let [index] = match guarded_query(&shared, ENDPOINT, &headers, query, ["index"]) {
        Ok(values) => values,
        Err(r) => return r,
    };
    let Some(index) = index else {
        return bad_query(&shared, ENDPOINT, "index=I is required".into());
    };
    match run(&shared, ENDPOINT, move |ch| reads::receipt(ch, index)).await {
        Ok(receipt) => json(StatusCode::OK, &receipt),
        Err(r) => r,
    }
}

/// `GET /admin/proof/inclusion?index=I[&size=N]`.
pub(super) async fn inclusion_proof(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const ENDPOINT: &str = "admin-proof-inclusion";
    let [index, size] = match guarded_query(&shared, ENDPOINT, &headers, query, ["index", "size"]) {
        Ok(values) => values,
        Err(r) => return r,
    };
    let Some(index) = index else {
        return bad_query(&shared, ENDPOINT, "index=I is required".into());
    };
    let proved = run(&shared, ENDPOINT, move |ch| {
        reads::inclusion_proof(ch, index, size)
    });
    match proved.await {
        Ok(proof) => json(StatusCode::OK, &proof),
        Err(r) => r,
    }
}

/// `GET /admin/proof/consistency?old=O&new=N`.
pub(super) async fn consistency_proof(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const ENDPOINT: &str = "admin-proof-consistency";
    let [old, new] = match guarded_query(&shared, ENDPOINT, &headers, query, ["old", "new"]) {
        Ok(values) => values,
        Err(r) => return r,
    };
    let (Some(old), Some(new)) = (old, new) else {
        return bad_query(&shared, ENDPOINT, "old=O and new=N are required".into());
    };
    let proved = run(&shared, ENDPOINT, move |ch| {
        reads::consistency_proof(ch, old, new)
    });
    match proved.await {
        Ok(proof) => json(StatusCode::OK, &proof),
        Err(r) => r,
    }
}

/// `GET /admin/checkpoint[?size=N]`: the note as it is stored.
pub(super) async fn checkpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const ENDPOINT: &str = "admin-checkpoint";
    let [size] = match guarded_query(&shared, ENDPOINT, &headers, query, ["size"]) {
        Ok(values) => values,
        Err(r) => return r,
    };
    match run(&shared, ENDPOINT, move |ch| {
        reads::checkpoint_note(ch, size)
    })
    .await
    {
        Ok(note) => text(StatusCode::OK, "text/plain; charset=utf-8", note),
        Err(r) => r,
    }
}

/// The token checked (401 without it), then the query's numbers by `names`.
fn guarded_query<const N: usize>(
    shared: &Shared,
    endpoint: &'static str,
    headers: &HeaderMap,
    query: Option<String>,
    names: [&str; N],
) -> Result<[Option<u64>; N], Response> {
    check_token(shared, headers)?;
    query_numbers(query.as_deref().unwrap_or_default(), names)
        .map_err(|message| bad_query(shared, endpoint, message))
}

/// The numbers of a query `name=value&...`: only `names`, each at most once, each a
/// decimal `u64`.
fn query_numbers<const N: usize>(
    query: &str,
    names: [&str; N],
) -> Result<[Option<u64>; N], String> {
    if query.len() > MAX_QUERY {
        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
    }
    let mut values = [None; N];
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not NAME=VALUE"))?;
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(format!(
                "unknown query parameter {name:?}; this endpoint takes {}",
                names.join(", ")
            ));
        };
        if values[i].is_some() {
            return Err(format!("{name} is given twice"));
        }
        // Digits only: `u64::from_str` would also take a sign.
        let number = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| format!("{name}={value:?} is not a number from 0 to 2^64-1"))?;
        values[i] = Some(number);
    }
    Ok(values)
}

/// 400 with `{"reason": "bad-query", "message": ...}`.
fn bad_query(shared: &Shared, endpoint: &'static str, message: String) -> Response {
    let body = serde_json::json!({"reason": "bad-query", "message": message});
    refusal(shared, endpoint, StatusCode::BAD_REQUEST, "bad-query", body)
}

/// Runs `read` on the replica under the shared lock; a refusal is answered with its JSON
/// (422 for a request that contradicts itself, 404 for what the log does not hold), a
/// failure of the store with 500.
async fn run<T, F>(shared: &Arc<Shared>, endpoint: &'static str, read: F) -> Result<T, Response>
where
    F: FnOnce(&Channel) -> Result<T, ReadError> + Send + 'static,
    T: Send + 'static,
{
    let error = match shared.read(move |ch| Ok(read(ch))).await {
        Ok(Ok(answer)) => return Ok(answer),
        Ok(Err(e)) => e,
        Err(e) => return Err(unavailable(shared, endpoint, e)),
    };
    let Some(reason) = error.reason() else {
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        return Err(reject(shared, endpoint, status, "internal", error));
    };
    let status = match error {
        ReadError::OldAfterNew { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::NOT_FOUND,
    };
    let mut body = serde_json::to_value(&error).unwrap_or_else(|_| serde_json::json!({}));
    if let Value::Object(fields) = &mut body {
        fields.insert("message".into(), error.to_string().into());
    }
    Err(refusal(shared, endpoint, status, reason, body))
}

/// Counts and logs a refusal, and answers it with a JSON body.
fn refusal(
    shared: &Shared,
    endpoint: &'static str,
    status: StatusCode,
    reason: &'static str,
    body: Value,
) -> Response {
    shared.metrics.reject(endpoint, reason);
    tracing::info!(endpoint, status = status.as_u16(), reason, %body, "read refused");
    json(status, &body)
}

#[cfg(test)]
mod tests {
    use super::query_numbers;

    #[test]
    fn a_query_holds_only_its_names_once_each_as_decimal_numbers() {
        assert_eq!(
            query_numbers("index=3&size=10", ["index", "size"]),
            Ok([Some(3), Some(10)])
        );
        assert_eq!(
            query_numbers("size=10", ["index", "size"]),
            Ok([None, Some(10)])
        );
        assert_eq!(query_numbers("", ["size"]), Ok([None]));
        for bad in [
            "index=+3",
            "index=-1",
            "index=",
            "index",
            "index=18446744073709551616",
            "index=1&index=2",
            "other=1",
            "index=%33",
        ] {
            assert!(query_numbers(bad, ["index"]).is_err(), "{bad:?}");
        }
        let long = format!("index=1&{}", "&".repeat(200));
        assert!(query_numbers(&long, ["index"]).is_err());
    }
}
