"""Gamepad layouts and their mapping: button combinations fire once, sticks follow teleop_twist_joy's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from lm_reward_learning.config import config_dir
from lm_reward_learning.deploy.joystick import JoystickMapper, load_layouts
from lm_reward_learning.deploy.modes import REQUESTABLE, Mode
from lm_reward_learning.errors import ConfigError

LAYOUTS = load_layouts(config_dir() / "ros" / "joystick" / "layouts.yaml")


def joy(layout: str, pressed: tuple[str, ...] = (), **axes: float) -> tuple[list[int], list[float]]:
    """A Joy message's buttons and axes for ``layout`` with ``pressed`` held and the named axes deflected."""
    lay = LAYOUTS[layout]
    buttons = [0] * (max(lay.buttons.values()) + 1)
    for b in pressed:
        buttons[lay.buttons[b]] = 1
    n_axes = 6 if layout == "xbox" else 5
    values = [0.0] * n_axes
    names = {"xbox": ("left_x", "left_y", "right_x", "right_y"), "unitree": ("left_x", "left_y", "right_x", "right_y")}
    for name, v in axes.items():
        values[names[layout].index(name)] = v
    return buttons, values


@pytest.mark.parametrize("layout", ["xbox", "unitree"])
def test_shipped_layouts_map_every_mode_and_the_three_command_axes(layout):
    lay = LAYOUTS[layout]
    assert set(lay.modes) == set(REQUESTABLE)
    assert set(lay.velocity) == {"x", "y", "yaw"}
    # No combination is a subset of another: one press never asks for two modes.
    combos = [set(c) for c in lay.modes.values()]
    assert not any(a < b for a in combos for b in combos)


@pytest.mark.parametrize("layout", ["xbox", "unitree"])
def test_a_combination_fires_once_when_its_last_button_goes_down(layout):
    hold = "lb" if layout == "xbox" else "l2"
    m = JoystickMapper(LAYOUTS[layout])
    assert m.update(*joy(layout, (hold,))).requests == ()  # one button of the pair: nothing yet
    assert m.update(*joy(layout, (hold, "up"))).requests == (Mode.STAND_UP,)
    assert m.update(*joy(layout, (hold, "up"))).requests == ()  # still held: not again
    assert m.update(*joy(layout, (hold,))).requests == ()
    assert m.update(*joy(layout, (hold, "up"))).requests == (Mode.STAND_UP,)  # pressed again
    policy = ("rb", "x") if layout == "xbox" else ("r1", "x")
    assert m.update(*joy(layout, policy)).requests == (Mode.POLICY,)
    assert m.update(*joy(layout, (hold, "b"))).requests == (Mode.PASSIVE,)
    assert m.update(*joy(layout, (hold, "down"))).requests == (Mode.SIT_DOWN,)


def test_sticks_command_velocity_with_teleop_twist_joy_conventions_and_release_once():
    m = JoystickMapper(LAYOUTS["xbox"])
    assert m.update(*joy("xbox")).velocity is None  # centred: cmd_vel from elsewhere is not overridden
    # left stick fully up: +x at scale 1.0 m/s; half left: +y 0.5 * 0.5; right stick a quarter left: +yaw 0.25 rad/s
    assert m.update(*joy("xbox", left_y=1.0, left_x=0.5, right_x=0.25)).velocity == (1.0, 0.25, 0.25)
    assert m.update(*joy("xbox", left_y=0.04)).velocity == (0.0, 0.0, 0.0)  # inside the 0.05 dead zone: released
    assert m.update(*joy("xbox")).velocity is None  # the zero went out once
    assert m.update(*joy("xbox", left_y=-0.5)).velocity == (-0.5, 0.0, 0.0)


def test_a_short_message_counts_missing_buttons_as_released():
    m = JoystickMapper(LAYOUTS["xbox"])
    out = m.update([1, 1], [0.0])  # a pad with two buttons and one axis
    assert out.requests == () and out.velocity is None


def test_bad_layout_files_are_refused_naming_the_problem(tmp_path: Path):
    cases = {
        "modes: {walk: [a]}": "'walk' is not a mode one can ask for",
        "modes: {policy: [zz]}": "modes.policy must be a list of button names",
        "velocity: {x: {axis: nope, scale: 1.0}}": "velocity.x.axis must name one of",
        "colour: red": "unknown keys ['colour']",
        "enable_button: zz": "enable_button 'zz' is not one of",
    }
    for extra, message in cases.items():
        path = tmp_path / "layouts.yaml"
        path.write_text(f"pad:\n  buttons: {{a: 0}}\n  axes: {{ly: 1}}\n  {extra}\n")
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_layouts(path)
    with pytest.raises(ConfigError, match="cannot read joystick layouts"):
        load_layouts(tmp_path / "missing.yaml")
