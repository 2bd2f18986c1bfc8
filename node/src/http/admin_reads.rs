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
    let request = Request::new(&shared, "admin-receipt", &headers, query);
    let read = |[index]: [Option<u64>; 1]| {
        let index = index.ok_or("index=I is required")?;
        Ok(move |ch: &Channel| reads::receipt(ch, index))
    };
    request
        .answer(["index"], read, |r| json(StatusCode::OK, &r))
        .await
}

/// `GET /admin/proof/inclusion?index=I[&size=N]`.
pub(super) async fn inclusion_proof(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = Request::new(&shared, "admin-proof-inclusion", &headers, query);
    let read = |[index, size]: [Option<u64>; 2]| {
        let index = index.ok_or("index=I is required")?;
        Ok(move |ch: &Channel| reads::inclusion_proof(ch, index, size))
    };
    let names = ["index", "size"];
    request
        .answer(names, read, |p| json(StatusCode::OK, &p))
        .await
}

/// `GET /admin/proof/consistency?old=O&new=N`.
pub(super) async fn consistency_proof(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = Request::new(&shared, "admin-proof-consistency", &headers, query);
    let read = |values: [Option<u64>; 2]| match values {
        [Some(old), Some(new)] => Ok(move |ch: &Channel| reads::consistency_proof(ch, old, new)),
        _ => Err("old=O and new=N are required"),
    };
    let names = ["old", "new"];
    request
        .answer(names, read, |p| json(StatusCode::OK, &p))
        .await
}

/// `GET /admin/checkpoint[?size=N]`: the note as it is stored.
pub(super) async fn checkpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = Request::new(&shared, "admin-checkpoint", &headers, query);
    let read = |[size]: [Option<u64>; 1]| {
        Ok::<_, &str>(move |ch: &Channel| reads::checkpoint_note(ch, size))
    };
    let note = |note| text(StatusCode::OK, "text/plain; charset=utf-8", note);
    request.answer(["size"], read, note).await
}

/// One read request: its endpoint (in metrics and logs), headers and query.
struct Request<'a> {
    shared: &'a Arc<Shared>,
    endpoint: &'static str,
    headers: &'a HeaderMap,
    query: Option<String>,
}

impl<'a> Request<'a> {
    fn new(
        shared: &'a Arc<Shared>,
        endpoint: &'static str,
        headers: &'a HeaderMap,
        query: Option<String>,
    ) -> Self {
        Request {
            shared,
            endpoint,
            headers,
            query,
        }
    }

    /// The token checked (401 without it), then the query's numbers by `names`, turned by
    /// `read` into the read of the replica (or a 400 naming what is missing); its answer
    /// is sent as `respond` says, a refusal as [`run`] does.
    async fn answer<const N: usize, F, T>(
        self,
        names: [&str; N],
        read: impl FnOnce([Option<u64>; N]) -> Result<F, &'static str>,
        respond: impl FnOnce(T) -> Response,
    ) -> Response
    where
        F: FnOnce(&Channel) -> Result<T, ReadError> + Send + 'static,
        T: Send + 'static,
    {
        let (shared, endpoint) = (self.shared, self.endpoint);
        if let Err(r) = check_token(shared, self.headers) {
            return r;
        }
        let values = query_numbers(self.query.as_deref().unwrap_or_default(), names);
        let read = match values.and_then(|v| read(v).map_err(str::to_owned)) {
            Ok(read) => read,
            Err(message) => return bad_query(shared, endpoint, message),
        };
        match run(shared, endpoint, read).await {
            Ok(answer) => respond(answer),
            Err(r) => r,
        }
    }
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
