# ruff: noqa: F821  (reward-program text: `torch` and `math` are provided by the loader, not imported)
"""Gait terms the ``rules`` synthesis backend adds to reward programs (data, never imported).

Each function is a reward term in Isaac Lab's style (``<quantity>_<kernel>``, one value per env,
shape ``(N,)``), written to pass the reward validator. None of them needs a clock input to the policy:
they reward the timing of the robot's own footfalls, which the policy controls.

Relations used (Hildebrand 1965): stride period ``T = 1 / f``; stance (contact) time ``d T`` and swing
(air) time ``(1 - d) T`` for duty factor ``d``.
"""

PARAMS = {
    "swing_duration_exp": {"weight": 0.5, "target_s": 0.25, "std_s": 0.08, "min_command": 0.1},
    "stance_duration_l1": {"weight": -0.5, "target_s": 0.25, "min_command": 0.1},
    "base_height_osc_l2": {"weight": -1.0, "target_m": 0.3},
    "flight_phase_exp": {"weight": 0.3, "min_command": 0.1},
}


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


def base_height_osc_l2(state, target_m):
    """Squared deviation of the base height from target_m, m^2. Shape (N,)."""
    return torch.square(state.base_height - target_m)


def flight_phase_exp(state, min_command):
    """1 when no foot touches the floor (a flight phase, as in a gallop or run), else 0. Shape (N,)."""
    airborne = torch.all(~state.foot_contact, dim=1).float()
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return airborne * moving.float()


def compute_reward(state):
    """Sum of all library terms with their default weights (lets the validator check the library)."""
    p = PARAMS
    components = {
        "swing_duration_exp": p["swing_duration_exp"]["weight"]
        * swing_duration_exp(
            state,
            p["swing_duration_exp"]["target_s"],
            p["swing_duration_exp"]["std_s"],
            p["swing_duration_exp"]["min_command"],
        ),
        "stance_duration_l1": p["stance_duration_l1"]["weight"]
        * stance_duration_l1(state, p["stance_duration_l1"]["target_s"], p["stance_duration_l1"]["min_command"]),
        "base_height_osc_l2": p["base_height_osc_l2"]["weight"]
        * base_height_osc_l2(state, p["base_height_osc_l2"]["target_m"]),
        "flight_phase_exp": p["flight_phase_exp"]["weight"]
        * flight_phase_exp(state, p["flight_phase_exp"]["min_command"]),
    }
    return sum(components.values()), components
