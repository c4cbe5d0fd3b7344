"""An exported policy and its deployment facts, loaded and checked for a controller.

``lmrl export`` (:mod:`lm_reward_learning.export`) writes ``policy.onnx`` (input ``obs`` (B, D),
output ``actions`` (B, J)) and ``deploy.yaml`` beside it, and the same facts into the ONNX
``metadata_props`` (mjlab's convention: JSON values). :meth:`DeployedPolicy.load` reads both, refuses
a policy whose facts disagree with each other or with the network's input and output sizes, and
runs the network in onnxruntime on one thread (a control loop wants low latency, not throughput).

Inference allocates nothing per call: the observation is copied into a preallocated input buffer and
the network writes its action into a preallocated output buffer, both bound once with onnxruntime's
I/O binding (``run_with_iobinding``). onnxruntime's thread pools have one thread and do not spin
(``session.intra_op.allow_spinning`` / ``session.inter_op.allow_spinning`` = 0: a spinning pool would
burn a core between the 50 Hz ticks). In a 50 Hz loop, most of the time of one inference is refilling
the caches the idle 20 ms emptied (measured by ``benchmarks/bench_controller.py``);
:meth:`DeployedPolicy.warm` runs the network ahead of the tick to fill them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lm_reward_learning.errors import LmrlError

log = logging.getLogger(__name__)

POLICY_FILE = "policy.onnx"
DEPLOY_FILE = "deploy.yaml"

COMPARED_KEYS = (
    "robot",
    "joint_names",
    "default_joint_pos",
    "kp",
    "kd",
    "action_scale",
    "action_clip",
    "control_dt",
    "observation",
    "action",
    "onnx",
    "action_joints",
    "held_joints",
    "gait_clock",
)
"""Facts that ``deploy.yaml`` and the ONNX metadata must agree on when both are present."""


class DeployError(LmrlError):
    """A policy cannot be deployed: a file is missing or unreadable, or a deployment fact is missing."""


class PolicyMismatchError(DeployError, ValueError):
    """The policy does not match its facts or the robot (sizes, joint names); the message names the mismatch."""


@dataclass(frozen=True)
class ObsTermSpec:
    """One term of the observation vector as ``deploy.yaml`` lists it.

    Attributes:
        name: Isaac Lab term name (``base_ang_vel``, ``projected_gravity``, ...).
        offset: First index in the observation vector.
        size: Number of entries.
        scale: Per-entry multiplier applied to the physical quantity. Shape: (size,).
    """

    name: str
    offset: int
    size: int
    scale: tuple[float, ...]


@dataclass(frozen=True)
class DeployFacts:
    """What a controller needs to know about a policy (``deploy.yaml`` / ONNX metadata).

    Joint-indexed tuples are in :attr:`joint_names` order, the policy's action order.

    Attributes:
        robot: Robot name the policy was trained for (``go2``).
        joint_names: Actuated joints in policy order. Length J.
        default_joint_pos: Nominal pose, rad; targets are ``default + action_scale * action``.
        kp: Position gains the policy was trained with, N·m/rad.
        kd: Damping gains, N·m·s/rad.
        action_scale: rad per unit action.
        action_clip: Actions are clipped to ``[-action_clip, action_clip]`` (as in training).
        control_dt: Policy period, s (0.02: 50 Hz).
        obs_size: Observation length D.
        obs_terms: The observation's terms in order, contiguous from 0 to D.
        action_size: Action length (must be J).
        input_name: ONNX input name.
        output_name: ONNX output name.
        command_ranges: Velocity command ranges seen in training, ``{"lin_vel_x": (lo, hi), ...}``.
        source: Where the facts were read from (for messages).
        held_joint_names: Joints the policy does not act on (``deploy.yaml`` ``held_joints.names``; empty
            for a policy on every joint): the controller holds them at ``held_default_joint_pos`` with
            ``held_kp``/``held_kd``, as the training env's servos did. Length H.
        held_default_joint_pos: Their held angles, rad. Length H.
        held_kp: Their position gains, N·m/rad. Length H.
        held_kd: Their damping gains, N·m·s/rad. Length H.
        gait_clock_hz: Frequency of the ``gait_clock`` observation (``deploy.yaml``
            ``gait_clock.frequency_hz``), Hz; None for a policy without one.
    """

    robot: str
    joint_names: tuple[str, ...]
    default_joint_pos: tuple[float, ...]
    kp: tuple[float, ...]
    kd: tuple[float, ...]
    action_scale: float
    action_clip: float
    control_dt: float
    obs_size: int
    obs_terms: tuple[ObsTermSpec, ...]
    action_size: int
    input_name: str = "obs"
    output_name: str = "actions"
    command_ranges: dict[str, tuple[float, float]] | None = None
    source: str = ""
    held_joint_names: tuple[str, ...] = ()
    held_default_joint_pos: tuple[float, ...] = ()
    held_kp: tuple[float, ...] = ()
    held_kd: tuple[float, ...] = ()
    gait_clock_hz: float | None = None

    @property
    def num_joints(self) -> int:
        """J, the number of joints the policy acts on."""
        return len(self.joint_names)

    @property
    def command_joint_names(self) -> tuple[str, ...]:
        """Every joint a controller commands: the policy's J joints, then the H held ones. Length J + H."""
        return (*self.joint_names, *self.held_joint_names)

    @property
    def command_default_joint_pos(self) -> tuple[float, ...]:
        """Default (policy) and held angles in :attr:`command_joint_names` order, rad. Length J + H."""
        return (*self.default_joint_pos, *self.held_default_joint_pos)

    @property
    def command_kp(self) -> tuple[float, ...]:
        """Position gains in :attr:`command_joint_names` order, N·m/rad. Length J + H."""
        return (*self.kp, *self.held_kp)

    @property
    def command_kd(self) -> tuple[float, ...]:
        """Damping gains in :attr:`command_joint_names` order, N·m·s/rad. Length J + H."""
        return (*self.kd, *self.held_kd)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str) -> DeployFacts:
        """Parse and check the facts of ``deploy.yaml`` (or the decoded ONNX metadata).

        Raises:
            DeployError: if a required key is missing or has the wrong type.
            PolicyMismatchError: if the facts contradict each other (per-joint lists of another length
                than ``joint_names``, observation terms that do not tile ``observation.size``,
                ``action.size`` other than the number of joints).
        """
        required = ("joint_names", "default_joint_pos", "kp", "kd", "action_scale", "control_dt", "observation")
        held = d.get("held_joints") or {}
        clock = d.get("gait_clock")
        missing = [k for k in required if k not in d]
        if missing:
            raise DeployError(f"{source}: missing deployment facts {missing}; re-export the policy with `lmrl export`.")
        try:
            joints = tuple(str(j) for j in d["joint_names"])
            obs = d["observation"]
            terms = tuple(
                ObsTermSpec(str(t["name"]), int(t["offset"]), int(t["size"]), tuple(float(s) for s in t["scale"]))
                for t in obs["terms"]
            )
            facts = cls(
                robot=str(d.get("robot", "")),
                joint_names=joints,
                default_joint_pos=tuple(float(x) for x in d["default_joint_pos"]),
                kp=tuple(float(x) for x in d["kp"]),
                kd=tuple(float(x) for x in d["kd"]),
                action_scale=float(d["action_scale"]),
                action_clip=float(d.get("action_clip", math.inf)),
                control_dt=float(d["control_dt"]),
                obs_size=int(obs["size"]),
                obs_terms=terms,
                action_size=int((d.get("action") or {}).get("size", len(joints))),
                input_name=str((d.get("onnx") or {}).get("input", "obs")),
                output_name=str((d.get("onnx") or {}).get("output", "actions")),
                command_ranges={k: (float(v[0]), float(v[1])) for k, v in (d.get("command_ranges") or {}).items()},
                source=source,
                held_joint_names=tuple(str(j) for j in held.get("names", ())),
                held_default_joint_pos=tuple(float(x) for x in held.get("default_joint_pos", ())),
                held_kp=tuple(float(x) for x in held.get("kp", ())),
                held_kd=tuple(float(x) for x in held.get("kd", ())),
                gait_clock_hz=None if clock is None else float(clock["frequency_hz"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DeployError(f"{source}: malformed deployment facts ({type(exc).__name__}: {exc}).") from exc
        facts.check()
        return facts

    def check(self) -> None:
        """Check that the facts agree with each other.

        Raises:
            PolicyMismatchError: naming the first inconsistent fact.
        """
        j = self.num_joints
        if j == 0 or len(set(self.joint_names)) != j:
            raise PolicyMismatchError(f"{self.source}: joint_names must be {j} distinct names, got {self.joint_names}")
        for name in ("default_joint_pos", "kp", "kd"):
            n = len(getattr(self, name))
            if n != j:
                raise PolicyMismatchError(f"{self.source}: {name} has {n} values for {j} joint_names")
        if self.action_size != j:
            raise PolicyMismatchError(f"{self.source}: action.size is {self.action_size} but there are {j} joints")
        h = len(self.held_joint_names)
        for name in ("held_default_joint_pos", "held_kp", "held_kd"):
            n = len(getattr(self, name))
            if n != h:
                raise PolicyMismatchError(f"{self.source}: held_joints.{name[5:]} has {n} values for {h} held joints")
        both = sorted(set(self.joint_names) & set(self.held_joint_names))
        if both or len(set(self.held_joint_names)) != h:
            raise PolicyMismatchError(
                f"{self.source}: held_joints.names must be distinct joints the policy does not act on; repeated: "
                f"{both or sorted({n for n in self.held_joint_names if self.held_joint_names.count(n) > 1})}"
            )
        clocked = any(t.name == "gait_clock" for t in self.obs_terms)
        if clocked != (self.gait_clock_hz is not None):
            raise PolicyMismatchError(
                f"{self.source}: the observation {'has' if clocked else 'has no'} gait_clock term but gait_clock "
                f"{'is missing' if clocked else 'is set'}; the two come together from `lmrl export`"
            )
        if self.gait_clock_hz is not None and not (self.gait_clock_hz > 0 and math.isfinite(self.gait_clock_hz)):
            raise PolicyMismatchError(
                f"{self.source}: gait_clock.frequency_hz must be > 0 Hz, got {self.gait_clock_hz}"
            )
        if not (self.control_dt > 0 and math.isfinite(self.control_dt)):
            raise PolicyMismatchError(f"{self.source}: control_dt must be > 0 s, got {self.control_dt}")
        offset = 0
        for t in self.obs_terms:
            if t.offset != offset or len(t.scale) != t.size:
                raise PolicyMismatchError(
                    f"{self.source}: observation term {t.name!r} at offset {t.offset} (size {t.size}, "
                    f"{len(t.scale)} scales) does not follow the previous terms (expected offset {offset})"
                )
            offset += t.size
        if offset != self.obs_size:
            raise PolicyMismatchError(
                f"{self.source}: observation terms cover {offset} entries but observation.size is {self.obs_size}"
            )


def _decode_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """ONNX ``metadata_props`` (JSON strings, as :func:`lm_reward_learning.export.export_run` writes) → dict."""
    out = {}
    for key, value in meta.items():
        try:
            out[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            out[key] = value
    return out


def _same(a: Any, b: Any) -> bool:
    """Deep equality with a float tolerance (YAML and JSON round-trip floats exactly; be lenient anyway)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _static_dim(shape: list[Any], index: int) -> int | None:
    """The size of axis ``index`` of an onnxruntime shape, or None if symbolic."""
    try:
        dim = shape[index]
    except IndexError:
        return None
    return dim if isinstance(dim, int) and dim > 0 else None


class DeployedPolicy:
    """An ONNX policy with its checked deployment facts, ready for batch-1 inference.

    Use :meth:`load`; calling the object runs the network on one observation.

    Attributes:
        facts: The deployment facts.
        path: The ONNX file.
        metadata: The decoded ONNX ``metadata_props`` (empty if the file has none).
    """

    def __init__(self, facts: DeployFacts, session: Any, path: Path, metadata: dict[str, Any]) -> None:
        self.facts = facts
        self.session = session
        self.path = path
        self.metadata = metadata
        self._obs = np.zeros((1, facts.obs_size), dtype=np.float32)
        self._act = np.zeros((1, facts.action_size), dtype=np.float32)
        self._feed = {facts.input_name: self._obs}
        self._outputs = [facts.output_name]
        self._binding: Any = None

    @classmethod
    def load(cls, path: str | Path) -> DeployedPolicy:
        """Load a policy directory (``policy.onnx`` + ``deploy.yaml``) or an ONNX file and check it.

        With an ONNX file, ``deploy.yaml`` beside it is used when present, else the ONNX metadata
        alone. When both exist they must agree on :data:`COMPARED_KEYS`.

        Args:
            path: A directory holding ``policy.onnx``, or the ``.onnx`` file itself.

        Raises:
            DeployError: if the files are missing or unreadable, or carry no deployment facts.
            PolicyMismatchError: if ``deploy.yaml`` and the metadata disagree, or the network's input
                or output size differs from the facts' observation or action size (the message names
                both numbers and where each came from).
        """
        import onnxruntime as ort

        path = Path(path)
        onnx_path = path / POLICY_FILE if path.is_dir() else path
        if not onnx_path.is_file():
            raise DeployError(
                f"no ONNX policy at {onnx_path}; give a directory with {POLICY_FILE} + {DEPLOY_FILE} "
                "(as `lmrl export` writes under policies/<robot>/<name>/) or an .onnx file."
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise DeployError(f"{onnx_path} is not a loadable ONNX model: {exc}") from exc
        metadata = _decode_metadata(dict(session.get_modelmeta().custom_metadata_map))
        yaml_path = onnx_path.parent / DEPLOY_FILE
        if yaml_path.is_file():
            try:
                data = yaml.safe_load(yaml_path.read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise DeployError(f"{yaml_path} is not readable YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise DeployError(f"{yaml_path} holds no mapping of deployment facts")
            facts = DeployFacts.from_dict(data, str(yaml_path))
            if metadata:
                differ = [k for k in COMPARED_KEYS if k in data and k in metadata and not _same(data[k], metadata[k])]
                if differ:
                    raise PolicyMismatchError(
                        f"{yaml_path} and the metadata of {onnx_path} disagree on {differ}; the YAML belongs to "
                        "another export. Re-export the policy (`lmrl export`) or restore the matching pair."
                    )
        elif metadata:
            facts = DeployFacts.from_dict(metadata, f"{onnx_path} metadata")
        else:
            raise DeployError(
                f"{onnx_path} has no deployment metadata and there is no {DEPLOY_FILE} beside it; export it with "
                "`lmrl export` (which writes both)."
            )
        policy = cls(facts, session, onnx_path, metadata)
        policy._check_network()
        policy._bind(ort)
        log.info(
            "loaded %s: robot %s, %d joints, observation %d, control period %.3f s",
            onnx_path,
            facts.robot,
            facts.num_joints,
            facts.obs_size,
            facts.control_dt,
        )
        return policy

    def _check_network(self) -> None:
        """Check the network's input and output names and sizes against the facts, with one dry run.

        Raises:
            PolicyMismatchError: naming the mismatch.
        """
        f = self.facts
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if f.input_name not in inputs or f.output_name not in outputs:
            raise PolicyMismatchError(
                f"{self.path}: the network's input/output are {list(inputs)}/{list(outputs)}, the deployment "
                f"facts ({f.source}) name {f.input_name!r}/{f.output_name!r}"
            )
        d_in = _static_dim(inputs[f.input_name].shape, -1)
        if d_in is not None and d_in != f.obs_size:
            raise PolicyMismatchError(
                f"observation size mismatch: {f.source} says observation.size = {f.obs_size}, but the network "
                f"{self.path} takes {d_in} inputs ({f.input_name!r}). The policy and its deploy facts come from "
                "different exports."
            )
        d_out = _static_dim(outputs[f.output_name].shape, -1)
        if d_out is not None and d_out != f.action_size:
            raise PolicyMismatchError(
                f"action size mismatch: {f.source} lists {f.action_size} joints, but the network {self.path} "
                f"outputs {d_out} actions ({f.output_name!r})."
            )
        try:
            out = self.session.run(self._outputs, self._feed)[0]
        except Exception as exc:  # onnxruntime's shape errors are untyped
            raise PolicyMismatchError(
                f"observation size mismatch: the network {self.path} rejects an observation of size "
                f"{f.obs_size} ({f.source}): {exc}"
            ) from exc
        if out.shape != (1, f.action_size):
            raise PolicyMismatchError(
                f"action size mismatch: the network {self.path} outputs shape {out.shape} for one observation, "
                f"expected (1, {f.action_size}) from {f.source}."
            )

    def _bind(self, ort: Any) -> None:
        """Bind the preallocated input and output buffers once (after :meth:`_check_network` ran a dry run)."""
        binding = self.session.io_binding()
        binding.bind_ortvalue_input(self.facts.input_name, ort.OrtValue.ortvalue_from_numpy(self._obs))
        binding.bind_ortvalue_output(self.facts.output_name, ort.OrtValue.ortvalue_from_numpy(self._act))
        self._binding = binding

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Run the network on one observation.

        Args:
            obs: Observation, shape (D,), any float dtype.

        Returns:
            The raw (unclipped) action, shape (J,), float32: a view of the policy's output buffer,
            overwritten by the next call (copy it to keep it).
        """
        np.copyto(self._obs[0], obs, casting="same_kind")
        self.session.run_with_iobinding(self._binding)
        return self._act[0]

    def warm(self) -> None:
        """Run the network once more on the last observation, to bring it back into the CPU caches.

        After 20 ms of sleep the network's weights (0.17 MB for the shipped Go2 policy) and the code
        are out of the CPU caches, and the next inference takes an order of magnitude longer than
        back to back (``benchmarks/bench_controller.py``). Calling this shortly before a control tick (the
        ``prewarm_lead_s`` timer of ``policy_controller``) brings them back, so the tick's own inference
        runs warm. The output buffer is rewritten with the same action the last call returned.
        """
        self.session.run_with_iobinding(self._binding)
