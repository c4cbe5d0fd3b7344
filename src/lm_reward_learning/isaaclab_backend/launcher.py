"""Train a run through Isaac Lab from the main environment: start the worker, follow it, stop it.

:func:`train_isaaclab` has :func:`lm_reward_learning.training.trainer.train`'s signature and contract
(same run directory, same ``reward_stats.json`` records, same ``on_iteration(it, record)`` callback,
``run.yaml`` status ``done`` on return), so the trainer, the learn loop and the ROS ``trainer_node``
can switch backend without knowing more. The training itself runs in Isaac Lab's own Python
(``.venv-isaaclab``, ``scripts/setup_isaaclab.sh``) as a separate process:

    .venv-isaaclab/bin/python -m lm_reward_learning.isolation.enter POLICY PPID \
        lm_reward_learning.isaaclab_backend.worker --request <run>/isaaclab/request.json

inside the reward sandbox (:mod:`lm_reward_learning.isolation`), with ``PYTHONPATH`` pointing at this
checkout's ``src/`` (an installed package is instead found in the Isaac Lab venv, where
``scripts/setup_isaaclab.sh`` installs it with ``--no-deps``). The launcher and the worker talk
through files in ``<run>/isaaclab/`` (:mod:`~.protocol`): the request, a JSON-lines progress file, the
result, and a cancel file; the worker's stdout and stderr only go to ``<run>/isaaclab/worker.log``
for people to read. Following, timeouts and stopping are the MuJoCo worker's
(:func:`lm_reward_learning.training.launcher.run_worker`).

Environment: ``LMRL_ISAACLAB_PYTHON`` (the interpreter) or ``LMRL_ISAACLAB_VENV`` (the venv; default
``<repo>/.venv-isaaclab``); ``LMRL_ISAACLAB_ASSETS`` (default ``<venv>/lmrl-assets``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_reward_learning import isolation
from lm_reward_learning.config import TrainConfig, to_dict
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.isaaclab_backend.protocol import WorkerRequest
from lm_reward_learning.training.launcher import (
    TrainingCancelledError,
    TrainingTimeoutError,
    TrainingWorkerError,
    WorkerErrors,
    WorkerFiles,
    run_worker,
)
from lm_reward_learning.training.run_dir import RunDir

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, dict[str, Any]], None]
CancelCheck = Callable[[], bool]

WORKER_MODULE = "lm_reward_learning.isaaclab_backend.worker"
INSTALLED_STAMP = ".lmrl-isaaclab-installed"
"""Written by ``scripts/setup_isaaclab.sh`` after a complete install."""


class IsaacLabError(LmrlError):
    """Training through Isaac Lab failed; the message says where and what to do."""


class IsaacLabUnavailableError(IsaacLabError):
    """The Isaac Lab environment (interpreter or USD assets) is not there."""


class IsaacLabWorkerError(IsaacLabError, TrainingWorkerError):
    """The worker reported an error, or died without reporting (killed, crashed).

    Attributes:
        kind: The worker's exception class name, or ``"died"``.
        log_path: The worker's log file.
    """


class IsaacLabTimeoutError(IsaacLabError, TrainingTimeoutError):
    """The worker ran past the overall timeout or reported nothing for too long; it was stopped."""


class IsaacLabCancelledError(IsaacLabError, TrainingCancelledError):
    """Training was cancelled on request; the checkpoints written so far are kept."""


ISAACLAB_ERRORS = WorkerErrors(
    label="Isaac Lab training",
    failed=IsaacLabWorkerError,
    timeout=IsaacLabTimeoutError,
    cancelled=IsaacLabCancelledError,
)


def repo_root() -> Path:
    """The checkout this package runs from (``src/lm_reward_learning`` → two levels up), or the cwd."""
    here = Path(__file__).resolve().parents[3]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def isaaclab_venv() -> Path:
    """The Isaac Lab venv: ``$LMRL_ISAACLAB_VENV`` or ``<repo>/.venv-isaaclab``."""
    return Path(os.environ.get("LMRL_ISAACLAB_VENV") or repo_root() / ".venv-isaaclab")


def isaaclab_python() -> Path:
    """The Isaac Lab interpreter: ``$LMRL_ISAACLAB_PYTHON`` or ``<venv>/bin/python``."""
    return Path(os.environ.get("LMRL_ISAACLAB_PYTHON") or isaaclab_venv() / "bin" / "python")


def assets_dir() -> Path:
    """The USD assets folder: ``$LMRL_ISAACLAB_ASSETS`` or ``<venv>/lmrl-assets``."""
    return Path(os.environ.get("LMRL_ISAACLAB_ASSETS") or isaaclab_venv() / "lmrl-assets")


def check_available(robot: str | None = None) -> None:
    """Check that the Isaac Lab interpreter and (for ``robot``) its USD assets exist.

    Raises:
        IsaacLabUnavailableError: naming what is missing and the command that makes it.
    """
    py = isaaclab_python()
    fix = "Run `bash scripts/setup_isaaclab.sh` (a few minutes; it builds .venv-isaaclab and the USD assets)"
    if not py.is_file():
        raise IsaacLabUnavailableError(
            f"The Isaac Lab environment is missing: no interpreter at {py}. {fix}, or set LMRL_ISAACLAB_PYTHON."
        )
    stamp = isaaclab_venv() / INSTALLED_STAMP
    if not os.environ.get("LMRL_ISAACLAB_PYTHON") and not stamp.is_file():
        raise IsaacLabUnavailableError(
            f"The Isaac Lab environment {isaaclab_venv()} is incomplete (no {stamp.name}). {fix}."
        )
    if robot is not None and not (assets_dir() / robot / "robot.usdc").is_file():
        raise IsaacLabUnavailableError(f"No Isaac Lab USD asset for robot {robot!r} in {assets_dir()}. {fix}.")


def make_request(
    run: RunDir, cfg: TrainConfig, *, resume: bool, warm_start: Path | None, device: str, files: dict[str, Path]
) -> WorkerRequest:
    """The worker's request for ``run``: settings, observation layout and network from the core config.

    Raises:
        ConfigError: ``env.action_joints`` other than ``all``, ``env.gait_clock`` or ``ppo.symmetry`` (the
            MuJoCo backend's options, not built in the Isaac Lab task).
    """
    from lm_reward_learning.envs.mujoco_env import observation_layout
    from lm_reward_learning.errors import ConfigError
    from lm_reward_learning.robots import get_robot, load_model

    if cfg.env.action_joints != "all" or cfg.env.gait_clock or cfg.ppo.symmetry:
        raise ConfigError(
            f"the isaaclab backend acts on every joint without a gait clock or symmetry augmentation; this config "
            f"has env.action_joints {cfg.env.action_joints!r}, env.gait_clock {cfg.env.gait_clock} and ppo.symmetry "
            f"{cfg.ppo.symmetry}. Train with --backend mujoco, or pass a config with env.action_joints: all, "
            "env.gait_clock: false and ppo.symmetry: false (for the G1: --config config/train/g1_isaaclab.yaml)."
        )
    robot = run.meta()["robot"]
    spec = get_robot(robot)
    layout = {g: [dataclasses.asdict(t) for t in terms] for g, terms in observation_layout(spec).items()}
    return WorkerRequest(
        run_dir=str(run.path.resolve()),
        robot=robot,
        iterations=int(cfg.iterations),
        seed=int(cfg.seed),
        torch_threads=int(cfg.torch_threads),
        resume=bool(resume),
        warm_start=str(Path(warm_start).resolve()) if warm_start is not None else None,
        device=device,
        env=to_dict(cfg.env),
        randomization=to_dict(cfg.randomization),
        train_cfg=cfg.ppo.to_rsl_rl(),
        observation_layout=layout,
        physics_dt=float(load_model(spec).opt.timestep),
        assets_dir=str(assets_dir().resolve()),
        progress_file=str(files["progress"]),
        result_file=str(files["result"]),
        cancel_file=str(files["cancel"]),
    )


def warp_cache_dir() -> Path:
    """Warp's kernel cache root: ``$WARP_CACHE_PATH`` or ``$XDG_CACHE_HOME/warp`` (default ``~/.cache/warp``)."""
    if os.environ.get("WARP_CACHE_PATH"):
        return Path(os.environ["WARP_CACHE_PATH"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "warp"


def train_isaaclab(
    run: RunDir,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    warm_start: Path | None = None,
    progress: bool = True,
    on_iteration: IterationCallback | None = None,
    device: str = "cpu",
    timeout_s: float | None = None,
    stall_timeout_s: float = 900.0,
    cancel: threading.Event | CancelCheck | None = None,
    cancel_grace_s: float = 30.0,
) -> RunDir:
    """Train (or resume) the run's reward program with PPO in Isaac Lab; see the module docstring.

    The worker runs in the reward sandbox (:mod:`lm_reward_learning.isolation`): scrubbed
    environment, writes only in the run directory and Warp's kernel cache, dies with this process,
    and seals itself (memory limit, seccomp) before it compiles the reward program.

    Args:
        run: A run directory made by :func:`~lm_reward_learning.training.trainer.prepare_run`.
        cfg: The training configuration (``cfg.iterations`` is the run's total).
        resume: Continue from ``checkpoints/latest.pt``.
        warm_start: Initialise the policy weights from this checkpoint (either backend's).
        progress: Show a tqdm progress bar on stderr.
        on_iteration: Called as ``on_iteration(it, record)`` after each iteration's record is saved;
            an exception it raises stops the worker (cancel, then terminate) and propagates.
        device: Isaac Lab simulation and agent device: ``cpu`` (Warp's CPU device) or ``cuda:0``.
        timeout_s: Stop the worker after this many seconds in all (None: no limit).
        stall_timeout_s: Stop the worker when it reports nothing for this long, s (a cold Warp
            kernel cache costs a few minutes at the first start).
        cancel: An event (or a callable returning True) that asks the worker to stop after its
            current iteration.
        cancel_grace_s: After a cancel, wait this long for the worker to stop before terminating it, s.

    Returns:
        ``run``, with ``run.yaml`` status ``done``.

    Raises:
        IsaacLabUnavailableError: no Isaac Lab environment or USD asset (``scripts/setup_isaaclab.sh``).
        CheckpointError: the resume or warm-start checkpoint cannot be loaded.
        RewardRuntimeError: the reward program failed during training.
        IsaacLabCancelledError: cancelled through ``cancel`` (checkpoints are kept).
        IsaacLabTimeoutError: a timeout stopped the worker.
        IsaacLabWorkerError: the worker failed or died; the message has the reason and its log.
    """
    from lm_reward_learning.training.trainer import reward_call_limits

    meta = run.meta()
    check_available(meta["robot"])
    files = WorkerFiles(run.path / "isaaclab")
    files.reset()
    req_files = {"progress": files.progress, "result": files.result, "cancel": files.cancel}
    request = make_request(run, cfg, resume=resume, warm_start=warm_start, device=device, files=req_files)
    call_s, hard_s = reward_call_limits(run, cfg)
    request = dataclasses.replace(
        request, call_timeout_s=call_s, hard_timeout_s=hard_s, memory_mb=cfg.sandbox.memory_mb
    )
    request.write(files.request)
    src_dir = Path(__file__).resolve().parents[2]
    # a source checkout: the worker runs exactly this code; else the package installed in Isaac Lab's
    # venv by the setup script (site-packages of this venv must not leak into that one)
    pythonpath = [src_dir] if src_dir.name == "src" else []
    cache = warp_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    policy = isolation.SandboxPolicy.for_paths(
        [run.path, cache],
        [p for p in (assets_dir(), warm_start, isaaclab_venv()) if p is not None],
        cpu_time_s=1800 + cfg.iterations * cfg.sandbox.cpu_time_s_per_iteration,
        report_file=files.sandbox_report,
    )
    cmd, env = isolation.sandboxed_command(
        WORKER_MODULE,
        ["--request", str(files.request)],
        policy,
        python=isaaclab_python(),
        pythonpath=pythonpath,
        tmp_dir=files.dir / "tmp",
    )
    start = max(0, int(meta.get("iterations_done", 0))) if resume else 0
    run_worker(
        cmd, env, files, run, total=cfg.iterations, start=start, desc=f"train {meta['robot']} (isaaclab)",
        progress=progress, on_iteration=on_iteration, timeout_s=timeout_s, stall_timeout_s=stall_timeout_s,
        cancel=cancel, cancel_grace_s=cancel_grace_s, errors=ISAACLAB_ERRORS, hard_timeout_s=hard_s,
    )  # fmt: skip
    return run
