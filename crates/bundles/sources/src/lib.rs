//! Browser bundle: the islands of a project's sources and its syncs (`#[island_in(sources)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
