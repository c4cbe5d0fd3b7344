"""Reference gaits from DeepMimic motion capture (dog trot/pace/canter, human walk/run/jump), and the
bound and pronk built from their footfall definitions (:mod:`lm_reward_learning.gait.footfall_reference`).

The clips and skeletons live in ``lm_reward_learning/data/reference_motions/deepmimic`` (MIT, from
xbpeng/DeepMimic; see ``PROVENANCE.md`` and ``LICENSE`` there).

File formats (DeepMimic ``KinTree.cpp``, ``Motion.cpp``): a character file is JSON with
``Skeleton.Joints`` (joint tree: ``Parent``, ``Type``, offset ``AttachX/Y/Z`` from the parent joint in
the parent's frame, m) and ``BodyDefs`` (one body per joint: shape, ``Param0..2`` sizes, offset from
its joint, mass). A motion file is JSON with ``Frames``, one row per frame: frame duration (s), root
position (x, y, z; **y up**), root rotation (w, x, y, z), then per non-root joint in file order a
quaternion (w, x, y, z) for a spherical joint, one angle (rad, about the joint's local z axis) for
a revolute joint and nothing for a fixed joint. The root's attach offset is ignored, as DeepMimic
does. Forward kinematics: ``p_child = p_parent + R_parent · attach``,
``R_child = R_parent · R_joint``.

Conversion to the project's frames (z up, x forward, y left): ``(x, y, z)_yup → (x, -z, y)_zup``, a
rotation of +90° about x; orientations are conjugated by the same rotation, so the base frame
becomes x forward, y left, z up. In both skeletons the character faces +x and its left side is -z.

Feet. Dog (``dog3d.txt``): the fore paws are the bodies ``left_finger``/``right_finger`` (chain
shoulder → forearm → hand → finger) and the hind paws ``left_toe``/``right_toe`` (chain upper_leg
→ leg → foot → toe), so FL = ``left_finger``, FR = ``right_finger``, RL = ``left_toe``, RR =
``right_toe``. Human (``humanoid3d.txt``): left = ``left_ankle``, right = ``right_ankle`` (the
ankle bodies are the foot boxes). Each foot body is a box; its two sole points are the back and
front edge centres of the box's bottom face (``attach + (±size_x / 2, -size_y / 2, 0)`` in the
joint frame). The reported foot position is their midpoint.

Contacts (motion capture has no forces): a foot is in contact while at least one of its sole points
is lower than :data:`CONTACT_HEIGHT_M` (3 cm) above the floor (y = 0) **and** moves horizontally
slower than ``max(CONTACT_MIN_SPEED_MPS, CONTACT_SPEED_FRACTION × mean root speed)`` (0.7 × body
speed: a stance foot moves slower than the body, a swinging one faster on average). The speed test
separates stance from swing in the dog clips, whose paws skim the floor (swing heights of 3-14 cm)
and slide in stance; the height test separates them in the jump. At 3 cm the gait classes of all
six clips stay the same for speed fractions from 0.4 to 1.0, and at 0.7 for heights from 2.5 to
5 cm (at 2 cm the human walk reads as a run), so the thresholds sit inside a stable range rather
than on an edge (``tests/gait/test_reference.py`` checks this).

Looping: a clip's last frame repeats its first pose one cycle further on. The clip (all frames but
the last) is repeated ``loops`` times, each copy shifted horizontally by the root displacement of one
cycle, so stride analysis sees several strides. The dog clips loop exactly; the human clips' last
pose differs slightly from their first (up to 0.3 in quaternion components), a small jump at each
seam. Foot speeds for contact detection are therefore differences within the clip (one-sided
at its first and last frame), so a seam jump cannot break a stance; the base velocity uses central
differences across the seam, so that its mean is exactly the cycle displacement over the cycle
time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.gait.features import GaitFeatures, compute_features
from lm_reward_learning.gait.footfall_reference import FOOTFALL_REFERENCES, load_footfall_reference
from lm_reward_learning.gait.trajectory import GaitTrajectory
from lm_reward_learning.rotations import quat_conjugate, quat_from_axis_angle, quat_mul, quat_rotate

#: Folder of the DeepMimic skeletons and clips shipped with the package.
DEEPMIMIC_DIR = Path(__file__).resolve().parent.parent / "data" / "reference_motions" / "deepmimic"
#: A sole point lower than this above the floor may be in contact, m.
CONTACT_HEIGHT_M = 0.03
#: ... and only while moving slower than this fraction of the mean root speed ...
CONTACT_SPEED_FRACTION = 0.7
#: ... or slower than this absolute speed, whichever is larger, m/s.
CONTACT_MIN_SPEED_MPS = 0.3
#: Default number of times a clip is repeated.
DEFAULT_LOOPS = 6

_Y_UP_TO_Z_UP = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.pi / 2)  # (x, y, z) -> (x, -z, y)


class UnknownReferenceError(LmrlError, KeyError):
    """A reference name is not one of :data:`REFERENCE_NAMES`."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReferenceMotionError(LmrlError, ValueError):
    """A DeepMimic character or motion file is malformed or uses an unsupported feature."""


