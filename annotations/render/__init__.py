"""Rendering a shot from its approved keyframes, on background workers.

    start (actions.start_render, in the request): freeze the approved revisions,
        plan the stretches, queue `prepare`
    prepare: colorize each approved keyframe at full resolution (keyframe engine)
    stretch i (one job each, in parallel): propagate frames [start, end) between consecutive
        keyframes (propagation engine), store each frame as a 16-bit PNG, mark the stretch done
    finalize (queued by the last stretch): join, quality checks, deliverables with manifests

Every job is idempotent: a job redelivered after its worker died redoes only what is not
marked done, and the same revisions always give the same frames.

Modules: actions (start, retry, cancel, remove files, and the steps the jobs run), tasks (the thin
jobs), api (REST), pages (a rendered frame for the shot page's wipe), pipeline (keyframes,
stretches, master frames), qc (quality checks), pictures (contact sheet, QC chart), deliverables
(encoders and manifests), download (resumable file answers). The engines: annotations.engines.
"""
