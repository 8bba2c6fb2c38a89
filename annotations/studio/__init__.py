"""The annotation studio: project, shot and keyframe-editor pages, the editor's websocket, live previews.

    views.py      pages (project, shot, keyframe editor) and the small JSON endpoints they use
    consumers.py  KeyframeEditorConsumer: hint edits, presence, cursors, previews, suggestions
    previews.py   preview and suggestion jobs on the "preview" queue (model loaded once per process)
    state.py      per-keyframe preview state shared by web and worker processes (coalescing)
"""