@dataclass(frozen=True)
class ReferenceClip:
    """How to read one named reference clip.

    Attributes:
        character: Character file name in :data:`DEEPMIMIC_DIR`.
        motion: Motion file name in :data:`DEEPMIMIC_DIR`.
        feet: ``(foot name, DeepMimic body name)`` per foot, in project foot order.
        hips: Hip joints; their mean height is the leg length.
        trunk_top: Joints at the front/top of the trunk (shoulders, neck); the distance from their
            midpoint to the hips' midpoint is the body length.
        expected_gait: The gait class the clip shows.
    """

    character: str
    motion: str
    feet: tuple[tuple[str, str], ...]
    hips: tuple[str, ...]
    trunk_top: tuple[str, ...]
    expected_gait: str


_DOG_FEET = (("FL", "left_finger"), ("FR", "right_finger"), ("RL", "left_toe"), ("RR", "right_toe"))
_HUMAN_FEET = (("left", "left_ankle"), ("right", "right_ankle"))
_DOG = {
    "character": "dog3d.txt",
    "feet": _DOG_FEET,
    "hips": ("left_upper_leg", "right_upper_leg"),
    "trunk_top": ("left_shoulder", "right_shoulder"),
}
_HUMAN = {
    "character": "humanoid3d.txt",
    "feet": _HUMAN_FEET,
    "hips": ("left_hip", "right_hip"),
    "trunk_top": ("neck",),
}

#: The named reference clips.
REFERENCES: dict[str, ReferenceClip] = {
    "dog_trot": ReferenceClip(motion="dog3d_trot.txt", expected_gait="trot", **_DOG),
    "dog_pace": ReferenceClip(motion="dog3d_pace.txt", expected_gait="pace", **_DOG),
    "dog_canter": ReferenceClip(motion="dog3d_canter.txt", expected_gait="canter/gallop", **_DOG),
    "human_walk": ReferenceClip(motion="humanoid3d_walk.txt", expected_gait="walk", **_HUMAN),
    "human_run": ReferenceClip(motion="humanoid3d_run.txt", expected_gait="run", **_HUMAN),
    "human_jump": ReferenceClip(motion="humanoid3d_jump.txt", expected_gait="hop", **_HUMAN),
}
#: Every named reference: the DeepMimic clips, then the footfall references (bound, pronk).
REFERENCE_NAMES: tuple[str, ...] = (*REFERENCES, *FOOTFALL_REFERENCES)


