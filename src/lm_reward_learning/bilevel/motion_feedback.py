"""``motion``: the offline upper level, a heuristic gait analyser (NOT a vision-language model).

When no VLM endpoint is configured, this backend stands in for the paper's VLM. It compares measured
numbers, not pictures: the expert's gait features measured from the video with OpenCV
(:mod:`lm_reward_learning.video.motion`: stride frequency from the periodicity of motion, vertical
bounce) against the robot's gait features measured from the simulator state of its rollout
(:func:`lm_reward_learning.gait.compute_features`: stride frequency, duty factor, flight fraction,
base height oscillation, speed). It writes the paper's four-part feedback from the differences, naming
terms of the gait-term library (``reward/library/gait_terms.py``) so the ``rules`` editor can act on
it. Every output is labelled :data:`LABEL`.

Footfall pattern: when the video's side-view footfall analysis (:mod:`lm_reward_learning.video.footfalls`)
is confident that the expert runs with an asymmetrical gait (fore and hind legs landing in groups,
with a flight phase) and the robot does not, the feedback carries a ``gait_pattern`` (a gallop at the
target frequency; a side view cannot tell a gallop from a bound) that the ``rules`` editor turns into
the footfall-pattern, timing and flight terms; repeated, it weighs the pattern term more. Likewise a
symmetrical expert (each girdle always has a foot down) against an asymmetrical robot asks for a trot.

A person (the expert features carry ``human_gait``, MediaPipe Pose's measurements from
:mod:`lm_reward_learning.video.human_pose`): the pattern asked for is the person's, a biped ``walk`` or
``run`` (by the person's duty factor) with the feet half a stride apart (phase offset 0.5), the person's
mean duty factor and the target stride frequency, unless the robot already shows that class with a duty
factor within :data:`DUTY_TOLERANCE`; and the robot's knee flexion peak (upper end of its range over the
rollout, :mod:`lm_reward_learning.gait.joint_angles`) and its excursion (peak minus the lower end of the
range) are compared with the person's: either more than :data:`KNEE_MARGIN_DEG` smaller (a shuffle with
stiff legs) asks for swing-foot clearance with ``swing_height_exp`` at :data:`SWING_HEIGHT_LEG` leg
lengths. The excursion matters for the G1, which stands with its knees bent at 38° (0.669 rad): a crouched
shuffle can come near a person's peak without ever lifting a foot.

Target stride frequency: the expert's, in real time (the video's time scale corrected by
``--video-speed``). With ``expert_leg_length_m`` given, it is scaled to the robot by dynamic
similarity, ``f_robot = f_expert * sqrt(L_expert / L_robot)`` (equal Froude numbers; Alexander &
Jayes 1983, "A dynamic similarity hypothesis for the gaits of quadrupedal mammals").
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, FeedbackRequest, GaitPattern
from lm_reward_learning.bilevel.rules import current_params
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.robots import get_robot

log = logging.getLogger(__name__)

LABEL = "motion (heuristic analyser, not a VLM)"
#: Below this confidence the side-view footfall hint is not acted on.
MIN_HINT_CONFIDENCE = 0.5
#: Robot gait classes that are asymmetrical running gaits (what an "asymmetric" hint asks for).
ASYMMETRIC_GAITS = frozenset({"canter/gallop", "bound", "pronk"})
#: Knee flexion peak deficit of the robot against the person above which swing clearance is asked for,
#: degrees (a person's swing peak is ~60-70 deg in walking, Winter 2009; 15 deg is well above the pose
#: estimate's spread between strides).
KNEE_MARGIN_DEG = 15.0
#: Swing-foot clearance asked for, leg lengths (the ``swing_height_exp`` target is this times the robot's leg
#: length; 0.15 leg is ~0.1 m on the G1, the foot height of legged_gym's / unitree_rl_gym's G1 feet-swing-height
#: reward, 0.08 m, rounded up for a person's higher step).
SWING_HEIGHT_LEG = 0.15
#: Largest duty-factor difference at which a robot already walks like the person.
DUTY_TOLERANCE = 0.1


class MotionFeedbackError(LmrlError):
    """The analyser lacks an input it needs (the rollout's simulator state or the expert's features)."""


@dataclass(frozen=True)
class MotionFeedback:
    """Offline feedback backend (``--feedback motion``).

    Attributes:
        expert_leg_length_m: The expert's leg length, m, for dynamic-similarity scaling of the stride
            frequency; None compares frequencies directly.
        tolerance: Relative stride-frequency error under which frequencies count as matching.
        max_weight: Cap of the swing-term weight when repeated feedback raises it.
    """

    expert_leg_length_m: float | None = None
    tolerance: float = 0.1
    max_weight: float = 4.0
    name: str = "motion"

    def target_frequency(self, expert_hz: float, robot_leg_length_m: float) -> float:
        """The robot's target stride frequency, Hz (see the module docstring)."""
        if self.expert_leg_length_m:
            return expert_hz * math.sqrt(self.expert_leg_length_m / robot_leg_length_m)
        return expert_hz

    def feedback(self, request: FeedbackRequest) -> Feedback:
        """Compare the expert's and the robot's gait features and write four-part feedback.

        Raises:
            MotionFeedbackError: if the request has no rollout arrays or no expert stride frequency.
        """
        from lm_reward_learning.gait import GaitInputError, compute_features
        from lm_reward_learning.rollout import load_rollout_trajectory

        if request.rollout_arrays is None:
            raise MotionFeedbackError("the motion analyser needs the rollout's simulator state (rollout.npz)")
        expert = request.expert_features or {}
        expert_hz = expert.get("stride_frequency_hz")
        if not expert_hz:
            raise MotionFeedbackError(
                "no stride frequency could be measured from the expert video; trim it to a clip where the "
                "subject moves periodically (--start/--end), or use --feedback human/openai."
            )
        spec = get_robot(request.robot)
        traj = load_rollout_trajectory(request.rollout_arrays)
        try:
            robot = compute_features(traj)
        except GaitInputError as exc:
            robot = None
            log.info("robot gait not measurable: %s", exc)
        target_hz = self.target_frequency(float(expert_hz), spec.leg_length)
        problems: list[str] = []
        rewrite: list[ComponentChange] = []
        add: list[ComponentChange] = []
        remove: list[str] = []
        existing = current_params(request.reward_source)
        with np.load(request.rollout_arrays) as arrays:
            fell = bool(arrays["fell"]) if "fell" in arrays else False
        speed = robot.forward_speed_mps if robot is not None else None
        robot_hz = robot.stride_frequency_hz if robot is not None else None
        duty = robot.duty_factor if robot is not None else ()
        mean_duty = min(max(sum(duty) / len(duty), 0.3), 0.7) if duty else 0.5

        if fell:
            problems.append("The robot falls during the rollout, while the expert keeps its balance throughout.")
            rewrite.append(
                ComponentChange(
                    "flat_orientation_l2", "Penalise body tilt more to keep upright.", {"weight_scale": 1.5}
                )
            )
        if speed is not None and speed < 0.3:
            problems.append(f"The robot barely moves forward ({speed:.2f} m/s) while the expert travels steadily.")
            rewrite.append(
                ComponentChange("track_lin_vel_xy_exp", "Reward forward velocity tracking more.", {"weight_scale": 1.3})
            )
        swing_target = round((1.0 - mean_duty) / target_hz, 4)
        stance_target = round(mean_duty / target_hz, 4)
        human = expert.get("human_gait")
        if human:
            pattern = self._human_pattern(human, robot, target_hz, existing, problems, rewrite)
        else:
            pattern = self._pattern(
                expert, robot.gait if robot is not None else None, target_hz, existing, problems, rewrite
            )
        if pattern is not None:
            log.info("footfall pattern asked for: %s (it sets the stride timing with its own duty factor)", pattern)
        elif robot_hz is None:
            problems.append(
                f"The robot shows no regular stride; the expert strides at {target_hz:.2f} Hz (target for this robot)."
            )
            add += self._frequency_terms(existing, swing_target, stance_target, raise_weight=False)
        else:
            rel = (robot_hz - target_hz) / target_hz
            if abs(rel) > self.tolerance:
                faster = "faster" if rel > 0 else "slower"
                problems.append(
                    f"The robot strides at {robot_hz:.2f} Hz, {abs(rel):.0%} {faster} than the target "
                    f"{target_hz:.2f} Hz measured from the expert."
                )
                # the stride terms are in place but the frequency is still off: weigh them more
                still = "swing_duration_exp" in existing
                changes = self._frequency_terms(existing, swing_target, stance_target, raise_weight=still)
                for c in changes:
                    (rewrite if c.name in existing else add).append(c)

        expert_bounce = expert.get("vertical_bounce_rel_height")
        robot_bounce = (
            robot.base_height_osc_m / spec.leg_length if robot is not None and robot.base_height_osc_m else None
        )
        if expert_bounce and robot_bounce is not None:
            if expert_bounce > 2.0 * robot_bounce and expert_bounce > 0.03:
                problems.append(
                    f"The expert's body bounces ({expert_bounce:.2f} of its height) far more than the robot's "
                    f"({robot_bounce:.2f} of its leg length): the expert's gait has more vertical motion."
                )
                rewrite.append(
                    ComponentChange("lin_vel_z_l2", "Allow more vertical motion of the body.", {"weight_scale": 0.5})
                )
                if "flight_phase_exp" not in existing:
                    add.append(ComponentChange("flight_phase_exp", "Reward moments with all feet off the ground."))
            elif robot_bounce > 2.0 * expert_bounce and robot_bounce > 0.05:
                problems.append("The robot's body bobs up and down much more than the expert's.")
                add.append(
                    ComponentChange(
                        "base_height_osc_l2",
                        "Keep the base near its standing height.",
                        {"target_m": spec.nominal_base_height},
                    )
                )
        knees = self._knee_clearance(request, human, spec.leg_length, existing, problems, add, rewrite) if human else {}
        measurements: dict[str, Any] = {
            "expert": expert,
            "target_stride_frequency_hz": target_hz,
            "robot": {
                "stride_frequency_hz": robot_hz,
                "duty_factor": list(duty),
                "forward_speed_mps": speed,
                "flight_fraction": robot.flight_fraction if robot is not None else None,
                "gait": robot.gait if robot is not None else None,
                "bounce_rel": robot_bounce,
                "fell": fell,
                **knees,
            },
        }
        if not problems:
            text = f"The robot's gait matches the expert's measured features (stride {robot_hz:.2f} Hz)."
        else:
            text = " ".join(problems)
        return Feedback(
            problems=tuple(problems),
            rewrite=tuple(rewrite),
            remove=tuple(remove),
            add=tuple(add),
            text=f"[{LABEL}] {text}",
            backend=LABEL,
            raw=json.dumps(measurements, default=float),
            measurements=measurements,
            gait_pattern=pattern,
        )

    def _pattern(
        self,
        expert: dict[str, Any],
        robot_gait: str | None,
        target_hz: float,
        existing: dict[str, dict[str, float]],
        problems: list[str],
        rewrite: list[ComponentChange],
    ) -> GaitPattern | None:
        """The gait pattern to ask for from the video's side-view footfalls (module docstring), or None."""
        ff = expert.get("footfalls") or {}
        if float(ff.get("confidence") or 0.0) < MIN_HINT_CONFIDENCE:
            return None
        hint = ff.get("gait_hint")
        if hint == "asymmetric" and robot_gait not in ASYMMETRIC_GAITS:
            problems.append(
                f"The expert's fore and hind legs land in separate groups and every foot is off the ground for "
                f"{float(ff.get('flight_fraction') or 0):.0%} of the stride (heuristic side-view estimate): an "
                f"asymmetrical running gait such as a gallop or bound. The robot's gait is {robot_gait or 'irregular'}."
            )
            gait = "gallop"
        elif hint == "symmetric" and robot_gait in ASYMMETRIC_GAITS:
            problems.append(
                "The expert always has a foot of each girdle on the ground (a symmetrical gait such as a trot; "
                f"heuristic side-view estimate), while the robot's gait is {robot_gait}."
            )
            gait = "trot"
        else:
            return None
        self._insist(gait, existing, rewrite)
        return GaitPattern(gait=gait, frequency_hz=round(target_hz, 3))

    def _insist(self, gait: str, existing: dict[str, dict[str, float]], rewrite: list[ComponentChange]) -> None:
        """Weigh the footfall-pattern term more when it was asked for before and the gait is still not there."""
        if "foot_contact_sync" in existing:
            weight = min(existing["foot_contact_sync"].get("weight", 1.0) * 1.5, self.max_weight)
            rewrite.append(
                ComponentChange("foot_contact_sync", f"Ask harder for the {gait} pattern.", {"weight": weight})
            )

    def _human_pattern(
        self,
        human: dict[str, Any],
        robot,
        target_hz: float,
        existing: dict[str, dict[str, float]],
        problems: list[str],
        rewrite: list[ComponentChange],
    ) -> GaitPattern | None:
        """The person's walk or run as a biped gait pattern (module docstring), or None if the robot has it."""
        duty = human.get("duty_factor")
        gait = human.get("gait")
        if not duty or gait not in ("walk", "run"):
            return None
        mean_duty = float(np.mean(duty))
        robot_duty = float(np.mean(robot.duty_factor)) if robot is not None and robot.duty_factor else None
        robot_gait = robot.gait if robot is not None else None
        if robot_gait == gait and robot_duty is not None and abs(robot_duty - mean_duty) <= DUTY_TOLERANCE:
            return None
        seen = "irregular" if robot_gait is None else f"a {robot_gait}"
        duty_text = "" if robot_duty is None else f", duty factor {robot_duty:.2f}"
        problems.append(
            f"The person {'walks' if gait == 'walk' else 'runs'} with the feet half a stride apart, each foot on "
            f"the ground for {mean_duty:.0%} of the stride (MediaPipe pose, heuristic); the robot's gait is "
            f"{seen}{duty_text}."
        )
        self._insist(gait, existing, rewrite)
        return GaitPattern(
            gait=gait, phase_offsets=(0.5,), duty_factor=round(mean_duty, 3), frequency_hz=round(target_hz, 3)
        )

    def _knee_clearance(
        self,
        request: FeedbackRequest,
        human: dict[str, Any],
        leg_length_m: float,
        existing: dict[str, dict[str, float]],
        problems: list[str],
        add: list[ComponentChange],
        rewrite: list[ComponentChange],
    ) -> dict[str, Any]:
        """Compare knee flexion peaks (module docstring); returns the robot's ranges for the measurements."""
        from lm_reward_learning.gait.joint_angles import SAGITTAL_JOINTS, JointAnglesError, rollout_sagittal_angles

        person = human.get("knee_flexion_range_deg")
        if request.robot not in SAGITTAL_JOINTS or not person:
            return {}
        try:
            angles = rollout_sagittal_angles(request.robot, request.rollout_arrays)
        except (JointAnglesError, KeyError) as exc:
            log.info("robot joint angles not measurable: %s", exc)
            return {}
        (robot_lo, robot_peak), (person_lo, person_peak) = angles.knee_flexion_range_deg, map(float, person)
        short_peak = robot_peak < person_peak - KNEE_MARGIN_DEG
        short_swing = robot_peak - robot_lo < person_peak - person_lo - KNEE_MARGIN_DEG
        if short_peak or short_swing:
            problems.append(
                f"The robot's knees bend between {robot_lo:.0f} and {robot_peak:.0f} deg, the person's between "
                f"{person_lo:.0f} and {person_peak:.0f} deg: the robot shuffles with stiff legs instead of lifting "
                "its feet."
            )
            target = round(SWING_HEIGHT_LEG * leg_length_m, 3)
            if "swing_height_exp" in existing:
                weight = min(existing["swing_height_exp"].get("weight", 0.5) * 1.5, self.max_weight)
                rewrite.append(
                    ComponentChange(
                        "swing_height_exp", "Lift the swinging feet higher.", {"target_m": target, "weight": weight}
                    )
                )
            else:
                add.append(
                    ComponentChange(
                        "swing_height_exp", f"Reward lifting the swinging feet to {target:.2f} m.", {"target_m": target}
                    )
                )
        return {
            "knee_flexion_range_deg": list(angles.knee_flexion_range_deg),
            "hip_flexion_range_deg": list(angles.hip_flexion_range_deg),
        }

    def _frequency_terms(
        self, existing: dict[str, dict[str, float]], swing_s: float, stance_s: float, *, raise_weight: bool
    ) -> list[ComponentChange]:
        """Swing/stance duration terms for a target stride period (weights raised if already targeted)."""
        params: dict[str, float] = {"target_s": swing_s}
        if raise_weight:
            weight = existing["swing_duration_exp"].get("weight", 0.5)
            params["weight"] = min(weight * 1.5, self.max_weight)
        return [
            ComponentChange(
                "swing_duration_exp", f"Reward swings lasting {swing_s:.3f} s (the target stride's swing).", params
            ),
            ComponentChange(
                "stance_duration_l1",
                f"Penalise stances longer than {stance_s:.3f} s (the target stride's stance).",
                {"target_s": stance_s},
            ),
        ]
