"""Every state change of the studio goes through a function in this package.

Each action writes its rows, one AuditEvent (who, what, target, before/after) and a live
event sent after commit. One module per area: projects, footage, keyframes, references.
"""
