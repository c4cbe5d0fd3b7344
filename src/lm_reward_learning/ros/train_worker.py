"""The training worker process of ``trainer_node`` (ROS-free).

``trainer_node`` never trains in its own process: it checks a goal with :func:`make_job` (cheap checks
that name the problem: unknown robot, missing reward file, bad config or budget), then starts
:func:`worker_main` in a ``multiprocessing`` *spawn* process and talks to it over one duplex
``Connection``. The worker runs the core (:func:`~lm_reward_learning.training.trainer.prepare_run`,
:func:`~lm_reward_learning.training.trainer.train`, then
:func:`~lm_reward_learning.rollout.rollout` with ``on_step``) and sends tagged tuples:

* ``("phase", name)``: ``"validating"``, ``"training"`` or ``"rollout"`` starts;
* ``("run_dir", path)``: the run directory was created;
* ``("iteration", it, total, record)``: one PPO iteration done (its ``reward_stats.json`` record);
* ``("rollout", info)``: the rollout starts; ``dt`` (s), ``joint_names``, ``base_body``, ``steps``,
  ``bodies`` (``[(name, parent name or "" for the world)]``);
* ``("step", step, frame, sample)``: one policy step; uint8 ``(H, W, 3)`` frame and a :class:`Sample`;
* ``("done", summary)``: finished (:func:`_summary` lists the keys);
* ``("cancelled",)``: stopped on request;
* ``("error", kind, message)``: failed; ``kind`` is the exception's class name.

The node sends ``"stop"`` to cancel; the worker checks for it after every PPO iteration and rollout
step and exits cleanly (checkpoints are written atomically, so a stop never leaves a torn file).
Nothing is read from stdout.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.rotations import quat_conjugate, quat_mul, quat_rotate

log = logging.getLogger(__name__)

STOP = "stop"
"""Message the node sends to ask the worker to stop."""


class CancelledError(Exception):
    """Raised inside the worker when the node asked it to stop."""


@dataclass(frozen=True)
class TrainJob:
    """Everything the worker needs for one ``train_policy`` goal (picklable; checked by :func:`make_job`).

    Attributes:
        robot: Robot name.
        program_source: Reward program source text.
        program_name: Its short name.
        program_origin: Its provenance (``default:go2``, ``file:...``, ``ros:<topic or client>``).
        config_overrides: Dotted overrides for :func:`~lm_reward_learning.config.load_train_config`.
        train_config: Training YAML, or None for ``config/train/<robot>.yaml``.
        runs_dir: Root of the run directories.
        run_name: Suffix of the run directory name, or None.
        run_dir: Train into exactly this directory (created), or None for a new one under ``runs_dir``.
        resume: ``run_dir`` holds a run to continue (its config and program; ``iterations`` the new total).
        warm_start: Checkpoint to initialise the policy weights from, or None.
        rollout_duration_s: Rollout length, s.
        command: Rollout velocity command ``(v_x m/s, v_y m/s, yaw_rate rad/s)``.
        view: Camera side (``side``, ``three_quarter``, ``front``, ``back``).
        width: Frame width, pixels.
        height: Frame height, pixels.
    """

    robot: str
    program_source: str
    program_name: str
    program_origin: str
    config_overrides: dict[str, Any]
    train_config: str | None
    runs_dir: str
    run_name: str | None
    run_dir: str | None
    resume: bool
    warm_start: str | None
    rollout_duration_s: float
    command: tuple[float, float, float]
    view: str
    width: int
    height: int


@dataclass(frozen=True)
class Sample:
    """Robot state at one rollout step (one env), for ``joint_states`` and TF.

    Attributes:
        joint_pos: Joint angles, rad, robot joint order. Shape ``(J,)``.
        joint_vel: Joint velocities, rad/s. Shape ``(J,)``.
        joint_effort: Actuator torques, N·m. Shape ``(J,)``.
        base_pos_w: Base position in the world (``odom``) frame, m. Shape ``(3,)``.
        base_quat_w: Base orientation, quaternion (w, x, y, z). Shape ``(4,)``.
        body_pos: Position of every body except the world in its parent body's frame, m (the base:
            in the world frame), in the order of the ``rollout`` report's ``bodies``. Shape ``(B, 3)``.
        body_quat: Orientation of every body relative to its parent, quaternion (w, x, y, z).
            Shape ``(B, 4)``.
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    joint_effort: np.ndarray
    base_pos_w: np.ndarray
    base_quat_w: np.ndarray
    body_pos: np.ndarray | None = None
    body_quat: np.ndarray | None = None


