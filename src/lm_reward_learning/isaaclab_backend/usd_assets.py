"""Local USD assets for Isaac Lab, made from our vendored MJCF (no remote asset URLs).

Isaac Lab's stock robot and ground assets live at remote URLs that a kit-less, offline install cannot
reach, so ``scripts/setup_isaaclab.sh`` runs this module once per robot (and again whenever the MJCF
changes) to write, under ``<out>/``::

    ground.usda                 a 200 m x 200 m UsdGeom.Plane with collision, z = 0 (MuJoCo's floor)
    <robot>/robot.usdc          the robot, converted by PyPI mujoco-usd-converter
    <robot>/asset_info.json     names and offsets the Isaac Lab task needs (see :func:`asset_info`)

Post-processing of the converted robot (each step is required by Isaac Lab 3 / Newton):

1. Every rigid body is moved directly under the robot prim (``/go2/FL_calf``, not
   ``/go2/Geometry/base/FL_hip/FL_thigh/FL_calf``) with its world pose kept; joints, material
   bindings and every other relationship are re-targeted. Isaac Lab's contact sensor matches bodies
   by ``{ENV_REGEX_NS}/Robot/<body>`` and finds none in a nested hierarchy.
2. The ``MjcActuator`` prims (MuJoCo position servos) are removed: Isaac Lab drives the joints from
   its own actuator config (kp/kd/torque limits from the robot spec), and MuJoCo-Warp would otherwise
   apply the MJCF's servos as well.

Runs in the converter environment (``mujoco-usd-converter`` with MuJoCo 3.16 and ``usd-exchange``,
installed by the setup script with ``pip --target`` beside the Isaac Lab venv and run with
``python -S``: ``usd-exchange`` bundles its own ``pxr`` that must not meet ``usd-core``)::

    PYTHONPATH=<converter dir>:<src> python -S -m lm_reward_learning.isaaclab_backend.usd_assets \
        --out .venv-isaaclab/lmrl-assets go2 g1

Sources: mujoco-usd-converter 0.8.0 (Apache-2.0, the Newton developers); OpenUSD ``UsdPhysics``
schema (joint frames ``localPos0/1`` are relative to the bodies, so moving a body in namespace with its
world pose kept leaves every joint valid).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ASSET_FORMAT = 1
"""Version of the layout written here; bump it to force a re-conversion."""

GROUND_FILE = "ground.usda"
ROBOT_FILE = "robot.usdc"
INFO_FILE = "asset_info.json"


def mjcf_digest(spec: Any) -> str:
    """SHA-256 over the robot's MJCF files (``*.xml`` in its asset folder), hex.

    Args:
        spec: A :class:`~lm_reward_learning.robots.spec.RobotSpec`.
    """
    h = hashlib.sha256()
    for f in sorted(Path(spec.mjcf_path).parent.glob("*.xml")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    h.update(str(ASSET_FORMAT).encode())
    return h.hexdigest()


def is_current(out: Path, spec: Any) -> bool:
    """Whether ``out/<robot>/`` holds a conversion of the current MJCF (nothing to do)."""
    info = Path(out) / spec.name / INFO_FILE
    if not info.is_file() or not (Path(out) / spec.name / ROBOT_FILE).is_file():
        return False
    try:
        return json.loads(info.read_text()).get("mjcf_sha256") == mjcf_digest(spec)
    except (OSError, json.JSONDecodeError):
        return False


def asset_info(spec: Any) -> dict[str, Any]:
    """Facts about the robot the Isaac Lab task needs, read from the MJCF with MuJoCo.

    Returns:
        ``robot``, ``mjcf_sha256``, ``root_body`` (the floating base), ``foot_bodies`` and
        ``foot_offsets_b`` (each foot site's position in its body's frame, m, spec foot order: the
        foot contact point is ``body_pos_w + R(body_quat_w) @ offset``), ``armature`` (kg·m², by joint
        name), ``format``.

    Raises:
        ValueError: if a foot site is not attached to the spec's foot body of the same index.
    """
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    offsets = []
    for site, body in zip(spec.foot_sites, spec.foot_bodies, strict=True):
        sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        owner = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.site_bodyid[sid]))
        if owner != body:
            raise ValueError(f"{spec.name}: foot site {site!r} is on body {owner!r}, but the spec says {body!r}")
        offsets.append([float(x) for x in model.site_pos[sid]])
    armature = {}
    for j in spec.joint_names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j)
        armature[j] = float(model.dof_armature[model.jnt_dofadr[jid]])
    return {
        "format": ASSET_FORMAT,
        "robot": spec.name,
        "mjcf_sha256": mjcf_digest(spec),
        "root_body": spec.base_body,
        "foot_bodies": list(spec.foot_bodies),
        "foot_offsets_b": offsets,
        "armature": armature,
        "converter": _converter_version(),
    }


def _converter_version() -> str:
    try:
        import mujoco_usd_converter

        return f"mujoco-usd-converter {mujoco_usd_converter.__version__}"
    except ImportError:  # pragma: no cover - only without the converter
        return "unknown"


def flatten_bodies(stage: Any) -> dict[str, str]:
    """Move every rigid body of ``stage`` directly under its default prim, keeping world poses.

    Args:
        stage: A ``pxr.Usd.Stage`` whose root layer holds the robot (edited in place).

    Returns:
        ``{old path: new path}`` of the moved bodies.

    Raises:
        ValueError: if two bodies share a name (they would land on the same path).
    """
    from pxr import Gf, Sdf, UsdGeom, UsdPhysics

    layer = stage.GetRootLayer()
    root = stage.GetDefaultPrim()
    root_path = root.GetPath()
    cache = UsdGeom.XformCache()
    to_root = cache.GetLocalToWorldTransform(root).GetInverse()
    bodies = [p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    names = [b.GetName() for b in bodies]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate rigid-body names in {layer.identifier}: {sorted(names)}")
    poses = {b.GetPath(): cache.GetLocalToWorldTransform(b) * to_root for b in bodies}
    mapping = {b.GetPath(): root_path.AppendChild(b.GetName()) for b in bodies}
    moved = [old for old, new in mapping.items() if old != new]
    for old in moved:
        Sdf.CopySpec(layer, old, layer, mapping[old])
    for old in moved:
        spec = layer.GetPrimAtPath(mapping[old])
        for child in list(spec.nameChildren):
            if old.AppendChild(child.name) in mapping:
                del spec.nameChildren[child.name]
    # Remove the old hierarchy: the top-most moved bodies' specs (children go with them).
    for old in moved:
        if not any(other != old and old.HasPrefix(other) for other in moved):
            parent = layer.GetPrimAtPath(old.GetParentPath())
            if parent is not None and old.name in parent.nameChildren:
                del parent.nameChildren[old.name]
    for old, new in mapping.items():
        prim = stage.GetPrimAtPath(new)
        xf = Gf.Transform(poses[old])
        t, q = xf.GetTranslation(), xf.GetRotation().GetQuat()
        translate = prim.GetAttribute("xformOp:translate")
        orient = prim.GetAttribute("xformOp:orient")
        if not (translate and orient):
            raise ValueError(f"{new}: expected xformOp:translate and xformOp:orient from the converter")
        translate.Set(type(translate.Get())(*t))
        qtype = type(orient.Get())
        orient.Set(qtype(q.GetReal(), *q.GetImaginary()))
    _retarget(stage, mapping)
    # Drop scopes left empty by the move (the converter's ``Geometry``).
    for child in list(root.GetChildren()):
        if child.GetTypeName() == "Scope" and not child.GetChildren():
            stage.RemovePrim(child.GetPath())
    return {str(k): str(v) for k, v in mapping.items()}


def _retarget(stage: Any, mapping: dict[Any, Any]) -> None:
    """Rewrite every relationship target under a moved body path to its new path."""
    ordered = sorted(mapping.items(), key=lambda kv: -len(str(kv[0])))

    def new_path(p: Any) -> Any:
        for old, new in ordered:
            if p.HasPrefix(old):
                return p.ReplacePrefix(old, new)
        return p

    for prim in stage.Traverse():
        for rel in prim.GetRelationships():
            targets = rel.GetTargets()
            fixed = [new_path(t) for t in targets]
            if fixed != targets:
                rel.SetTargets(fixed)


def remove_mjc_actuators(stage: Any) -> int:
    """Remove every ``MjcActuator`` prim; return how many were removed."""
    doomed = [p.GetPath() for p in stage.Traverse() if p.GetTypeName() == "MjcActuator"]
    for path in doomed:
        stage.RemovePrim(path)
    return len(doomed)


def write_ground(path: Path, size_m: float = 200.0) -> Path:
    """Write the ground: a square ``UsdGeom.Plane`` (z up, at z = 0) with a collision API.

    Isaac Lab's ground-plane spawner binds its physics material to the first ``Plane`` prim, so the
    file works with ``sim_utils.GroundPlaneCfg(usd_path=...)``.
    """
    from pxr import Usd, UsdGeom, UsdPhysics

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, "/ground")
    stage.SetDefaultPrim(root.GetPrim())
    plane = UsdGeom.Plane.Define(stage, "/ground/plane")
    plane.CreateAxisAttr(UsdGeom.Tokens.z)
    plane.CreateWidthAttr(size_m)
    plane.CreateLengthAttr(size_m)
    UsdPhysics.CollisionAPI.Apply(plane.GetPrim())
    stage.GetRootLayer().Save()
    return path


def convert_robot(spec: Any, out: Path) -> Path:
    """Convert ``spec``'s robot MJCF to ``out/<robot>/robot.usdc`` and write ``asset_info.json``.

    Returns:
        The robot USD file.

    Raises:
        ValueError: on an unexpected converter output (no default prim, duplicate body names).
    """
    import tempfile

    from mujoco_usd_converter import Converter
    from pxr import Usd

    robot_xml = Path(spec.mjcf_path).parent / f"{spec.name}.xml"
    dest = Path(out) / spec.name
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        asset = Converter(layer_structure=False, scene=False).convert(str(robot_xml), tmp)
        stage = Usd.Stage.Open(asset.path)
        if not stage.GetDefaultPrim():
            raise ValueError(f"the converter wrote no default prim for {robot_xml}")
        moved = flatten_bodies(stage)
        removed = remove_mjc_actuators(stage)
        stage.Export(str(dest / ROBOT_FILE))
    info = asset_info(spec)
    info["bodies"] = sorted(Path(p).name for p in moved.values())
    info["removed_actuators"] = removed
    (dest / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    log.info("converted %s -> %s (%d bodies, %d servos removed)", robot_xml, dest / ROBOT_FILE, len(moved), removed)
    return dest / ROBOT_FILE


def main(argv: list[str] | None = None) -> int:
    """Command line: convert the named robots (skipping up-to-date ones) and write the ground."""
    import mujoco_usd_converter  # noqa: F401  (registers the MjcPhysics schemas before pxr loads any)

    from lm_reward_learning.robots import get_robot

    p = argparse.ArgumentParser(description="Make Isaac Lab USD assets from the vendored MJCF.")
    p.add_argument("robots", nargs="+", help="robot names (go2, g1)")
    p.add_argument("--out", type=Path, required=True, help="assets root")
    p.add_argument("--force", action="store_true", help="convert even if up to date")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (args.out / GROUND_FILE).is_file() or args.force:
        write_ground(args.out / GROUND_FILE)
    for name in args.robots:
        spec = get_robot(name)
        if is_current(args.out, spec) and not args.force:
            log.info("%s: USD is up to date", name)
            continue
        convert_robot(spec, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
