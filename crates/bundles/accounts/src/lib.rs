//! Browser bundle: the islands of the account and team pages (`#[island_in(accounts)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
