"""Reference gaits from a user's file: a DeepMimic motion, or foot contacts with a base trajectory.

``--reference FILE`` (``lmrl evaluate``, ``compare``, ``learn``) accepts:

* **DeepMimic motion** (``.txt`` or ``.json``, the format of :mod:`lm_reward_learning.gait.reference`)
  of the dog or the humanoid character shipped with the package; the character is recognised by the
  frame width (dog: 78 numbers per frame, humanoid: 44). Contacts, feet and leg length are derived as
  for the bundled clips.
* **NPZ** (``numpy.savez``) with the arrays

  ===================  ===========  ===========================================================
  ``dt``               scalar       sample period, s
  ``foot_contact``     ``(T, F)``   bool or 0/1; F = 4 (FL, FR, RL, RR) or 2 (left, right)
  ``base_pos_w``       ``(T, 3)``   base position, m, world frame, z up, floor at z = 0
  ``leg_length_m``     scalar       hip height when standing, m (the Froude number's length)
  ``base_quat_w``      ``(T, 4)``   optional: (w, x, y, z), base → world; default facing +x
  ``base_lin_vel_w``   ``(T, 3)``   optional: m/s; default central differences of ``base_pos_w``
  ``foot_names``       ``(F,)``     optional: strings; default FL, FR, RL, RR / left, right
  ``body_length_m``    scalar       optional: shoulder-to-hip distance, m
  ``mass_kg``          scalar       optional: total mass, kg
  ===================  ===========  ===========================================================

* **CSV** with a header row: ``time_s``, ``base_x``, ``base_y``, ``base_z`` (m), optionally ``qw``,
  ``qx``, ``qy``, ``qz``, one ``contact_<foot>`` column per foot (0/1, in foot order: FL, FR, RL, RR or
  left, right) and ``leg_length_m`` (the same value on every row). Times must be evenly spaced.

A file that does not match names the missing or malformed field.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lm_reward_learning.gait.trajectory import GaitInputError, GaitTrajectory, default_foot_names

#: File suffixes :func:`load_reference_file` reads.
REFERENCE_FILE_SUFFIXES: tuple[str, ...] = (".txt", ".json", ".npz", ".csv")


def load_reference_file(path: Path) -> GaitTrajectory:
    """Read a reference gait from ``path`` (formats in the module docstring).

    Raises:
        GaitInputError: unreadable, an unknown suffix, or a missing or malformed field (the message
            names it).
        lm_reward_learning.gait.ReferenceMotionError: a DeepMimic file of neither shipped character.
    """
    path = Path(path)
    if not path.is_file():
        raise GaitInputError(f"reference file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".json"):
        return _deepmimic(path)
    if suffix == ".npz":
        return _npz(path)
    if suffix == ".csv":
        return _csv(path)
    raise GaitInputError(
        f"reference file {path} has an unknown type; use a DeepMimic motion (.txt/.json), .npz or .csv "
        "(fields: lm_reward_learning.gait.reference_file)"
    )


def _deepmimic(path: Path) -> GaitTrajectory:
    from lm_reward_learning.gait.reference import (
        DEEPMIMIC_DIR,
        REFERENCES,
        ReferenceClip,
        ReferenceMotionError,
        load_deepmimic,
        load_skeleton,
    )

    width = _json_frames(path)
    known = []
    for template in ("dog_trot", "human_walk"):
        clip = REFERENCES[template]
        dofs = load_skeleton(DEEPMIMIC_DIR / clip.character).num_dof
        known.append(f"{clip.character}: {dofs}")
        if width == dofs:
            fields = {k: getattr(clip, k) for k in ("character", "feet", "hips", "trunk_top")}
            user_clip = ReferenceClip(motion=path.name, expected_gait="", **fields)
            return load_deepmimic(user_clip, directory=path.parent, character_dir=DEEPMIMIC_DIR, name=path.stem)
    raise ReferenceMotionError(
        f"{path.name}: frames of {width} numbers match neither shipped DeepMimic character "
        f"({'; '.join(known)} numbers per frame); give an .npz or .csv reference instead"
    )


def _json_frames(path: Path) -> int:
    import json

    from lm_reward_learning.gait.reference import ReferenceMotionError

    try:
        frames = json.loads(path.read_text())["Frames"]
        return len(frames[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ReferenceMotionError(f"{path.name} is not a DeepMimic motion (JSON with a Frames list): {exc}") from exc


def _npz(path: Path) -> GaitTrajectory:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise GaitInputError(f"cannot read reference {path}: {exc}") from exc
    missing = [k for k in ("dt", "foot_contact", "base_pos_w", "leg_length_m") if k not in arrays]
    if missing:
        raise GaitInputError(f"reference {path.name} lacks {missing}; see lm_reward_learning.gait.reference_file")
    names = tuple(str(n) for n in arrays["foot_names"]) if "foot_names" in arrays else None
    return _trajectory(
        path,
        dt=float(arrays["dt"]),
        contact=arrays["foot_contact"],
        base_pos=arrays["base_pos_w"],
        leg_length=float(arrays["leg_length_m"]),
        quat=arrays.get("base_quat_w"),
        vel=arrays.get("base_lin_vel_w"),
        names=names,
        body_length=float(arrays["body_length_m"]) if "body_length_m" in arrays else None,
        mass=float(arrays["mass_kg"]) if "mass_kg" in arrays else None,
    )


def _csv(path: Path) -> GaitTrajectory:
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise GaitInputError(f"cannot read reference {path}: {exc}") from exc
    if not rows:
        raise GaitInputError(f"reference {path.name} has no rows")
    columns = list(rows[0])
    feet = [c for c in columns if c.startswith("contact_")]
    missing = [c for c in ("time_s", "base_x", "base_y", "base_z", "leg_length_m") if c not in columns]
    if missing or not feet:
        raise GaitInputError(
            f"reference {path.name} lacks columns {missing or ['contact_<foot>']}; see "
            "lm_reward_learning.gait.reference_file"
        )

    def col(name: str) -> np.ndarray:
        try:
            return np.array([float(r[name]) for r in rows])
        except (TypeError, ValueError) as exc:
            raise GaitInputError(f"reference {path.name}: column {name!r} holds a non-number ({exc})") from exc

    t = col("time_s")
    steps = np.diff(t)
    if t.size < 2 or not (steps > 0).all() or not np.allclose(steps, steps.mean(), rtol=1e-3):
        raise GaitInputError(f"reference {path.name}: time_s must increase in even steps")
    quat = np.stack([col(c) for c in ("qw", "qx", "qy", "qz")], axis=1) if "qw" in columns else None
    return _trajectory(
        path,
        dt=float(steps.mean()),
        contact=np.stack([col(c) for c in feet], axis=1) > 0.5,
        base_pos=np.stack([col(c) for c in ("base_x", "base_y", "base_z")], axis=1),
        leg_length=float(col("leg_length_m")[0]),
        quat=quat,
        vel=None,
        names=tuple(c.removeprefix("contact_") for c in feet),
        body_length=None,
        mass=None,
    )


def _trajectory(
    path: Path,
    *,
    dt: float,
    contact: np.ndarray,
    base_pos: np.ndarray,
    leg_length: float,
    quat: np.ndarray | None,
    vel: np.ndarray | None,
    names: tuple[str, ...] | None,
    body_length: float | None,
    mass: float | None,
) -> GaitTrajectory:
    contact = np.asarray(contact)
    base_pos = np.asarray(base_pos, dtype=float)
    if contact.ndim != 2 or base_pos.shape != (contact.shape[0], 3):
        raise GaitInputError(
            f"reference {path.name}: foot_contact must be (T, F) and base_pos_w (T, 3); got {contact.shape} "
            f"and {base_pos.shape}"
        )
    n, f = contact.shape
    if quat is None:
        quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    if vel is None:
        vel = np.gradient(base_pos, dt, axis=0)
    return GaitTrajectory(
        dt=dt,
        base_pos_w=base_pos,
        base_quat_w=np.asarray(quat, dtype=float),
        base_lin_vel_w=np.asarray(vel, dtype=float),
        foot_pos_w=np.zeros((n, f, 3)),
        foot_contact=contact.astype(bool),
        foot_names=names or default_foot_names(f),
        leg_length=leg_length,
        body_length=body_length,
        mass_kg=mass,
        name=path.stem,
    )
