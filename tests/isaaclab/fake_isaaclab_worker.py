"""A stand-in for the Isaac Lab interpreter + worker, for the launcher tests (no Isaac Lab needed).

Called as ``fake_isaaclab_worker.py -m lm_reward_learning.isaaclab_backend.worker --request REQ``
(the launcher's command line, with this script as ``LMRL_ISAACLAB_PYTHON``). ``FAKE_WORKER_MODE``:

* ``ok``: two iterations (records, ``latest.pt`` stand-in, run.yaml), result ``done``;
* ``error`` / ``checkpoint``: result ``error`` (RuntimeError / CheckpointError);
* ``die``: one iteration, then killed by SIGKILL without a result;
* ``slow``: one iteration every 0.2 s for ~20 s, honouring the cancel file (result ``cancelled``);
* ``stubborn``: reports nothing more, ignores the cancel file and SIGTERM (needs SIGKILL).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from lm_reward_learning.io import atomic_write_json
from lm_reward_learning.isaaclab_backend.protocol import ProgressWriter, WorkerRequest, WorkerResult
from lm_reward_learning.training.run_dir import RunDir


def _iteration(req: WorkerRequest, run: RunDir, progress: ProgressWriter, it: int, records: list) -> None:
    rec = {
        "iteration": it,
        "wall_s": 0.01,
        "env_steps": 8,
        "mean_episode_return": None,
        "mean_episode_length_s": None,
        "explosions": 0,
        "terms": {"alive": {"mean": 1.0, "min": 1.0, "max": 1.0}},
    }
    records.append(rec)
    run.write_reward_stats(records)
    (run.checkpoints / "latest.pt").write_bytes(b"fake")
    run.write_meta(iterations_done=it + 1)
    progress.emit("iteration", iteration=it, total=req.iterations, record=rec)


def main() -> int:
    req = WorkerRequest.read(Path(sys.argv[sys.argv.index("--request") + 1]))
    mode = os.environ.get("FAKE_WORKER_MODE", "ok")
    progress = ProgressWriter(Path(req.progress_file))
    run = RunDir.open(Path(req.run_dir))
    progress.emit("started", pid=os.getpid(), python="fake", isaaclab="fake")
    progress.emit("phase", phase="training")
    records: list = []
    if mode == "ok":
        run.write_meta(status="training", backend="isaaclab")
        for it in range(req.iterations):
            _iteration(req, run, progress, it, records)
        run.write_meta(status="done")
        WorkerResult("done", req.iterations, wall_s=0.1).write(Path(req.result_file))
    elif mode in ("error", "checkpoint"):
        kind = "CheckpointError" if mode == "checkpoint" else "RuntimeError"
        WorkerResult("error", 0, kind, f"{kind}: the simulator said no").write(Path(req.result_file))
        progress.emit("finished", status="error")
        return 1
    elif mode == "die":
        _iteration(req, run, progress, 0, records)
        print("about to be killed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "slow":
        for it in range(100):
            _iteration(req, run, progress, it, records)
            if Path(req.cancel_file).exists():
                atomic_write_json(Path(req.result_file), {"status": "cancelled", "iterations_done": it + 1})
                return 3
            time.sleep(0.2)
    elif mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(120)
    progress.emit("finished", status="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
