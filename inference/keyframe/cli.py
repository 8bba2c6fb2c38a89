"""Subcommands of this engine (placeholder until the engine lands)."""


def register(commands, groups):
    pass
