"""The one place a swap is assembled: flags -> engine and runtime config -> model and reference
people -> stages -> pipeline. convert, live, bench, the studio and convert's segment workers all
build their pipelines here (pipelines.SwapSession); it sits below the commands, which define the
flags it reads (commands/swap_flags.py), and imports none of them.
"""
