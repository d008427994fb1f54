"""The subcommands of `swapstream`, one module each.

Every module defines `add_arguments(parser)` and `run(args) -> int` and imports nothing heavy at
module level, so `swapstream --help` stays fast. Flags shared by several commands are defined
once in `swap_flags`. This package sits above engine, trainer and export, which keeps the
dependency arrows one way.
"""
