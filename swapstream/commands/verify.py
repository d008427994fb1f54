"""Check the content credentials of files: whether each carries a C2PA manifest (swapstream's or
another tool's), whether it validates and still matches the content (hard binding), who signed it
(trusted or not), what it says (synthetic, model hash, face type, source file and hash), and the
container's metadata label.

"Untrusted" signer: the signature is valid and binds the content, but the certificate is on no
C2PA trust list (swapstream's per-user certificate, or an organisation's own CA).

Exit codes: 0 every file verified; 1 a file was altered after signing (or its manifest is
damaged); 3 a file carries no credentials; 2 bad input (missing file, not a video or image).
The worst of these wins: 2, then 1, then 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="videos or images to check")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file (a JSON list)")


def exit_code(codes: list[int]) -> int:
    """2 (bad input) before 1 (altered) before 3 (no credentials) before 0."""
    for code in (2, 1, 3):
        if code in codes:
            return code
    return 0


def run(args: argparse.Namespace) -> int:
    from swapstream.credentials.verify import report_lines, verify_file

    verdicts = [verify_file(path) for path in args.files]
    if args.json:
        print(json.dumps([v.to_json() for v in verdicts], indent=2))
    else:
        for v in verdicts:
            print("\n".join(report_lines(v)))
    bad = [v for v in verdicts if v.status == "bad-input"]
    for v in bad:
        print(f"swapstream verify: error: {v.path}: {v.reason}", file=sys.stderr)
    return exit_code([v.exit_code for v in verdicts])
