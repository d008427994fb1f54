"""`swapstream bench`'s parts: its default model and clip (inputs.py), the measured runs (runs.py),
and the table, JSON and plot of a result (report.py)."""
