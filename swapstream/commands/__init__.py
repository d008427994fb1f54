"""The subcommands of `swapstream`, one module each.

Every module defines `add_arguments(parser)` and `run(args) -> int` and imports nothing heavy at
module level, so `swapstream --help` stays fast. Flags shared by the swapping commands (convert,
live, studio, bench) are defined once in `swap_flags`, and read in swapstream/swap_session. This
package sits above every other one and nothing imports it, which keeps the dependency arrows one
way.
"""