@dataclass(frozen=True)
class Skeleton:
    """A DeepMimic joint tree. ``J`` joints, root first, parents before children.

    Attributes:
        names: Joint names. ``J`` entries.
        parents: Parent index per joint, -1 for the root.
        types: Joint type per joint (``none`` for the root, ``spherical``, ``revolute``, ``fixed``).
        offsets: Joint origin in the parent joint frame, m (y up). Shape ``(J, 3)``.
        bodies: Per joint, the body definition dict from ``BodyDefs``.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    types: tuple[str, ...]
    offsets: np.ndarray
    bodies: tuple[dict, ...]

    @property
    def num_dof(self) -> int:
        """Columns of a motion frame: duration + root (7) + joint parameters."""
        sizes = {"spherical": 4, "revolute": 1, "fixed": 0}
        return 1 + 7 + sum(sizes[t] for t in self.types[1:])

    def index(self, name: str) -> int:
        """Index of joint ``name``.

        Raises:
            ReferenceMotionError: No such joint.
        """
        if name not in self.names:
            raise ReferenceMotionError(f"skeleton has no joint {name!r}; joints: {', '.join(self.names)}")
        return self.names.index(name)


def load_skeleton(path: Path) -> Skeleton:
    """Read a DeepMimic character file.

    Raises:
        ReferenceMotionError: Unsupported joint type, non-zero ``AttachTheta`` (no clip here uses
            one), or a parent listed after its child.
    """
    data = _read_json(path)
    joints = data["Skeleton"]["Joints"]
    bodies = {b["ID"]: b for b in data.get("BodyDefs", [])}
    for i, j in enumerate(joints):
        if j["ID"] != i or j["Parent"] >= i:
            raise ReferenceMotionError(f"{path.name}: joint {j['Name']!r} is out of order (ID {j['ID']}, index {i})")
        if i > 0 and j["Type"] not in ("spherical", "revolute", "fixed"):
            raise ReferenceMotionError(f"{path.name}: joint {j['Name']!r} has unsupported type {j['Type']!r}")
        if any(j.get(f"AttachTheta{a}", 0) != 0 for a in "XYZ"):
            raise ReferenceMotionError(f"{path.name}: joint {j['Name']!r} has a rotated attachment (unsupported)")
    offsets = np.array([[j["AttachX"], j["AttachY"], j["AttachZ"]] for j in joints], dtype=float)
    offsets[0] = 0.0  # DeepMimic zeroes the root's attach point (cKinTree::PostProcessJointMat)
    return Skeleton(
        names=tuple(j["Name"] for j in joints),
        parents=tuple(int(j["Parent"]) for j in joints),
        types=tuple(j["Type"] for j in joints),
        offsets=offsets,
        bodies=tuple(bodies.get(i, {}) for i in range(len(joints))),
    )


def load_motion(path: Path, skeleton: Skeleton) -> tuple[float, np.ndarray]:
    """Read a DeepMimic motion file.

    Returns:
        ``(frame_dt, frames)``: the frame period in s and the frames, shape ``(N, skeleton.num_dof)``.

    Raises:
        ReferenceMotionError: Rows of the wrong length, fewer than 3 frames, or uneven frame times.
    """
    frames = np.asarray(_read_json(path)["Frames"], dtype=float)
    if frames.ndim != 2 or frames.shape[1] != skeleton.num_dof or frames.shape[0] < 3:
        raise ReferenceMotionError(
            f"{path.name}: expected at least 3 frames of {skeleton.num_dof} numbers; got shape {frames.shape}"
        )
    durations = frames[:-1, 0]
    if not np.allclose(durations, durations[0], rtol=1e-3) or durations[0] <= 0:
        raise ReferenceMotionError(f"{path.name}: frame durations are uneven ({durations.min()}..{durations.max()} s)")
    return float(durations.mean()), frames


def forward_kinematics(skeleton: Skeleton, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions and orientations of all joints, y-up DeepMimic frame.

    Args:
        skeleton: The joint tree.
        frames: Motion frames. Shape ``(N, skeleton.num_dof)``.

    Returns:
        ``(pos, rot)``: joint positions, m, shape ``(N, J, 3)``, and orientations ``(w, x, y, z)``,
        shape ``(N, J, 4)``.
    """
    n = frames.shape[0]
    num_joints = len(skeleton.names)
    pos = np.zeros((n, num_joints, 3))
    rot = np.zeros((n, num_joints, 4))
    pos[:, 0] = frames[:, 1:4]
    rot[:, 0] = _unit(frames[:, 4:8])
    col = 8
    for j in range(1, num_joints):
        if skeleton.types[j] == "spherical":
            local = _unit(frames[:, col : col + 4])
            col += 4
        elif skeleton.types[j] == "revolute":
            local = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), frames[:, col])
            col += 1
        else:
            local = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        parent = skeleton.parents[j]
        pos[:, j] = pos[:, parent] + quat_rotate(rot[:, parent], np.broadcast_to(skeleton.offsets[j], (n, 3)))
        rot[:, j] = quat_mul(rot[:, parent], local)
    return pos, rot


