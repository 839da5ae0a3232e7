#!/usr/bin/env python3
"""Voice GNSDR / GSIR / GSAR of a DRNN model directory on one singer's MIR-1K clips (0 dB mixtures,
bss_eval_sources), as the leave-one-singer-out tables of pretrained-models/drnn/README.md.

    .venv/bin/python scripts/drnn_score_singer.py MODEL_DIR CLIP_DIR SINGER [--every K | --clips FILE] [--out FILE.json]

``--every K`` scores every K-th of the singer's clips in sorted order; ``--clips FILE`` the clips
named in FILE (one stem a line; the card's tables: pretrained-models/drnn/loso/scored_clips.txt).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from mixin.data.mir1k import singer_of, split_paths
    from mixin.training.drnn import validation_scores

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("clip_dir", type=Path)
    p.add_argument("singer")
    p.add_argument("--every", type=int, default=1, metavar="K", help="every K-th clip of the singer (default: 1)")
    p.add_argument("--clips", type=Path, metavar="FILE", help="only the clips named in FILE (one name a line)")
    p.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = p.parse_args(argv)
    clips = split_paths([args.clip_dir], "validation", args.singer)
    if args.clips:
        wanted = {line.strip() for line in args.clips.read_text().splitlines() if line.strip()}
        clips = [c for c in clips if c.stem in wanted]
    clips = clips[:: args.every]
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for c in clips:  # a directory holding just the chosen clips
            (Path(tmp) / c.name).symlink_to(c.resolve())
        r = validation_scores(args.model_dir, [Path(tmp)], args.singer)
    r |= {
        "singer": args.singer,
        "every": args.every,
        "clips": [c.stem for c in clips if singer_of(c) == args.singer],
        "seconds": round(time.time() - start, 1),
    }
    print(
        f"{args.singer}: GNSDR {r['GNSDR']:.2f} dB, GSIR {r['GSIR']:.2f}, GSAR {r['GSAR']:.2f} "
        f"on {r['validation_clips']} clips"
    )
    if args.out:
        args.out.write_text(json.dumps(r, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
