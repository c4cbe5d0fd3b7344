# ruff: noqa: F821  (a reward program: `torch` and `math` are provided by the loader, not imported)
"""Default reward of the Unitree G1 humanoid on flat ground: velocity tracking plus regularisers.

Terms and weights follow Isaac Lab's ``G1FlatEnvCfg`` (isaaclab_tasks, locomotion/velocity:
``config/g1/rough_env_cfg.py`` ``G1Rewards`` overridden by ``config/g1/flat_env_cfg.py``), with these
differences:

* ``joint_deviation_l1`` covers all joints at -0.05: Isaac Lab penalises only hip yaw/roll, arms and
  torso (-0.1 each), and a reward program does not know the joint order.
* ``base_height_l2`` (target 0.728 m, weight -10) is taken from unitree_rl_gym's ``G1RoughCfg`` to
  keep the robot standing; Isaac Lab uses a termination penalty (-200) instead, which the reward
  state does not expose.
* Not reproduced: ``dof_acc_l2`` (no joint accelerations in the state), ``dof_pos_limits`` (no joint
  limits in the state).

Each component is returned already weighted; weights are per second (the trainer multiplies the total
by dt).
"""

PARAMS = {
    "track_lin_vel_xy_exp": {"weight": 1.0, "std": 0.5},
    "track_ang_vel_z_exp": {"weight": 1.0, "std": 0.5},
    "feet_air_time": {"weight": 0.75, "threshold_s": 0.4, "min_command": 0.1},
    "feet_slide": {"weight": -0.1},
    "lin_vel_z_l2": {"weight": -0.2},
    "ang_vel_xy_l2": {"weight": -0.05},
    "flat_orientation_l2": {"weight": -1.0},
    "base_height_l2": {"weight": -10.0, "target_m": 0.728},
    "joint_torques_l2": {"weight": -2.0e-6},
    "action_rate_l2": {"weight": -0.005},
    "joint_deviation_l1": {"weight": -0.05},
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


def feet_air_time(state, threshold_s, min_command):
    """Biped stepping: in single stance, the shorter of the feet's current phase times, capped, in s.

    Zero in double support or flight, and when the commanded planar speed is below min_command.
    Shape (N,).
    """
    in_contact = state.foot_contact
    phase_time = torch.where(in_contact, state.feet_contact_time_s, state.feet_air_time_s)
    single_stance = torch.sum(in_contact.int(), dim=1) == 1
    reward = torch.min(torch.where(single_stance[:, None], phase_time, torch.zeros_like(phase_time)), dim=1)
    reward = torch.clamp(reward.values, max=threshold_s)
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return reward * moving.float()


def feet_slide(state):
    """Planar speed of the feet that touch the floor, summed over feet, m/s. Shape (N,)."""
    speed = torch.linalg.norm(state.foot_vel_w[:, :, :2], dim=2)
    return torch.sum(speed * state.foot_contact.float(), dim=1)


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


def joint_deviation_l1(state):
    """Sum of absolute joint offsets from the standing pose, rad. Shape (N,)."""
    return torch.sum(torch.abs(state.joint_pos - state.default_joint_pos), dim=1)


def compute_reward(state):
    p = PARAMS
    terms = {
        "track_lin_vel_xy_exp": track_lin_vel_xy_exp(state, p["track_lin_vel_xy_exp"]["std"]),
        "track_ang_vel_z_exp": track_ang_vel_z_exp(state, p["track_ang_vel_z_exp"]["std"]),
        "feet_air_time": feet_air_time(state, p["feet_air_time"]["threshold_s"], p["feet_air_time"]["min_command"]),
        "feet_slide": feet_slide(state),
        "lin_vel_z_l2": lin_vel_z_l2(state),
        "ang_vel_xy_l2": ang_vel_xy_l2(state),
        "flat_orientation_l2": flat_orientation_l2(state),
        "base_height_l2": base_height_l2(state, p["base_height_l2"]["target_m"]),
        "joint_torques_l2": joint_torques_l2(state),
        "action_rate_l2": action_rate_l2(state),
        "joint_deviation_l1": joint_deviation_l1(state),
    }
    components = {name: p[name]["weight"] * value for name, value in terms.items()}
    reward = sum(components.values())
    return reward, components