def sole_points(skeleton: Skeleton, joint: int) -> np.ndarray:
    """Back and front sole points of a box foot body in its joint frame (y up), m. Shape ``(2, 3)``.

    Raises:
        ReferenceMotionError: The body is not a box.
    """
    body = skeleton.bodies[joint]
    if body.get("Shape") != "box":
        raise ReferenceMotionError(f"foot body {skeleton.names[joint]!r} is not a box: {body.get('Shape')!r}")
    centre = np.array([body["AttachX"], body["AttachY"] - body["Param1"] / 2.0, body["AttachZ"]])
    half_length = np.array([body["Param0"] / 2.0, 0.0, 0.0])
    return np.stack([centre - half_length, centre + half_length])


def load_deepmimic(
    clip: ReferenceClip,
    *,
    loops: int = DEFAULT_LOOPS,
    directory: Path = DEEPMIMIC_DIR,
    character_dir: Path | None = None,
    name: str = "",
    contact_height_m: float = CONTACT_HEIGHT_M,
    contact_speed_fraction: float = CONTACT_SPEED_FRACTION,
) -> GaitTrajectory:
    """Read a DeepMimic clip, run forward kinematics and return it as a looped trajectory (z up).

    See the module docstring for frames, feet, contact thresholds and looping.

    Args:
        clip: Which files and joints to use.
        loops: How many times to repeat the clip (at least 1).
        directory: Folder holding the motion file (and the character file, unless ``character_dir``).
        character_dir: Folder holding the character file, if not ``directory``.
        name: Label of the trajectory.
        contact_height_m: Contact height threshold, m (see :data:`CONTACT_HEIGHT_M`).
        contact_speed_fraction: Contact speed threshold as a fraction of the mean root speed.

    Returns:
        A :class:`GaitTrajectory` of ``loops * (N - 1)`` samples, without joint data; ``mass_kg`` is
        the sum of the skeleton's body masses.

    Raises:
        ReferenceMotionError: Malformed or unsupported files.
    """
    if loops < 1:
        raise ReferenceMotionError(f"loops must be at least 1; got {loops}")
    skel = load_skeleton((character_dir or directory) / clip.character)
    dt, frames = load_motion(directory / clip.motion, skel)
    pos, rot = forward_kinematics(skel, frames)
    feet = [skel.index(body) for _, body in clip.feet]
    soles = np.stack(  # (N, F, 2, 3), y up
        [pos[:, j, None] + quat_rotate(rot[:, j, None], sole_points(skel, j)[None]) for j in feet], axis=1
    )
    soles = _to_z_up(soles)
    root = _to_z_up(pos[:, 0])
    cycle_shift = np.array([*(root[-1, :2] - root[0, :2]), 0.0])
    root_speed = float(np.linalg.norm(cycle_shift)) / ((frames.shape[0] - 1) * dt)
    sole_speed = np.linalg.norm(np.gradient(soles[..., :2], dt, axis=0)[:-1], axis=-1)  # (N-1, F, 2)
    speed_limit = max(CONTACT_MIN_SPEED_MPS, contact_speed_fraction * root_speed)
    contact = ((soles[:-1, ..., 2] < contact_height_m) & (sole_speed < speed_limit)).any(axis=-1)

    hips = _to_z_up(pos[:, [skel.index(j) for j in clip.hips]])
    top = _to_z_up(pos[:, [skel.index(j) for j in clip.trunk_top]])
    body_length = float(np.linalg.norm(top.mean(axis=1) - hips.mean(axis=1), axis=-1).mean())
    base_quat = quat_mul(quat_mul(_Y_UP_TO_Z_UP, _unit(frames[:, 4:8])), quat_conjugate(_Y_UP_TO_Z_UP))
    base_vel = _loop_velocity(root, dt, cycle_shift)

    def tile(x: np.ndarray, shift: bool = False) -> np.ndarray:  # x: one loop, N - 1 frames
        return np.concatenate([x + (k * cycle_shift if shift else 0.0) for k in range(loops)], axis=0)

    return GaitTrajectory(
        dt=dt,
        base_pos_w=tile(root[:-1], shift=True),
        base_quat_w=tile(base_quat[:-1]),
        base_lin_vel_w=tile(base_vel),
        foot_pos_w=tile(soles[:-1].mean(axis=2), shift=True),
        foot_contact=tile(contact),
        foot_names=tuple(foot for foot, _ in clip.feet),
        leg_length=float(hips[..., 2].mean()),
        body_length=body_length,
        mass_kg=float(sum(b.get("Mass", 0.0) for b in skel.bodies)),
        name=name or clip.motion,
    )


