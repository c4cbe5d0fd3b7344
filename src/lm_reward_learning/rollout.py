"""Roll a trained policy out in one simulation, record its states, and render an MP4.

``lmrl play --run RUN`` uses :func:`play`: a fixed velocity command, a tracking camera (side or
three-quarter view; expert videos are often side views), offscreen rendering with ``MUJOCO_GL=egl``
(falling back to ``osmesa``), video written through imageio-ffmpeg. The recorded arrays
(``rollout.npz``) hold what the gait features need (base pose and velocity, foot positions and
contacts, joint positions, torques and velocities, and ``joint_names``, the policy joint order of their
columns).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm_reward_learning.gl import select_gl_backend
from lm_reward_learning.io import atomic_write_bytes

__all__ = ["CAMERA_VIEWS", "RolloutResult", "load_rollout_trajectory", "rollout", "select_gl_backend"]

log = logging.getLogger(__name__)

CAMERA_VIEWS = {"side": 90.0, "three_quarter": 135.0, "front": 180.0, "back": 0.0}
"""Camera azimuths, degrees, relative to the robot's initial heading (MuJoCo's ``mjvCamera``)."""


@dataclass(frozen=True)
class RolloutResult:
    """Summary of one rollout.

    Attributes:
        duration_s: Simulated time, s.
        mean_forward_speed: Mean base speed along the initial heading, m/s (world x at yaw 0).
        distance_m: Base displacement in the horizontal plane, m.
        fell: Whether the episode ended by a fall or blow-up before ``duration_s``.
        video_path: The MP4, or None when rendering was off.
        arrays_path: The ``.npz`` with the recorded trajectory, or None.
    """

    duration_s: float
    mean_forward_speed: float
    distance_m: float
    fell: bool
    video_path: Path | None
    arrays_path: Path | None


def rollout(
    policy: torch.nn.Module,
    env,
    *,
    duration_s: float = 10.0,
    command: tuple[float, float, float] = (0.8, 0.0, 0.0),
    video: Path | None = None,
    arrays: Path | None = None,
    view: str = "side",
    width: int = 320,
    height: int = 240,
    camera_distance: float | None = None,
    on_step: Callable[[int, np.ndarray | None, Any], None] | None = None,
) -> RolloutResult:
    """Run ``policy`` deterministically in a one-env :class:`MujocoVecEnv` and record it.

    Args:
        policy: rsl-rl actor (``MLPModel``); its deterministic output is used.
        env: A :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` with ``num_envs == 1``.
        duration_s: Length, s.
        command: ``(v_x m/s, v_y m/s, yaw_rate rad/s)`` held for the whole rollout.
        video: MP4 path to render to, or None.
        arrays: ``.npz`` path for the recorded trajectory, or None.
        view: Camera side, a key of :data:`CAMERA_VIEWS`.
        width, height: Video size, pixels.
        camera_distance: Camera distance, m; default 4 × the robot's leg length + 1.
        on_step: Called after every policy step as ``on_step(step, frame, state)`` with the rendered
            frame (uint8 ``(height, width, 3)``, or None without video) and the env's
            :class:`~lm_reward_learning.reward.state.RewardState` (one env); e.g. to publish ROS topics.

    Raises:
        ValueError: if ``env.num_envs != 1`` or ``view`` is unknown.
    """
    import mujoco

    if env.num_envs != 1:
        raise ValueError(f"rollout() needs a one-env MujocoVecEnv, got num_envs={env.num_envs}.")
    if view not in CAMERA_VIEWS:
        raise ValueError(f"Unknown camera view {view!r}; choose one of {sorted(CAMERA_VIEWS)}.")
    spec = env.spec
    steps = round(duration_s / env.dt)
    # Start facing world +x so that the side camera sees the robot from its left.
    obs = env.start_rollout(command, yaw=0.0, duration_s=duration_s)

    renderer = writer = cam = None
    if video is not None:
        select_gl_backend()
        import imageio.v2 as imageio

        model = env.model
        model.vis.quality.offsamples = 0
        renderer = mujoco.Renderer(model, height=height, width=width)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        cam.trackbodyid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        cam.distance = camera_distance or (4.0 * spec.leg_length + 1.0)
        cam.azimuth = CAMERA_VIEWS[view]
        cam.elevation = -10.0
        Path(video).parent.mkdir(parents=True, exist_ok=True)
        tmp_video = Path(video).with_suffix(".partial.mp4")
        writer = imageio.get_writer(tmp_video, fps=round(1.0 / env.dt), codec="libx264", macro_block_size=8)
        data = mujoco.MjData(model)

    rec: dict[str, list[np.ndarray]] = {k: [] for k in _RECORDED}
    fell = False
    with torch.no_grad():
        for _ in range(steps):
            actions = policy(obs)
            obs, _, dones, extras = env.step(actions)
            s = env.last_state
            for k in _RECORDED:
                rec[k].append(getattr(s, k)[0].numpy().copy())
            frame = None
            if renderer is not None:
                env.batch.get_data(0, data)
                mujoco.mj_forward(env.model, data)
                renderer.update_scene(data, camera=cam)
                frame = renderer.render()
                writer.append_data(frame)
            if on_step is not None:
                on_step(len(rec["base_pos_w"]) - 1, frame, s)
            if bool(dones[0]) and not bool(extras["time_outs"][0]):
                fell = True
                break
    if writer is not None:
        writer.close()
        os.replace(tmp_video, video)
        renderer.close()
    arr = {k: np.stack(v) for k, v in rec.items()}
    pos = arr["base_pos_w"]
    t = len(pos) * env.dt
    dist = float(np.linalg.norm(pos[-1, :2] - pos[0, :2])) if len(pos) > 1 else 0.0
    speed = float(arr["base_lin_vel_w"][:, 0].mean()) if len(pos) else 0.0
    if arrays is not None:
        import io

        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            dt=env.dt,
            foot_names=np.array(spec.foot_sites),
            joint_names=np.array(spec.joint_names),
            leg_length=spec.leg_length,
            mass_kg=float(env.model.body_mass.sum()),
            fell=fell,
            requested_duration_s=duration_s,
            **arr,
        )
        atomic_write_bytes(Path(arrays), buf.getvalue())
    return RolloutResult(t, speed, dist, fell, Path(video) if video else None, Path(arrays) if arrays else None)


_RECORDED = (
    "base_pos_w",
    "base_quat_w",
    "base_lin_vel_w",
    "base_ang_vel_b",
    "joint_pos",
    "joint_vel",
    "joint_torques",
    "foot_pos_w",
    "foot_contact",
    "foot_contact_force",
)


def load_rollout_trajectory(path: Path):
    """Read a ``rollout.npz`` written by :func:`rollout` as a :class:`~lm_reward_learning.gait.GaitTrajectory`.

    Raises:
        lm_reward_learning.gait.GaitInputError: if the arrays are malformed or too short.
        FileNotFoundError: if ``path`` does not exist.
    """
    from lm_reward_learning.gait import GaitTrajectory

    with np.load(path) as d:
        return GaitTrajectory(
            dt=float(d["dt"]),
            base_pos_w=d["base_pos_w"].astype(np.float64),
            base_quat_w=d["base_quat_w"].astype(np.float64),
            base_lin_vel_w=d["base_lin_vel_w"].astype(np.float64),
            foot_pos_w=d["foot_pos_w"].astype(np.float64),
            foot_contact=d["foot_contact"].astype(bool),
            leg_length=float(d["leg_length"]),
            joint_torques=d["joint_torques"].astype(np.float64),
            joint_vel=d["joint_vel"].astype(np.float64),
            mass_kg=float(d["mass_kg"]) if "mass_kg" in d else None,
            name=Path(path).stem,
        )
