// Package api is AgentPay's HTTP transport for /v1: JSON in and out,
// bearer API keys, idempotency, one error table and the OpenAPI document.
//
// A request passes these steps, each of which may answer it with an error
// (see errorStatus for the one type → HTTP status table):
//
//  1. routing (Go's ServeMux patterns; unknown paths answer 404 and known
//     paths with another method 405, both as JSON errors);
//  2. authentication (Authorization: Bearer ap_…, only the SHA-256 of the
//     secret is stored) and the route's role (reader: GET; writer: ledger
//     writes; admin: everything, including API keys);
//  3. for POST and DELETE, idempotency (DESIGN 2.4): an Idempotency-Key is
//     required, scoped to the API key and the route, and stored with the
//     SHA-256 of the method, path and raw body. A stored outcome with the
//     same hash is replayed with Idempotent-Replayed: true; a different
//     hash answers 422; a request with the same key still in flight on
//     this node answers 409. Ledger writes hand the key to the engine,
//     which commits the rendered response in the same store transaction as
//     the transfers;
//  4. the body: Content-Type application/json, a size limit (64 KiB for
//     single objects, 4 MiB for batches), exactly one JSON value and no
//     unknown fields, then every field validated with a code and a param
//     naming it (e.g. "transfers[2].debit_account_id"). Bad input changes
//     nothing.
//
// Every response carries a Request-Id header; internal errors are logged
// once with it and shown to the client only as "internal".
package api
