"""The parts of the engine loop: capture, detect/track, align, infer, color, blend, sinks."""
