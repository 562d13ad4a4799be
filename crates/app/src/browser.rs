//! What an island asks of the browser once a server function has answered: the pages themselves
//! are rendered on the server, so a change that affects the page loads it again.

use leptos::prelude::window;

/// Loads `path` (a full page load: the server renders it with the new state).
pub fn go_to(path: &str) {
    let _ = window().location().set_href(path);
}

/// Loads the current page again.
pub fn reload() {
    let _ = window().location().reload();
}

/// Asks the user to confirm `message`.
pub fn confirm(message: &str) -> bool {
    window().confirm_with_message(message).unwrap_or(false)
}
