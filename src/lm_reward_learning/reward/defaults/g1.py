# ruff: noqa: F821  (a reward program: `torch` and `math` are provided by the loader, not imported)
"""Default reward of the Unitree G1 humanoid on flat ground: a periodic walking gait with velocity tracking.

Velocity tracking and regularisers follow Isaac Lab's ``G1FlatEnvCfg`` (isaaclab_tasks,
locomotion/velocity: ``config/g1/rough_env_cfg.py`` ``G1Rewards`` overridden by
``config/g1/flat_env_cfg.py``); the periodic gait terms follow unitree_rl_gym's G1
(``legged_gym/envs/g1/g1_env.py`` and ``g1_config.py``: ``contact``, ``feet_swing_height``,
``contact_no_vel``, ``hip_pos``, ``alive``, same weights), with this env's gait clock
(``state.gait_phase`` at ``env.gait_frequency_hz``; the policy observes it with ``env.gait_clock``):

* ``contact_phase_match``: per foot, 1 when its contact state matches the schedule (stance while its
  phase is below ``duty_factor``; the right foot half a stride after the left), unitree_rl_gym's
  ``_reward_contact`` (stance below 0.55 of its 0.8 s period). Weight 1.0 instead of its 0.18: with
  0.18 a policy that had learned to stand (150 iterations here) kept standing, since standing already
  matches one foot's schedule most of the time and stepping costs swing-height penalties; stepping must
  pay clearly within this CPU budget.
* ``feet_swing_height_l2``: squared error of each swinging foot's sole height from ``target_m``
  (unitree_rl_gym targets 0.08 m for the ankle-roll link origin; the sole site here sits ~0.03 m below
  that origin, so 0.07 m at the sole is a little more clearance).
* ``feet_distance_exp``: HumanoidGym's ``_reward_feet_distance`` (roboterax humanoid-gym,
  ``humanoid/envs/custom/humanoid_env.py``): planar distance of the feet kept within
  ``[min_m, max_m]`` (the G1 stands with its feet 0.24 m apart).

Other differences from Isaac Lab:

* ``hip_deviation_l2`` (unitree_rl_gym's ``hip_pos`` on hip roll and yaw, indices 1, 2, 7, 8: the
  G1's first 12 joints are the legs in the same order for the 29-joint robot and the ``legs`` group)
  replaces ``joint_deviation_l1``, which would also penalise the walking joints.
* ``base_height_l2`` (target 0.728 m, weight -10) is taken from unitree_rl_gym's ``G1RoughCfg`` to
  keep the robot standing; Isaac Lab uses a termination penalty (-200) instead, which the reward
  state does not expose; ``alive`` (0.15) rewards each step not fallen.
* ``feet_slide`` is unitree_rl_gym's ``contact_no_vel`` (squared 3-D speed of feet in contact).
* Not reproduced: ``dof_acc_l2`` (no joint accelerations in the state), ``dof_pos_limits`` (no joint
  limits in the state).

Each component is returned already weighted; weights are per second (the trainer multiplies the total
by dt).
"""

PARAMS = {
    "track_lin_vel_xy_exp": {"weight": 1.0, "std": 0.5},
    "track_ang_vel_z_exp": {"weight": 1.0, "std": 0.5},
    "contact_phase_match": {"weight": 1.0, "duty_factor": 0.55, "phase_right": 0.5},
    "feet_swing_height_l2": {"weight": -20.0, "target_m": 0.07},
    "feet_distance_exp": {"weight": 0.2, "min_m": 0.2, "max_m": 0.4},
    "feet_slide": {"weight": -0.2},
    "alive": {"weight": 0.15},
    "lin_vel_z_l2": {"weight": -2.0},
    "ang_vel_xy_l2": {"weight": -0.05},
    "flat_orientation_l2": {"weight": -1.0},
    "base_height_l2": {"weight": -10.0, "target_m": 0.728},
    "joint_torques_l2": {"weight": -2.0e-6},
    "action_rate_l2": {"weight": -0.01},
    "hip_deviation_l2": {"weight": -1.0},
}


def yaw_frame_velocity(state):
    """Base linear velocity rotated into the heading (yaw-only) frame, m/s. Shape (N, 3)."""
    w, x, y, z = state.base_quat_w.unbind(dim=1)
    yaw = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    c, s = torch.cos(yaw), torch.sin(yaw)
    v = state.base_lin_vel_w
    return torch.stack([c * v[:, 0] + s * v[:, 1], -s * v[:, 0] + c * v[:, 1], v[:, 2]], dim=1)


def track_lin_vel_xy_exp(state, std):
    """exp(-|v_cmd_xy - v_xy|^2 / std^2) with v in the heading frame. Shape (N,)."""
    error = torch.sum(torch.square(state.commands[:, :2] - yaw_frame_velocity(state)[:, :2]), dim=1)
    return torch.exp(-error / std**2)


def track_ang_vel_z_exp(state, std):
    """exp(-(yaw_rate_cmd - yaw_rate)^2 / std^2), world frame. Shape (N,)."""
    error = torch.square(state.commands[:, 2] - state.base_ang_vel_w[:, 2])
    return torch.exp(-error / std**2)


