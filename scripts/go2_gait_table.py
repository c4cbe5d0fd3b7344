"""Score each learned Go2 gait against every quadruped reference and print the README table.

Usage (from the repository root)::

    python scripts/go2_gait_table.py [--gaits trot,pace,bound,pronk,gallop] [--policies policies/go2] [--reuse]

For each gait ``G`` with a policy folder ``policies/go2/G/`` this runs :func:`lmrl evaluate
<lm_reward_learning.evaluation.evaluate.evaluate>` (the code of ``lmrl evaluate``, default command and
10 s rollout) against each reference in :data:`REFERENCES`, writing
``policies/go2/G/evaluation/<reference>/evaluation.json`` (and ``footfalls.png`` for the gait's own
reference; the rollout arrays are removed, a rerun makes them again). It then prints one Markdown row
per gait: the class ``lmrl evaluate`` gives, the similarity to the gait's own reference and the
highest similarity to another, and the learn run's time from ``policies/go2/G/learn_time.txt`` (the
output of ``/usr/bin/time -v`` around ``lmrl learn``: CPU = user + system time of the whole process
tree, wall = elapsed). ``--reuse`` reads the ``evaluation.json`` files already there instead of
evaluating again (to print the table after evaluations run in parallel, one process per gait).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

#: Quadruped references and the gait each learned policy is meant to show.
REFERENCES: dict[str, str] = {
    "trot": "dog_trot",
    "pace": "dog_pace",
    "bound": "hildebrand_bound",
    "pronk": "hildebrand_pronk",
    "gallop": "dog_canter",
}
#: The class ``lmrl evaluate`` must give each gait.
TARGET_CLASS: dict[str, str] = {
    "trot": "trot",
    "pace": "pace",
    "bound": "bound",
    "pronk": "pronk",
    "gallop": "canter/gallop",
}


def learn_time(path: Path) -> tuple[float | None, float | None]:
    """``(cpu_s, wall_s)`` from a ``/usr/bin/time -v`` report; ``(None, None)`` without one."""
    if not path.is_file():
        return None, None
    text = path.read_text()

    def seconds(label: str) -> float:
        return float(re.search(rf"{label} \(seconds\): ([\d.]+)", text).group(1))

    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    wall_s = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return seconds("User time") + seconds("System time"), wall_s


def _score(folder: Path, ref: str, *, reuse: bool) -> dict:
    """``evaluation.json`` of ``folder`` against ``ref``: read (``reuse``) or made by ``lmrl evaluate``'s code."""
    from lm_reward_learning.evaluation.evaluate import evaluate

    path = folder / "evaluation" / ref / "evaluation.json"
    if not (reuse and path.is_file()):
        res = evaluate(folder, ref)
        res.arrays_path.unlink(missing_ok=True)
        if ref != REFERENCES[folder.name]:
            res.plot_path.unlink(missing_ok=True)
        print(f"{folder.name} vs {ref}: {res.score:.3f}", file=sys.stderr)
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gaits", default=",".join(REFERENCES))
    parser.add_argument("--policies", type=Path, default=Path("policies/go2"))
    parser.add_argument("--reuse", action="store_true", help="read existing evaluation.json files")
    args = parser.parse_args(argv)
    rows = [
        "| gait | class by `lmrl evaluate` | similarity to own reference | highest to another reference | "
        "learn time, CPU / wall | reproduce |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for gait in args.gaits.split(","):
        folder = args.policies / gait
        if not (folder / "policy.onnx").is_file():
            print(f"{folder}: no policy, skipped", file=sys.stderr)
            continue
        scores = {ref: _score(folder, ref, reuse=args.reuse) for ref in REFERENCES.values()}
        own = scores.pop(REFERENCES[gait])
        feats = own["features"]["robot"] if own["features"] else None
        cls = "not measurable"
        if feats is not None:
            cls = f"{feats['gait']} ({feats['gait_detail']}, {feats['stride_frequency_hz']:.2f} Hz)"
        other = max(scores, key=lambda ref: scores[ref]["score"])
        cpu, wall = learn_time(folder / "learn_time.txt")
        when = "–" if cpu is None else f"{cpu / 60:.1f} / {wall / 60:.1f} min"
        mark = "" if feats is not None and feats["gait"] == TARGET_CLASS[gait] else f" (target: {TARGET_CLASS[gait]})"
        rows.append(
            f"| {gait} | {cls}{mark} | {own['score']:.3f} vs `{REFERENCES[gait]}` | {scores[other]['score']:.3f} vs "
            f"`{other}` | "
            f"{when} | `lmrl learn --config config/learn/go2_gaits/{gait}.yaml --name {gait}` |"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
