"""`swapstream convert` of a video into a video file, resumable and distributable: the video in
segments, each converted by the normal engine pipeline into its own file in NAME.parts/ beside the
output, then joined by stream copy with the source's audio and the synthetic-media label.

manifest.py  what a parts folder was made from (input identity, content hashes of the files that change
             pixels, pixel settings, plan) and the checksums of its finished parts
work.py      one segment through the engine pipeline (in this process or in a Ray worker)
jobs.py      inputs -> outputs, plans, the parts still missing (kept ones verified), the join
on_ray.py    segments as Ray tasks (local instance or an existing cluster), retried when a worker dies
interrupted.py  what Ctrl-C leaves: the finished segments for --resume, and NAME.partial.EXT
command.py   the convert flags --resume, --workers, --cluster and the run
"""
