# ruff: noqa: F821  (a reward program: `torch` and `math` are provided by the loader, not imported)
"""Default reward of the Unitree Go2 on flat ground: velocity tracking plus regularisers.

Terms and weights follow Isaac Lab's ``UnitreeGo2FlatEnvCfg`` (isaaclab_tasks, locomotion/velocity:
``velocity_env_cfg.RewardsCfg`` overridden by ``config/go2/rough_env_cfg.py`` and ``flat_env_cfg.py``).
Not reproduced: ``dof_acc_l2`` (-2.5e-7; the reward state has no joint accelerations) and
``undesired_contacts`` (disabled for Go2 in Isaac Lab). Changed: ``feet_air_time`` threshold 0.2 s
instead of Isaac Lab's 0.5 s. With this project's CPU budget (300 iterations × 256 envs), the 0.5 s
threshold penalised every step the robot took, and the deterministic policy learned to stand and
shuffle only under exploration noise (0.01 m/s in a 10 s rollout); with 0.2 s it walks (0.78 m/s at a
0.8 m/s command). Each component is returned already weighted; weights are per second (the trainer
multiplies the total by dt).
"""

PARAMS = {
    "track_lin_vel_xy_exp": {"weight": 1.5, "std": math.sqrt(0.25)},
    "track_ang_vel_z_exp": {"weight": 0.75, "std": math.sqrt(0.25)},
    "lin_vel_z_l2": {"weight": -2.0},
    "ang_vel_xy_l2": {"weight": -0.05},
    "joint_torques_l2": {"weight": -2.0e-4},
    "action_rate_l2": {"weight": -0.01},
    "feet_air_time": {"weight": 0.25, "threshold_s": 0.2, "min_command": 0.1},
    "flat_orientation_l2": {"weight": -2.5},
}


def track_lin_vel_xy_exp(state, std):
    """exp(-|v_cmd_xy - v_xy|^2 / std^2), base frame. Shape (N,)."""
    error = torch.sum(torch.square(state.commands[:, :2] - state.base_lin_vel_b[:, :2]), dim=1)
    return torch.exp(-error / std**2)


def track_ang_vel_z_exp(state, std):
    """exp(-(yaw_rate_cmd - yaw_rate)^2 / std^2), base frame. Shape (N,)."""
    error = torch.square(state.commands[:, 2] - state.base_ang_vel_b[:, 2])
    return torch.exp(-error / std**2)


def lin_vel_z_l2(state):
    """Squared vertical base velocity, (m/s)^2. Shape (N,)."""
    return torch.square(state.base_lin_vel_b[:, 2])


def ang_vel_xy_l2(state):
    """Squared roll and pitch rates, (rad/s)^2. Shape (N,)."""
    return torch.sum(torch.square(state.base_ang_vel_b[:, :2]), dim=1)


def joint_torques_l2(state):
    """Sum of squared joint torques, (N m)^2. Shape (N,)."""
    return torch.sum(torch.square(state.joint_torques), dim=1)


def action_rate_l2(state):
    """Sum of squared action changes between steps. Shape (N,)."""
    return torch.sum(torch.square(state.actions - state.last_actions), dim=1)


def feet_air_time(state, threshold_s, min_command):
    """Sum over feet touching down this step of (last swing duration - threshold), in s.

    Zero when the commanded planar speed is below min_command (no stepping asked for). Shape (N,).
    """
    touchdown = state.first_contact.float()
    reward = torch.sum((state.last_air_time_s - threshold_s) * touchdown, dim=1)
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return reward * moving.float()


def flat_orientation_l2(state):
    """Squared horizontal components of gravity in the base frame (0 when level). Shape (N,)."""
    return torch.sum(torch.square(state.projected_gravity_b[:, :2]), dim=1)


def compute_reward(state):
    p = PARAMS
    terms = {
        "track_lin_vel_xy_exp": track_lin_vel_xy_exp(state, p["track_lin_vel_xy_exp"]["std"]),
        "track_ang_vel_z_exp": track_ang_vel_z_exp(state, p["track_ang_vel_z_exp"]["std"]),
        "lin_vel_z_l2": lin_vel_z_l2(state),
        "ang_vel_xy_l2": ang_vel_xy_l2(state),
        "joint_torques_l2": joint_torques_l2(state),
        "action_rate_l2": action_rate_l2(state),
        "feet_air_time": feet_air_time(state, p["feet_air_time"]["threshold_s"], p["feet_air_time"]["min_command"]),
        "flat_orientation_l2": flat_orientation_l2(state),
    }
    components = {name: p[name]["weight"] * value for name, value in terms.items()}
    reward = sum(components.values())
    return reward, components
