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


def base_reward(state):
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


# ---- rules editor section (lm_reward_learning.bilevel.rules): regenerated on every edit ----

PARAMS_RULES = {'foot_contact_sync': {'weight': 1.0,
                       'phase_fr': 0.15,
                       'phase_rl': 0.74,
                       'phase_rr': 0.59,
                       'min_command': 0.1},
 'stepping_frequency_exp': {'weight': 2.0,
                            'target_hz': 2.84,
                            'std_hz': 1.5,
                            'duty_factor': 0.31,
                            'min_command': 0.1},
 'swing_duration_exp': {'weight': 4.0, 'target_s': 0.243, 'std_s': 0.15, 'min_command': 0.1},
 'stance_duration_l1': {'weight': -0.5, 'target_s': 0.1092, 'min_command': 0.1},
 'flight_phase_exp': {'weight': 0.3, 'min_command': 0.1}}
TERM_SCALES = {}
REMOVED_TERMS = ()


def foot_contact_sync(state, phase_fr, phase_rl, phase_rr, min_command):
    """Footfall pattern without a clock, in [-1, 1]: mean over foot pairs of cos(2π Δφ) (+1 same contact
    state, -1 opposite), normalised by the sum of |cos(2π Δφ)|. Zero when no motion is commanded. Shape (N,).
    """
    contact = state.foot_contact.float()
    num_feet = contact.shape[1]
    phases = [0.0, phase_fr, phase_rl, phase_rr][:num_feet]
    total = torch.zeros(state.num_envs, device=contact.device)
    norm = 0.0
    for i in range(num_feet):
        for j in range(i + 1, num_feet):
            target = math.cos(2.0 * math.pi * (phases[j] - phases[i]))
            agree = 1.0 - torch.abs(contact[:, i] - contact[:, j])
            total = total + target * (2.0 * agree - 1.0)
            norm = norm + abs(target)
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return total / max(norm, 1e-6) * moving.float()


def stepping_frequency_exp(state, target_hz, std_hz, duty_factor, min_command):
    """Stepping frequency at each touchdown: the swing that just ended implies a stride frequency
    f = (1 - duty_factor) / swing_s (Hildebrand: swing lasts (1 - d) T); reward exp(-((f - target_hz) / std_hz)^2)
    per landing foot, scaled by swing_s * target_hz so that landing more often earns no more. Shape (N,).
    """
    landed = state.first_contact.float()
    swing = torch.clamp(state.last_air_time_s, min=0.02)
    implied = (1.0 - duty_factor) / swing
    score = torch.exp(-torch.square((implied - target_hz) / std_hz)) * swing * target_hz
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return torch.sum(score * landed, dim=1) * moving.float()


def swing_duration_exp(state, target_s, std_s, min_command):
    """On each touchdown, (swing / target_s) * exp(-((swing - target_s) / std_s)^2); summed over feet.

    Swing is ``last_air_time_s`` (s) on the step a foot lands. The factor ``swing / target_s`` makes
    the reward per second independent of how often feet land: with duty factor d and stride frequency
    f, feet land 4 f times per second with swings of (1 - d) / f, so the rate is
    4 (1 - d) / target_s * exp(...), largest when the swing matches the target, instead of growing
    with the stepping rate. Zero when no motion is commanded. Shape (N,).
    """
    landed = state.first_contact.float()
    swing = state.last_air_time_s
    score = (swing / target_s) * torch.exp(-torch.square((swing - target_s) / std_s))
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return torch.sum(score * landed, dim=1) * moving.float()


def stance_duration_l1(state, target_s, min_command):
    """Sum over feet of how long each has stood beyond target_s, s (0 while within target).

    Penalises stances longer than the target stance time, which shortens the stride period.
    Shape (N,).
    """
    over = torch.clamp(state.feet_contact_time_s - target_s, min=0.0)
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return torch.sum(over, dim=1) * moving.float()


def flight_phase_exp(state, min_command):
    """1 when no foot touches the floor (a flight phase, as in a gallop or run), else 0. Shape (N,)."""
    airborne = torch.all(~state.foot_contact, dim=1).float()
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return airborne * moving.float()


def compute_reward(state):
    """Base program terms (scaled, minus removed ones) plus the library terms in PARAMS_RULES."""
    _, base_components = base_reward(state)
    components = {
        k: v * TERM_SCALES.get(k, 1.0) for k, v in base_components.items() if k not in REMOVED_TERMS
    }
    p = PARAMS_RULES
    components["foot_contact_sync"] = p["foot_contact_sync"]["weight"] * foot_contact_sync(state, phase_fr=p["foot_contact_sync"]["phase_fr"], phase_rl=p["foot_contact_sync"]["phase_rl"], phase_rr=p["foot_contact_sync"]["phase_rr"], min_command=p["foot_contact_sync"]["min_command"])
    components["stepping_frequency_exp"] = p["stepping_frequency_exp"]["weight"] * stepping_frequency_exp(state, target_hz=p["stepping_frequency_exp"]["target_hz"], std_hz=p["stepping_frequency_exp"]["std_hz"], duty_factor=p["stepping_frequency_exp"]["duty_factor"], min_command=p["stepping_frequency_exp"]["min_command"])
    components["swing_duration_exp"] = p["swing_duration_exp"]["weight"] * swing_duration_exp(state, target_s=p["swing_duration_exp"]["target_s"], std_s=p["swing_duration_exp"]["std_s"], min_command=p["swing_duration_exp"]["min_command"])
    components["stance_duration_l1"] = p["stance_duration_l1"]["weight"] * stance_duration_l1(state, target_s=p["stance_duration_l1"]["target_s"], min_command=p["stance_duration_l1"]["min_command"])
    components["flight_phase_exp"] = p["flight_phase_exp"]["weight"] * flight_phase_exp(state, min_command=p["flight_phase_exp"]["min_command"])
    return sum(components.values()), components
