"""swapstream: real-time streaming face swap. The console script lives in swapstream.cli."""

__version__ = "0.1.0"
