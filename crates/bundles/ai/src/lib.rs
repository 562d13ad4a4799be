//! Browser bundle: the islands of the AI page and workflow templates (`#[island_in(ai)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
