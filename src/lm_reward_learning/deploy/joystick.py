"""A gamepad as the operator's console, without ROS: ``sensor_msgs/Joy`` → mode requests and velocity.

A :class:`JoystickLayout` (``config/ros/joystick/layouts.yaml``) names a pad's buttons and axes by
their index in ``Joy.buttons`` / ``Joy.axes`` and says

* which **button combination** asks for which mode (all its buttons held; it fires once, when the
  last of them goes down), as rl_sar and unitree_rl_lab switch their state machines, and
* which **axes** command the velocity, with teleop_twist_joy's conventions: ``v = scale * axis``
  per command axis (``x`` forward from the left stick's vertical axis, ``y`` left and ``yaw``
  counter-clockwise from horizontal axes, which ``joy`` reports positive to the left, REP 103),
  an optional enable (dead-man) button, and a dead zone.

:class:`JoystickMapper` turns each ``Joy`` message into a :class:`JoyInput`. The velocity is
reported while a stick is out of the dead zone (with the enable button held, if the layout has
one), and once more as zero when the sticks return; otherwise it is None, so ``cmd_vel`` from other
sources is not overridden by a centred pad (the latest request wins).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.deploy.modes import REQUESTABLE, Mode
from lm_reward_learning.errors import ConfigError

log = logging.getLogger(__name__)

VELOCITY_AXES = ("x", "y", "yaw")
"""Command axes of a layout's ``velocity`` table: v_x m/s, v_y m/s, yaw rate rad/s (base frame)."""


@dataclass(frozen=True)
class AxisMap:
    """One command axis: ``value = scale * Joy.axes[index]`` (0 inside the dead zone).

    Attributes:
        index: Index in ``Joy.axes``.
        scale: Command per unit of deflection: m/s or rad/s.
    """

    index: int
    scale: float


@dataclass(frozen=True)
class JoystickLayout:
    """The buttons and axes of one gamepad and what they command.

    Attributes:
        name: Layout name (``xbox``, ``unitree``).
        buttons: Button name → index in ``Joy.buttons``.
        modes: Mode → the button names held together to ask for it.
        velocity: ``x``, ``y``, ``yaw`` → :class:`AxisMap`.
        deadzone: Axis values with ``|value| <= deadzone`` count as 0.
        enable_button: Button that must be held for the sticks to command (teleop_twist_joy's
            ``enable_button``); None: the sticks always command.
    """

    name: str
    buttons: Mapping[str, int]
    modes: Mapping[Mode, tuple[str, ...]]
    velocity: Mapping[str, AxisMap]
    deadzone: float = 0.05
    enable_button: str | None = None


@dataclass(frozen=True)
class JoyInput:
    """What one ``Joy`` message asks for.

    Attributes:
        requests: Modes asked for by combinations that went down in this message (passive first).
        velocity: ``(v_x m/s, v_y m/s, yaw_rate rad/s)`` to request, or None (pad centred and idle).
    """

    requests: tuple[Mode, ...]
    velocity: tuple[float, float, float] | None