def relative_poses(xpos: np.ndarray, xquat: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poses of bodies 1..B relative to their parents, from world poses (MuJoCo ``data.xpos/xquat``).

    Args:
        xpos: World positions of all bodies, body 0 the world. Shape ``(B + 1, 3)``, m.
        xquat: World orientations (w, x, y, z). Shape ``(B + 1, 4)``.
        parent: Parent body index of each body (``model.body_parentid``). Shape ``(B + 1,)``.

    Returns:
        ``(pos, quat)`` of bodies 1..B in their parent's frame: shapes ``(B, 3)`` and ``(B, 4)``
        (w, x, y, z; ``w >= 0``).
    """
    p = parent[1:]
    qp = xquat[p]
    conj = quat_conjugate(qp)
    pos = quat_rotate(conj, xpos[1:] - xpos[p])
    quat = quat_mul(conj, xquat[1:])
    quat *= np.where(quat[:, :1] < 0, -1.0, 1.0)
    return pos, quat


def make_job(
    *,
    robot: str,
    program_source: str = "",
    program_name: str = "",
    program_origin: str = "",
    reward_path: str = "",
    iterations: int = 0,
    num_envs: int = 0,
    train_config: str = "",
    runs_dir: str = "runs",
    run_name: str = "",
    run_dir: str = "",
    warm_start: str = "",
    rollout_duration_s: float = 5.0,
    command: tuple[float, float, float] = (0.8, 0.0, 0.0),
    view: str = "side",
    width: int = 320,
    height: int = 240,
    seed: int | None = None,
    backend: str = "",
    device: str = "",
) -> TrainJob:
    """Check a goal cheaply (no simulation) and turn it into a :class:`TrainJob`.

    The reward program is ``program_source`` if not empty, else the file ``reward_path`` if not
    empty, else the robot's bundled default. ``0`` / empty strings mean "the default"; ``seed`` None
    means the training config's seed.

    Raises:
        LmrlError: (a subclass) naming what is wrong and what to do: unknown robot, missing or
            unreadable reward file, missing warm-start checkpoint, bad training config, a
            non-positive budget or rollout length, an unknown camera view, a ``run_dir`` that exists
            but is not a resumable run of this robot and program.
    """
    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.reward.program import RewardProgram, default_program
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.rollout import CAMERA_VIEWS

    get_robot(robot)  # UnknownRobotError lists the known robots
    if program_source.strip():
        program = RewardProgram(source=program_source, name=program_name or "goal_program", origin=program_origin)
    elif reward_path:
        program = RewardProgram.from_file(reward_path)
    else:
        program = default_program(robot)
    resume = bool(run_dir) and Path(run_dir).exists()
    if resume:
        _check_resumable(Path(run_dir), robot, program_source)
    if iterations < 0 or num_envs < 0:
        raise LmrlError(f"iterations ({iterations}) and num_envs ({num_envs}) must be >= 0 (0: the config's value)")
    overrides: dict[str, Any] = {
        "iterations": iterations or None,
        "env.num_envs": num_envs or None,
        "backend": backend or None,  # "": the training config's (mujoco); "isaaclab" runs Isaac Lab's worker
        "device": device or None,
    }
    if seed is not None:
        overrides["seed"] = int(seed)
    load_train_config(robot, Path(train_config) if train_config else None, **overrides)  # raises ConfigError
    if warm_start and not Path(warm_start).is_file():
        raise LmrlError(f"warm-start checkpoint {warm_start} does not exist; give a checkpoints/*.pt file or none")
    if not (math.isfinite(rollout_duration_s) and rollout_duration_s > 0):
        raise LmrlError(f"rollout duration must be a positive number of seconds, got {rollout_duration_s}")
    if len(command) != 3 or not all(math.isfinite(c) for c in command):
        raise LmrlError(f"rollout command must be 3 finite numbers [v_x m/s, v_y m/s, yaw rad/s], got {list(command)}")
    if view not in CAMERA_VIEWS:
        raise LmrlError(f"unknown camera view {view!r}; choose one of {sorted(CAMERA_VIEWS)}")
    if width < 16 or height < 16:
        raise LmrlError(f"image size {width}x{height} is too small; use at least 16x16 pixels")
    return TrainJob(
        robot=robot,
        program_source=program.source,
        program_name=program.name,
        program_origin=program.origin,
        config_overrides=overrides,
        train_config=train_config or None,
        runs_dir=runs_dir,
        run_name=run_name or None,
        run_dir=str(Path(run_dir).resolve()) if run_dir else None,
        resume=resume,
        warm_start=warm_start or None,
        rollout_duration_s=float(rollout_duration_s),
        command=tuple(float(c) for c in command),  # type: ignore[arg-type]
        view=view,
        width=int(width),
        height=int(height),
    )


def _check_resumable(path: Path, robot: str, program_source: str) -> None:
    """Refuse a ``run_dir`` that exists but cannot be resumed by this goal (never overwrite a run)."""
    import hashlib

    from lm_reward_learning.training.run_dir import RunDir

    run = RunDir.open(path)  # RunDirError: not a run directory
    meta = run.meta()
    if meta["robot"] != robot:
        raise LmrlError(f"run directory {path} is a {meta['robot']} run, not {robot}; choose another run_dir")
    if not (run.checkpoints / "latest.pt").is_file():
        raise LmrlError(
            f"run directory {path} exists but has no checkpoint to resume (status {meta.get('status')!r}); "
            "remove it or choose another run_dir"
        )
    if program_source.strip() and hashlib.sha256(program_source.encode()).hexdigest() != meta.get("reward_sha256"):
        raise LmrlError(
            f"run directory {path} was trained with another reward program; leave the goal's program empty "
            "to resume it, or choose another run_dir"
        )


class _Channel:
    """The worker's end of the pipe: send reports, notice a stop request."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, *msg: Any) -> None:
        self.conn.send(msg)

    def check_stop(self) -> None:
        while self.conn.poll():
            if self.conn.recv() == STOP:
                raise CancelledError


def worker_main(job: TrainJob, conn: Connection) -> None:
    """Entry point of the worker process: run ``job`` and report over ``conn`` (never raises).

    Every outcome ends with exactly one of ``done``, ``cancelled`` or ``error``.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s [worker]: %(message)s")
    ch = _Channel(conn)
    try:
        ch.send("done", _run(job, ch))
    except CancelledError:
        ch.send("cancelled")
    except LmrlError as exc:
        ch.send("error", type(exc).__name__, str(exc))
    except Exception as exc:  # a bug or a simulator failure: report it instead of dying silently
        log.exception("training worker failed")
        ch.send("error", type(exc).__name__, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _run(job: TrainJob, ch: _Channel) -> dict[str, Any]:
    import mujoco
    import yaml

    from lm_reward_learning.config import TrainConfig, from_dict, load_train_config
    from lm_reward_learning.export import load_policy
    from lm_reward_learning.reward.program import RewardProgram
    from lm_reward_learning.rollout import rollout
    from lm_reward_learning.training.run_dir import RunDir
    from lm_reward_learning.training.trainer import prepare_run, train

    if job.resume:
        run = RunDir.open(Path(job.run_dir))
        cfg = from_dict(TrainConfig, yaml.safe_load((run.path / "config.yaml").read_text()), "config.yaml")
        if job.config_overrides.get("iterations"):
            cfg = dataclasses.replace(cfg, iterations=job.config_overrides["iterations"])
    else:
        cfg = load_train_config(job.robot, Path(job.train_config) if job.train_config else None, **job.config_overrides)
        program = RewardProgram(source=job.program_source, name=job.program_name, origin=job.program_origin)
        ch.send("phase", "validating")
        run_path = Path(job.run_dir) if job.run_dir else None
        run = prepare_run(job.robot, program, cfg, Path(job.runs_dir), job.run_name, run_path=run_path)
    ch.send("run_dir", str(run.path.resolve()))
    ch.check_stop()

    ch.send("phase", "training")

    def on_iteration(it: int, rec: dict[str, Any]) -> None:
        ch.send("iteration", it, cfg.iterations, rec)
        ch.check_stop()

    try:
        train(
            run,
            cfg,
            resume=job.resume,
            progress=False,
            warm_start=Path(job.warm_start) if job.warm_start and not job.resume else None,
            on_iteration=on_iteration,
        )
    except CancelledError:
        run.write_meta(status="cancelled")
        raise

    ch.send("phase", "rollout")
    policy, spec, _, env = load_policy(run)
    steps = round(job.rollout_duration_s / env.dt)
    model = env.model
    bodies = [
        (model.body(i).name, model.body(int(model.body_parentid[i])).name if model.body_parentid[i] else "")
        for i in range(1, model.nbody)
    ]
    ch.send(
        "rollout",
        {
            "dt": env.dt,
            "joint_names": list(spec.joint_names),
            "base_body": spec.base_body,
            "steps": steps,
            "bodies": bodies,
        },
    )
    data = mujoco.MjData(model)

    def on_step(step: int, frame: np.ndarray | None, state: Any) -> None:
        env.batch.get_data(0, data)
        mujoco.mj_kinematics(model, data)
        body_pos, body_quat = relative_poses(data.xpos, data.xquat, model.body_parentid)
        sample = Sample(
            joint_pos=state.joint_pos[0].numpy().astype(np.float64),
            joint_vel=state.joint_vel[0].numpy().astype(np.float64),
            joint_effort=state.joint_torques[0].numpy().astype(np.float64),
            base_pos_w=state.base_pos_w[0].numpy().astype(np.float64),
            base_quat_w=state.base_quat_w[0].numpy().astype(np.float64),
            body_pos=body_pos,
            body_quat=body_quat,
        )
        ch.send("step", step, frame, sample)
        ch.check_stop()

    video = run.videos / f"rollout_{job.view}.mp4"
    arrays = run.videos / f"rollout_{job.view}.npz"
    res = rollout(
        policy,
        env,
        duration_s=job.rollout_duration_s,
        command=job.command,
        video=video,
        arrays=arrays,
        view=job.view,
        width=job.width,
        height=job.height,
        on_step=on_step,
    )
    return _summary(run, res, arrays)


def _summary(run: Any, res: Any, arrays: Path) -> dict[str, Any]:
    """The ``done`` payload: run paths, rollout result, last iteration's statistics, gait features.

    Keys: ``run_dir``, ``checkpoint``, ``rollout_video``, ``rollout`` (``duration_s``,
    ``mean_forward_speed``, ``distance_m``, ``fell``), ``robot``, ``iterations_done``, ``last``
    (the last ``reward_stats.json`` record or ``{}``), ``gait_features`` (``{name: (value, unit)}``).
    """
    stats = run.reward_stats()
    meta = run.meta()
    return {
        "run_dir": str(run.path.resolve()),
        "checkpoint": str(run.latest_checkpoint().resolve()),
        "rollout_video": str(res.video_path.resolve()) if res.video_path else "",
        "rollout": {k: v for k, v in dataclasses.asdict(res).items() if k not in ("video_path", "arrays_path")},
        "robot": meta["robot"],
        "iterations_done": int(meta.get("iterations_done", 0)),
        "last": stats[-1] if stats else {},
        "gait_features": gait_features(arrays),
    }


_UNITS = {"_hz": "Hz", "_mps": "m/s", "_m": "m", "_s": "s", "_rad": "rad"}


def gait_features(arrays: Path) -> dict[str, tuple[float, str]]:
    """Scalar gait features of a recorded rollout, ``{name: (value, unit)}``; ``{}`` if unmeasurable.

    A rollout too short for two strides, or a core without the gait helpers, gives ``{}`` (logged),
    never an error: the report then simply has no gait features.
    """
    try:
        from lm_reward_learning.gait.features import compute_features
        from lm_reward_learning.rollout import load_rollout_trajectory

        feats = compute_features(load_rollout_trajectory(arrays)).to_dict()
    except (ImportError, LmrlError, ValueError, OSError) as exc:
        log.info("no gait features for %s: %s", arrays, exc)
        return {}
    out = {}
    for name, value in feats.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            unit = next((u for suffix, u in _UNITS.items() if name.endswith(suffix)), "1")
            out[name] = (float(value), unit)
    return out
