# ruff: noqa: F821  (reward-program text: `torch` and `math` are provided by the loader, not imported)
"""Gait terms the ``rules`` synthesis backend adds to reward programs (data, never imported).

Each function is a reward term in Isaac Lab's style (``<quantity>_<kernel>``, one value per env,
shape ``(N,)``), written to pass the reward validator. None of them needs a clock input to the policy:
they reward the timing of the robot's own footfalls, which the policy controls.

Relations used (Hildebrand 1965): stride period ``T = 1 / f``; stance (contact) time ``d T`` and swing
(air) time ``(1 - d) T`` for duty factor ``d``.

Footfall patterns, two ways:

* ``foot_contact_sync`` needs no clock: for every pair of feet it rewards sharing the contact state
  when their phase offsets say "in phase" and opposite states when "half a stride apart", weighted by
  ``cos(2π Δφ)`` (trot: diagonal pairs together, lateral pairs apart; pace: ipsilateral pairs together;
  bound: fore pair and hind pair together, half a stride apart; pronk: all together).
* ``contact_schedule_exp`` is Walk These Ways' contact schedule (G. Margolis and P. Agrawal, "Walk
  These Ways: Tuning Robot Control for Generalization with Multiplicity of Behavior", CoRL 2022): foot
  ``i`` should be in stance while its phase ``(gait_phase + φ_i) mod 1`` is below the duty factor,
  smoothed by a normal CDF of width ``kappa``; the cost is the contact force of feet that should swing
  plus the speed of feet that should stand. It follows ``state.gait_phase`` (the env's nominal gait
  frequency), so the policy must observe that phase to follow it.

Phase offsets are ``phase_fr``, ``phase_rl``, ``phase_rr`` of FR, RL, RR after FL, in stride fractions
(bipeds: ``phase_fr`` is the right foot's lag after the left).
"""

PARAMS = {
    "swing_duration_exp": {"weight": 0.5, "target_s": 0.25, "std_s": 0.08, "min_command": 0.1},
    "stance_duration_l1": {"weight": -0.5, "target_s": 0.25, "min_command": 0.1},
    "base_height_osc_l2": {"weight": -1.0, "target_m": 0.3},
    "flight_phase_exp": {"weight": 0.3, "min_command": 0.1},
    "foot_contact_sync": {"weight": 1.0, "phase_fr": 0.5, "phase_rl": 0.5, "phase_rr": 0.0, "min_command": 0.1},
    "contact_schedule_exp": {
        "weight": -1.0, "phase_fr": 0.5, "phase_rl": 0.5, "phase_rr": 0.0, "duty_factor": 0.5, "kappa": 0.07,
        "force_scale_n": 100.0, "speed_scale_mps": 0.5,
    },
    "swing_height_exp": {"weight": 0.5, "target_m": 0.08, "std_m": 0.03, "min_command": 0.1},
    "stepping_frequency_exp": {"weight": 0.5, "target_hz": 2.0, "std_hz": 0.5, "duty_factor": 0.5, "min_command": 0.1},
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


def contact_schedule_exp(state, phase_fr, phase_rl, phase_rr, duty_factor, kappa, force_scale_n, speed_scale_mps):
    """Walk These Ways' contact-schedule cost (module docstring), summed over feet, in [0, F]: force on feet
    that should swing, (1 - C) (1 - exp(-F^2 / force_scale_n^2)), plus speed of feet that should stand,
    C (1 - exp(-|v|^2 / speed_scale_mps^2)), with C the smoothed desired contact. Shape (N,).
    """
    num_feet = state.foot_contact.shape[1]
    offsets = torch.tensor([0.0, phase_fr, phase_rl, phase_rr][:num_feet], device=state.gait_phase.device)
    phase = torch.remainder(state.gait_phase[:, None] + offsets[None, :], 1.0)

    def normal_cdf(x):
        return 0.5 * (1.0 + torch.erf(x / (kappa * math.sqrt(2.0))))

    desired = normal_cdf(phase) * (1.0 - normal_cdf(phase - duty_factor)) + normal_cdf(phase - 1.0) * (
        1.0 - normal_cdf(phase - 1.0 - duty_factor)
    )
    force_cost = (1.0 - desired) * (1.0 - torch.exp(-torch.square(state.foot_contact_force / force_scale_n)))
    speed = torch.linalg.norm(state.foot_vel_w[..., :2], dim=-1)
    speed_cost = desired * (1.0 - torch.exp(-torch.square(speed / speed_scale_mps)))
    return torch.sum(force_cost + speed_cost, dim=1)


def swing_height_exp(state, target_m, std_m, min_command):
    """Swing-foot clearance: mean over feet in the air of exp(-((z - target_m) / std_m)^2), z the foot height
    above the floor (world z), m. Zero with all feet down or no motion commanded. Shape (N,).
    """
    airborne = (~state.foot_contact).float()
    height = state.foot_pos_w[..., 2]
    score = torch.exp(-torch.square((height - target_m) / std_m)) * airborne
    moving = torch.linalg.norm(state.commands[:, :2], dim=1) > min_command
    return torch.sum(score, dim=1) / torch.clamp(torch.sum(airborne, dim=1), min=1.0) * moving.float()


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
    for name, fn in (
        ("foot_contact_sync", foot_contact_sync),
        ("contact_schedule_exp", contact_schedule_exp),
        ("swing_height_exp", swing_height_exp),
        ("stepping_frequency_exp", stepping_frequency_exp),
    ):
        args = {k: v for k, v in p[name].items() if k != "weight"}
        components[name] = p[name]["weight"] * fn(state, **args)
    return sum(components.values()), components