def load_layouts(path: Path) -> dict[str, JoystickLayout]:
    """Read the layouts of a YAML file (see ``config/ros/joystick/layouts.yaml``).

    Raises:
        ConfigError: naming the file and what is wrong (unknown key, unknown mode or button, bad index).
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read joystick layouts {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of layout names to layouts")
    return {name: _layout(path, name, spec) for name, spec in data.items()}


def _layout(path: Path, name: str, spec: Any) -> JoystickLayout:
    where = f"{path}: layout {name!r}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = set(spec) - {"buttons", "axes", "modes", "velocity", "deadzone", "enable_button", "source"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    buttons = _indices(where, "buttons", spec.get("buttons"))
    axes = _indices(where, "axes", spec.get("axes"))
    modes: dict[Mode, tuple[str, ...]] = {}
    for mode_name, combo in (spec.get("modes") or {}).items():
        try:
            mode = Mode(mode_name)
        except ValueError:
            mode = None
        if mode not in REQUESTABLE:
            raise ConfigError(
                f"{where}: {mode_name!r} is not a mode one can ask for ({[m.value for m in REQUESTABLE]})"
            )
        if not isinstance(combo, list) or not combo or any(b not in buttons for b in combo):
            raise ConfigError(f"{where}: modes.{mode_name} must be a list of button names from {sorted(buttons)}")
        modes[mode] = tuple(combo)
    velocity = {}
    for axis, entry in (spec.get("velocity") or {}).items():
        if axis not in VELOCITY_AXES or not isinstance(entry, dict) or set(entry) != {"axis", "scale"}:
            raise ConfigError(f"{where}: velocity.{axis} must be one of {VELOCITY_AXES} with keys axis, scale")
        if entry["axis"] not in axes or not isinstance(entry["scale"], (int, float)):
            raise ConfigError(f"{where}: velocity.{axis}.axis must name one of {sorted(axes)}; scale a number")
        velocity[axis] = AxisMap(axes[entry["axis"]], float(entry["scale"]))
    enable = spec.get("enable_button")
    if enable is not None and enable not in buttons:
        raise ConfigError(f"{where}: enable_button {enable!r} is not one of {sorted(buttons)}")
    deadzone = spec.get("deadzone", 0.05)
    if not isinstance(deadzone, (int, float)) or not 0 <= deadzone < 1:
        raise ConfigError(f"{where}: deadzone must be a number in [0, 1)")
    return JoystickLayout(name, buttons, modes, velocity, float(deadzone), enable)


def _indices(where: str, key: str, table: Any) -> dict[str, int]:
    ok = isinstance(table, dict) and all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in table.items())
    if not ok:
        raise ConfigError(f"{where}: {key} must map names to indices >= 0")
    return dict(table)


class JoystickMapper:
    """Edge detection and scaling for one layout (see the module docstring).

    Args:
        layout: The pad's layout.
    """

    def __init__(self, layout: JoystickLayout) -> None:
        self.layout = layout
        self._held: dict[Mode, bool] = dict.fromkeys(layout.modes, False)
        self._moving = False
        self._short_warned = False

    def update(self, buttons: Sequence[int], axes: Sequence[float]) -> JoyInput:
        """The requests and velocity of one ``Joy`` message (``buttons``, ``axes`` as in the message).

        A message shorter than the layout needs counts the missing buttons as released and axes as
        0 (logged once).
        """

        def pressed(name: str) -> bool:
            i = self.layout.buttons[name]
            if i >= len(buttons):
                self._warn_short(len(buttons), len(axes))
                return False
            return bool(buttons[i])

        requests = []
        for mode in sorted(self.layout.modes, key=lambda m: m is not Mode.PASSIVE):
            down = all(pressed(b) for b in self.layout.modes[mode])
            if down and not self._held[mode]:
                requests.append(mode)
            self._held[mode] = down
        return JoyInput(tuple(requests), self._velocity(axes, pressed))

    def _velocity(self, axes: Sequence[float], pressed: Any) -> tuple[float, float, float] | None:
        enabled = self.layout.enable_button is None or pressed(self.layout.enable_button)
        values = []
        for axis in VELOCITY_AXES:
            m = self.layout.velocity.get(axis)
            if m is None or m.index >= len(axes):
                if m is not None:
                    self._warn_short(-1, len(axes))
                values.append(0.0)
                continue
            v = float(axes[m.index])
            values.append(m.scale * v if abs(v) > self.layout.deadzone and enabled else 0.0)
        moving = any(v != 0.0 for v in values)
        if moving or self._moving:
            self._moving = moving
            return (values[0], values[1], values[2])
        return None

    def _warn_short(self, n_buttons: int, n_axes: int) -> None:
        if not self._short_warned:
            self._short_warned = True
            log.warning(
                "joy message has %s buttons and %d axes, fewer than layout %r uses: check joy_layout",
                "?" if n_buttons < 0 else n_buttons,
                n_axes,
                self.layout.name,
            )