def contact_phase_match(state, duty_factor, phase_right):
    """Number of feet (0-2) whose contact state matches the gait schedule. Shape (N,).

    Foot i should stand while its phase (gait_phase + offset_i) mod 1 is below duty_factor; the left
    foot's offset is 0, the right's phase_right (a fraction of the stride).
    """
    offsets = torch.tensor([0.0, phase_right], device=state.gait_phase.device)
    phase = torch.remainder(state.gait_phase[:, None] + offsets[None, :], 1.0)
    stance = phase < duty_factor
    return torch.sum((stance == state.foot_contact).float(), dim=1)


def feet_swing_height_l2(state, target_m):
    """Sum over feet in the air of (sole height - target_m)^2, m^2. Shape (N,)."""
    airborne = (~state.foot_contact).float()
    return torch.sum(torch.square(state.foot_pos_w[..., 2] - target_m) * airborne, dim=1)


def feet_distance_exp(state, min_m, max_m):
    """HumanoidGym's feet distance: mean of exp(-100 |d_min|) and exp(-100 |d_max|), in [0, 1], where
    d_min = clamp(d - min_m, -0.5, 0) and d_max = clamp(d - max_m, 0, 0.5) for the planar distance d
    of the feet, m. 1 while min_m <= d <= max_m. Shape (N,).
    """
    d = torch.linalg.norm(state.foot_pos_w[:, 0, :2] - state.foot_pos_w[:, 1, :2], dim=1)
    d_min = torch.clamp(d - min_m, min=-0.5, max=0.0)
    d_max = torch.clamp(d - max_m, min=0.0, max=0.5)
    return 0.5 * (torch.exp(-100.0 * torch.abs(d_min)) + torch.exp(-100.0 * torch.abs(d_max)))


def feet_slide(state):
    """Squared 3-D speed of the feet that touch the floor, summed over feet, (m/s)^2. Shape (N,)."""
    speed_sq = torch.sum(torch.square(state.foot_vel_w), dim=2)
    return torch.sum(speed_sq * state.foot_contact.float(), dim=1)


def alive(state):
    """1 per env (the episode ends on a fall, so this counts the steps standing). Shape (N,)."""
    return torch.ones_like(state.base_height)


def lin_vel_z_l2(state):
    """Squared vertical base velocity, (m/s)^2. Shape (N,)."""
    return torch.square(state.base_lin_vel_b[:, 2])


def ang_vel_xy_l2(state):
    """Squared roll and pitch rates, (rad/s)^2. Shape (N,)."""
    return torch.sum(torch.square(state.base_ang_vel_b[:, :2]), dim=1)


def flat_orientation_l2(state):
    """Squared horizontal components of gravity in the base frame (0 when upright). Shape (N,)."""
    return torch.sum(torch.square(state.projected_gravity_b[:, :2]), dim=1)


def base_height_l2(state, target_m):
    """Squared deviation of the base height from the standing height, m^2. Shape (N,)."""
    return torch.square(state.base_height - target_m)


def joint_torques_l2(state):
    """Sum of squared joint torques, (N m)^2. Shape (N,)."""
    return torch.sum(torch.square(state.joint_torques), dim=1)


def action_rate_l2(state):
    """Sum of squared action changes between steps. Shape (N,)."""
    return torch.sum(torch.square(state.actions - state.last_actions), dim=1)


def hip_deviation_l2(state):
    """Sum of squared hip roll and yaw angles (joints 1, 2, 7, 8), rad^2. Shape (N,)."""
    return torch.sum(torch.square(state.joint_pos[:, [1, 2, 7, 8]]), dim=1)


def compute_reward(state):
    p = PARAMS
    terms = {
        "track_lin_vel_xy_exp": track_lin_vel_xy_exp(state, p["track_lin_vel_xy_exp"]["std"]),
        "track_ang_vel_z_exp": track_ang_vel_z_exp(state, p["track_ang_vel_z_exp"]["std"]),
        "contact_phase_match": contact_phase_match(
            state, p["contact_phase_match"]["duty_factor"], p["contact_phase_match"]["phase_right"]
        ),
        "feet_swing_height_l2": feet_swing_height_l2(state, p["feet_swing_height_l2"]["target_m"]),
        "feet_distance_exp": feet_distance_exp(state, p["feet_distance_exp"]["min_m"], p["feet_distance_exp"]["max_m"]),
        "feet_slide": feet_slide(state),
        "alive": alive(state),
        "lin_vel_z_l2": lin_vel_z_l2(state),
        "ang_vel_xy_l2": ang_vel_xy_l2(state),
        "flat_orientation_l2": flat_orientation_l2(state),
        "base_height_l2": base_height_l2(state, p["base_height_l2"]["target_m"]),
        "joint_torques_l2": joint_torques_l2(state),
        "action_rate_l2": action_rate_l2(state),
        "hip_deviation_l2": hip_deviation_l2(state),
    }
    components = {name: p[name]["weight"] * value for name, value in terms.items()}
    reward = sum(components.values())
    return reward, components
