//! Browser bundle: the islands of signing up and in, password resets, e-mail verification and invitations (`#[island_in(welcome)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
