//! Browser bundle: the islands of projects, a project's settings, the notes list, memory, jobs and search (`#[island_in(projects)]`),
//! and `hydrate()`, all exported from `app`.

use app as _;
