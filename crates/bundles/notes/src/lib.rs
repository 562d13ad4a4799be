//! Browser bundle: the islands of a note: its images, asking about it, its workflows and their runs (`#[island_in(notes)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