def load_reference(name: str, *, loops: int = DEFAULT_LOOPS) -> GaitTrajectory:
    """A reference gait as a :class:`GaitTrajectory`: a named clip (:data:`REFERENCES`, looped), a
    footfall reference (:data:`~lm_reward_learning.gait.footfall_reference.FOOTFALL_REFERENCES`) or a file.

    Args:
        name: One of :data:`REFERENCE_NAMES` (``dog_trot``, ``dog_pace``, ``dog_canter``,
            ``human_walk``, ``human_run``, ``human_jump``, ``hildebrand_bound``, ``hildebrand_pronk``),
            or the path of a reference file (:mod:`lm_reward_learning.gait.reference_file`: DeepMimic
            motion, ``.npz``, ``.csv``).
        loops: How many times to repeat a named clip (footfall references always hold 8 strides).

    Raises:
        UnknownReferenceError: ``name`` is neither a known reference nor an existing reference file.
        GaitInputError, ReferenceMotionError: a reference file is malformed (the message says where).
    """
    if name in REFERENCES:
        return load_deepmimic(REFERENCES[name], loops=loops, name=name)
    if name in FOOTFALL_REFERENCES:
        return load_footfall_reference(name)
    from lm_reward_learning.gait.reference_file import REFERENCE_FILE_SUFFIXES, load_reference_file

    path = Path(name).expanduser()
    if path.suffix.lower() in REFERENCE_FILE_SUFFIXES and path.is_file():
        return load_reference_file(path)
    raise UnknownReferenceError(
        f"unknown reference motion {name!r}; give one of {', '.join(REFERENCE_NAMES)}, or the path of a reference "
        "file (a DeepMimic motion .txt/.json, or .npz/.csv of foot contacts, base trajectory and leg length: see "
        "README 'Evaluation against a reference gait')"
    )


def reference_features(name: str) -> GaitFeatures:
    """The :class:`GaitFeatures` of a reference (named clips are computed once per process).

    Raises:
        UnknownReferenceError, GaitInputError, ReferenceMotionError: as :func:`load_reference`.
    """
    if name in REFERENCE_NAMES:
        return _named_features(name)
    return compute_features(load_reference(name))


@cache
def _named_features(name: str) -> GaitFeatures:
    return compute_features(load_reference(name))


def reference_label(name: str) -> str:
    """A short label of a reference for folder names and tables: the name, or a file's stem."""
    return name if name in REFERENCE_NAMES else Path(name).stem


def reference_gait(name: str) -> str | None:
    """The gait class a reference shows: a named reference's, or the one measured from a file."""
    if name in REFERENCES:
        return REFERENCES[name].expected_gait
    if name in FOOTFALL_REFERENCES:
        return FOOTFALL_REFERENCES[name].expected_gait
    return reference_features(name).gait


def _loop_velocity(x: np.ndarray, dt: float, cycle_shift: np.ndarray) -> np.ndarray:
    """Central-difference velocity of a looping clip, m/s, for frames ``0 .. N-2``.

    ``x`` holds positions of all ``N`` frames, shape ``(N, ..., 3)``; frame ``N - 1`` is the first pose
    one cycle on, so the frame before frame 0 is frame ``N - 2`` shifted back by ``cycle_shift``.
    Returns shape ``(N - 1, ..., 3)``; its mean is exactly the cycle displacement over the cycle time.
    """
    previous = np.concatenate([x[-2:-1] - cycle_shift, x[:-2]], axis=0)
    return (x[1:] - previous) / (2.0 * dt)


def _to_z_up(p: np.ndarray) -> np.ndarray:
    """Positions from DeepMimic's y-up frame to z-up: ``(x, y, z) → (x, -z, y)``. Shape ``(..., 3)``."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def _unit(q: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if (norm < 1e-9).any():
        raise ReferenceMotionError("motion holds a zero quaternion")
    return q / norm


def _read_json(path: Path) -> dict:
    try:
        with path.open() as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise ReferenceMotionError(f"reference motion file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ReferenceMotionError(f"{path.name} is not valid JSON: {exc}") from exc
