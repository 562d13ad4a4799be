//! The one place errors become HTTP responses (kept with the app, whose extractors reject with it).

pub use app::error::{ErrorResponse, with_retry_after};
