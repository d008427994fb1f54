"""The engine loop: packets, links, threads, policies and metrics (see runner.py)."""
