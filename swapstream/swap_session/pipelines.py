"""SwapSession: a model (and the reference people's models) under one EngineConfig, and the
pipelines that swap with it. Every pipeline of convert, live, bench, the studio and convert's
segment workers is built by `SwapSession.pipeline`; tests/test_layout.py checks it is the only
place outside the engine's runner that builds one."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SwapSession:
    """cfg: engine.engine_config.EngineConfig; model: the SwapModel of target 0 (-m);
    references: engine.face.people.Reference per --reference person; others: {target: SwapModel}
    of the reference people's own models."""

    cfg: object
    model: object
    references: tuple = ()
    others: dict = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: argparse.Namespace, cfg) -> SwapSession:
        """-m's model and the --reference people (with their models) under `cfg`."""
        from swapstream.swap_session.from_args import load_model, load_references

        model = load_model(args)  # validates the model (one line, exit 2) before any work
        references, others = load_references(args, model)
        return cls(cfg, model, references, others)

    def stages(self, offline: bool) -> list:
        """Fresh detect -> align -> infer -> color -> steady -> blend stages (engine.pipeline.build);
        offline batches faces across frames and waits for every identity verdict."""
        from swapstream.engine.pipeline.build import swap_stages

        return swap_stages(self.model, self.cfg, offline, self.references, self.others)

    def pipeline(
        self,
        source,
        sink,
        *,
        live: bool,
        stages=None,
        queue_depth: int | None = None,
        max_in_flight: int | None = None,
        stats=None,
        **options,
    ):
        """An engine Pipeline from source through `stages` (default: fresh ones, offline unless
        live) to sink, under the live or offline policy with its queue depth from the config
        (queue_depth overrides it; max_in_flight overrides the live policy's bound on frames in
        the stages, engine.pipeline.runner.LIVE_IN_FLIGHT). stats: a PipelineStats (default: a
        new one naming the model's provider); options: the Pipeline's callbacks and controls
        (on_output, controls, on_capture)."""
        from swapstream.engine.pipeline.metrics import PipelineStats
        from swapstream.engine.pipeline.runner import LIVE_IN_FLIGHT, Pipeline, PipelinePolicy

        if queue_depth is None:
            queue_depth = self.cfg.live.queue_depth if live else self.cfg.offline.queue_depth
        in_flight = LIVE_IN_FLIGHT if max_in_flight is None else max_in_flight
        return Pipeline(
            source,
            self.stages(offline=not live) if stages is None else stages,
            sink,
            PipelinePolicy(live=live, queue_depth=queue_depth, max_in_flight=in_flight),
            stats=stats if stats is not None else PipelineStats(provider=self.model.provider),
            **options,
        )
