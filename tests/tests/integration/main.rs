//! Integration tests: the real application and the real database, a fresh database per test.
// A failed step should stop the test right there, with the error in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod ai;
mod ai_router;
mod api_tokens;
mod browser;
mod connections;
mod corpus;
mod delivery;
mod fixtures;
mod health;
mod job_events;
mod job_runtime;
mod knowledge;
mod malformed;
mod memory;
mod migrations;
mod notes;
mod pages;
mod project_sync;
mod retrieval;
mod rpc;
mod schema;
mod security;
mod serve;
mod tenancy;
mod trust;
mod workflows;
