"""Keyframes and their hint revisions: actions, live previews and color suggestions (preview jobs),
API, shot and editor pages, the editor socket."""
