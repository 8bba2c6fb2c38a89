"""Projects, their members and color reference library: actions, API, pages (home, project), the
project events socket."""
