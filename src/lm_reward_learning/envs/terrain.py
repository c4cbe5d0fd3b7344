"""Gentle rough terrain for the MuJoCo env: one shared heightfield of difficulty levels, with a curriculum.

``mujoco.batch`` simulations share their model's heightfield (``hfield_data`` is not a per-simulation
field), so, as Isaac Lab's terrain generator does, the map is a grid of tiles: ``levels`` rows of
increasing roughness × ``tiles_per_level`` columns. Each env is spawned at a tile of its level; the
curriculum (Isaac Lab ``mdp.terrain_levels_vel``) moves it a level up after an episode in which it
walked farther than half a tile, and down after one in which it walked less than half of its
commanded distance. Outside the map the floor plane (1 mm lower, so the two never both touch a foot)
continues flat.

Roughness of level ``l``: heights uniform in ``[0, a_l]`` on a 0.2 m grid, bilinearly resampled to
the ``cell_size_m`` heightfield, ``a_l = max_height_m (l + 1) / levels`` (Isaac Lab
``HfRandomUniformTerrainCfg``, with a few centimetres instead of its 2-10 cm). The map is drawn from a
fixed seed: every run trains on the same ground.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from lm_reward_learning.randomization import Terrain

HFIELD_NAME = "terrain"
"""Name of the heightfield asset and geom."""

COARSE_GRID_M = 0.2
"""Spacing of the random heights before resampling, m."""

TERRAIN_SEED = 20240
"""Seed of the map (fixed: the ground does not depend on the training seed)."""

PLANE_DROP_M = 0.001
"""The floor plane is lowered by this much under the map, m."""


def heights(cfg: Terrain) -> np.ndarray:
    """The map's heights, m, shape ``(rows, cols)``: row ``i`` is ``y = -R_y + i·cell``, column ``j`` is
    ``x = -R_x + j·cell`` (MuJoCo's heightfield layout: row-major, first row at ``-R_y``)."""
    tile_cells = round(cfg.tile_size_m / cfg.cell_size_m)
    rows, cols = cfg.levels * tile_cells + 1, cfg.tiles_per_level * tile_cells + 1
    rng = np.random.default_rng(TERRAIN_SEED)
    ny = math.ceil((rows - 1) * cfg.cell_size_m / COARSE_GRID_M) + 2
    nx = math.ceil((cols - 1) * cfg.cell_size_m / COARSE_GRID_M) + 2
    coarse = rng.uniform(0.0, 1.0, size=(ny, nx))
    y = np.arange(rows) * cfg.cell_size_m / COARSE_GRID_M
    x = np.arange(cols) * cfg.cell_size_m / COARSE_GRID_M
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    c = coarse
    fine = (
        c[y0][:, x0] * (1 - fy) * (1 - fx)
        + c[y0 + 1][:, x0] * fy * (1 - fx)
        + c[y0][:, x0 + 1] * (1 - fy) * fx
        + c[y0 + 1][:, x0 + 1] * fy * fx
    )
    level = np.minimum(np.arange(rows) // tile_cells, cfg.levels - 1)
    amplitude = cfg.max_height_m * (level + 1) / cfg.levels
    return fine * amplitude[:, None]


def add_heightfield(mjspec: mujoco.MjSpec, cfg: Terrain) -> None:
    """Add the map to a robot's scene spec: a heightfield geom centred at the origin, plane lowered."""
    h = heights(cfg)
    rows, cols = h.shape
    top = max(float(h.max()), 1e-6)
    rx, ry = (cols - 1) * cfg.cell_size_m / 2, (rows - 1) * cfg.cell_size_m / 2
    mjspec.add_hfield(
        name=HFIELD_NAME, size=[rx, ry, top, 0.1], nrow=rows, ncol=cols, userdata=(h / top).ravel().tolist()
    )
    floor = next((g for g in mjspec.geoms if g.name == "floor"), None)
    if floor is not None:
        floor.pos = [floor.pos[0], floor.pos[1], -PLANE_DROP_M]
    mjspec.worldbody.add_geom(
        name=HFIELD_NAME, type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=HFIELD_NAME, contype=1, conaffinity=1,
        rgba=[0.35, 0.4, 0.45, 1.0],
    )  # fmt: skip


class TerrainCurriculum:
    """Levels, spawn points and ground height of the map (module docstring).

    Args:
        cfg: The terrain settings.
        model: The compiled model holding the heightfield (:func:`add_heightfield`).
        num_envs: Envs.
        seed: Seed of the spawn draws.
    """

    def __init__(self, cfg: Terrain, model: mujoco.MjModel, num_envs: int, *, seed: int) -> None:
        self.cfg = cfg
        hid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_HFIELD, HFIELD_NAME)
        rows, cols = int(model.hfield_nrow[hid]), int(model.hfield_ncol[hid])
        adr = int(model.hfield_adr[hid])
        rx, ry, top, _ = model.hfield_size[hid]
        self.height_map = model.hfield_data[adr : adr + rows * cols].reshape(rows, cols) * top
        self.origin = np.array([-rx, -ry])
        self.cell = float(cfg.cell_size_m)
        self.level = np.full(num_envs, cfg.start_level, dtype=np.int64)
        self.spawn_xy = np.zeros((num_envs, 2))
        self.rng = np.random.default_rng((seed, 0x7E))

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Ground height under world points ``xy`` (``(..., 2)`` m), bilinear in the map; 0 outside it."""
        g = (np.asarray(xy) - self.origin) / self.cell
        rows, cols = self.height_map.shape
        inside = (g[..., 0] >= 0) & (g[..., 1] >= 0) & (g[..., 0] <= cols - 1) & (g[..., 1] <= rows - 1)
        gx = np.clip(g[..., 0], 0, cols - 1 - 1e-9)
        gy = np.clip(g[..., 1], 0, rows - 1 - 1e-9)
        x0, y0 = gx.astype(int), gy.astype(int)
        fx, fy = gx - x0, gy - y0
        h = self.height_map
        z = (
            h[y0, x0] * (1 - fx) * (1 - fy)
            + h[y0, x0 + 1] * fx * (1 - fy)
            + h[y0 + 1, x0] * (1 - fx) * fy
            + h[y0 + 1, x0 + 1] * fx * fy
        )
        return np.where(inside, z, -PLANE_DROP_M)

    def update_levels(
        self, ids: np.ndarray, base_xy: np.ndarray, command_xy: np.ndarray, elapsed_s: np.ndarray
    ) -> None:
        """Curriculum step for the envs ``ids`` ending an episode at ``base_xy`` (``(n, 2)`` m) after
        ``elapsed_s`` (``(n,)``) with commands ``command_xy`` (``(n, 2)`` m/s)."""
        if not self.cfg.curriculum:
            self.level[ids] = self.rng.integers(0, self.cfg.levels, size=ids.size)
            return
        walked = np.linalg.norm(base_xy - self.spawn_xy[ids], axis=1)
        up = walked > self.cfg.tile_size_m / 2
        down = (walked < 0.5 * np.linalg.norm(command_xy, axis=1) * elapsed_s) & ~up
        self.level[ids] = np.clip(self.level[ids] + up.astype(int) - down.astype(int), 0, self.cfg.levels - 1)

    def spawn(self, ids: np.ndarray, height: float) -> np.ndarray:
        """Spawn points of ``ids`` at tiles of their levels: ``(n, 3)`` world positions (the tile centre
        ± 1 m), ``height`` m above the ground there plus the level's bump height (no foot starts inside a bump)."""
        cfg = self.cfg
        col = self.rng.integers(0, cfg.tiles_per_level, size=ids.size)
        jitter = self.rng.uniform(-1.0, 1.0, size=(ids.size, 2))
        centre = self.origin + cfg.tile_size_m * (np.stack([col, self.level[ids]], axis=1) + 0.5)
        xy = centre + jitter
        self.spawn_xy[ids] = xy
        bump = cfg.max_height_m * (self.level[ids] + 1) / cfg.levels
        return np.concatenate([xy, (self.height_at(xy) + bump + height)[:, None]], axis=1)
