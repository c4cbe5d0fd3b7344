"""The steps of one bi-level iteration, each resumable from the learn-run store.

:mod:`lm_reward_learning.bilevel.loop` calls these in the paper's order; every step first looks for
its saved output (see :mod:`~lm_reward_learning.bilevel.store`) and returns it when present.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lm_reward_learning.bilevel import exchanges
from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.protocols import Feedback, FeedbackBackend, FeedbackRequest, SynthesisRequest
from lm_reward_learning.bilevel.rules import unified_diff
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.config import load_train_config
from lm_reward_learning.errors import LmrlError, RewardRuntimeError
from lm_reward_learning.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from lm_reward_learning.reward.program import RewardProgram, default_program
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.run_dir import RunDir

if TYPE_CHECKING:
    from lm_reward_learning.video.clip import VideoClip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expert:
    """The processed expert clip.

    Attributes:
        clip_path: Trimmed, speed-corrected clip (MP4).
        frames: Sampled frames for the feedback backend, uint8 ``(K, H, W, 3)``.
        all_frames: Every frame of the clip (for the side-by-side video), uint8 ``(T, H, W, 3)``.
        fps: Frame rate of the clip in real time, Hz.
        features: Gait features measured from the video (``stride_frequency_hz``, ``bounce_rel``, ...).
    """

    clip_path: Path
    frames: np.ndarray
    all_frames: np.ndarray
    fps: float
    features: dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    """A reward program trained into a policy.

    Attributes:
        iteration: Loop iteration (0 = initial program).
        index: Candidate index within the iteration.
        source: Reward program source.
        run: Its training run directory.
        score: Objective score in [0, 1] (higher is better) and what it is made of.
        rollout_video: Rollout MP4 of the trained policy.
        rollout_arrays: Rollout simulator state (``.npz``).
    """

    iteration: int
    index: int
    source: str
    run: Path
    score: dict[str, Any]
    rollout_video: Path
    rollout_arrays: Path

    @property
    def value(self) -> float:
        """The scalar score."""
        return float(self.score["score"])


# --------------------------------------------------------------------------------------------- expert
@dataclass(frozen=True)
class ExpertVideo:
    """The expert video decoded and measured, before anything is written (see :func:`load_expert`).

    Attributes:
        clip: The trimmed, speed-corrected clip (max side 320 px).
        features: Gait features measured from it, or None when not measured.
    """

    clip: VideoClip
    features: dict[str, Any] | None


def load_expert(cfg: LearnConfig, *, measure: bool = True) -> ExpertVideo:
    """Load, trim and speed-correct the expert video and (``measure``) measure its gait; write nothing.

    ``lmrl learn`` calls this before it makes the run directory, so a bad video leaves nothing behind.

    Raises:
        lm_reward_learning.video.errors.VideoError: unreadable, empty, truncated, audio-only or
            unsupported video (a single image, a text file), an empty trim window, or a clip too short /
            without periodic motion; for a human subject also no person with feet in view
            (:class:`~lm_reward_learning.video.human_pose.NoPersonError`).
        lm_reward_learning.video.human_pose.PoseUnavailableError: a human subject without MediaPipe Pose.
    """
    clip = decode_expert(cfg, max_side=320)
    return ExpertVideo(clip, measure_expert(cfg, clip) if measure else None)


def decode_expert(cfg: LearnConfig, max_side: int) -> VideoClip:
    """The expert video as the config selects it (source, trim window, playback speed), scaled so that its
    long side is at most ``max_side`` px (:func:`~lm_reward_learning.video.io.load_video`; errors as there)."""
    from lm_reward_learning.video import io as vio

    return vio.load_video(
        cfg.video_source(),
        start_s=cfg.video_start_s,
        end_s=cfg.video_end_s,
        speed=cfg.effective_video_speed,
        max_side=max_side,
    )


def measure_expert(cfg: LearnConfig, clip: VideoClip) -> dict[str, Any]:
    """Gait features of the expert clip: the silhouette analyser's
    (:func:`~lm_reward_learning.video.motion.analyse_expert_video`: stride, bounce, side-view footfalls) and,
    for a human subject (:attr:`LearnConfig.expert_subject`), MediaPipe Pose's on a decode of at most
    :data:`~lm_reward_learning.video.human_pose.POSE_MAX_SIDE` px
    (:func:`~lm_reward_learning.video.human_pose.analyse_human_video`): then stride frequency, duty factor,
    flight fraction, speed and gait class are pose's, ``human_gait`` holds all it measured (cadence, step
    length, double support, hip and knee flexion ranges), and ``silhouette`` what the silhouette analyser
    said (its leg-group footfalls are made for quadrupeds; a clip too short or still for it is left to pose).

    Raises:
        lm_reward_learning.video.errors.VideoError: see :func:`load_expert`.
        lm_reward_learning.video.human_pose.PoseUnavailableError: a human subject without MediaPipe Pose.
    """
    from lm_reward_learning.video import human_pose
    from lm_reward_learning.video import motion as vmotion
    from lm_reward_learning.video.errors import ClipTooShortError, NoMotionError

    if cfg.expert_subject != "human":
        return vmotion.analyse_expert_video(clip).to_gait_features()
    try:
        silhouette = vmotion.analyse_expert_video(clip).to_gait_features()
    except (ClipTooShortError, NoMotionError) as exc:  # pose decides whether the clip shows a gait
        silhouette = {"error": str(exc)}
    pose_clip = decode_expert(cfg, max_side=human_pose.POSE_MAX_SIDE)
    gait = human_pose.analyse_human_video(pose_clip, leg_length_m=cfg.effective_expert_leg_length_m)
    features = {k: silhouette.get(k) for k in ("vertical_bounce_rel_height", "forward_speed_body_lengths_s")}
    features.update(gait.to_gait_features())
    features["silhouette"] = silhouette  # the silhouette analyser's own (quadruped-minded) measurements
    return features


def prepare_expert(cfg: LearnConfig, store: LearnStore, loaded: ExpertVideo | None = None) -> Expert:
    """Load, trim and speed-correct the expert video; sample frames; measure its gait (or reuse
    ``loaded``, from :func:`load_expert`); save the clip and the measurements in the store.

    Raises:
        lm_reward_learning.video.errors.VideoError: see :func:`load_expert`.
    """
    from lm_reward_learning.video import io as vio

    d = store.expert_dir
    features = read_json(d / "motion.json")  # measured by an earlier run of this store: keep it
    if loaded is None:
        loaded = load_expert(cfg, measure=features is None)
    clip = loaded.clip
    if not (d / "clip.mp4").is_file():
        vio.write_video(d / "clip.mp4", clip.frames, clip.fps)
    if features is None:
        features = loaded.features if loaded.features is not None else measure_expert(cfg, clip)
        atomic_write_json(d / "motion.json", features)
    return Expert(d / "clip.mp4", frames_for_feedback(cfg, clip, "expert"), clip.frames, float(clip.fps), features)


def sample_indices(cfg: LearnConfig, clip) -> np.ndarray:
    """Indices of the frames shown to the feedback backend (``cfg.frame_sampling``)."""
    from lm_reward_learning.video import sampling

    if cfg.frame_sampling == "motion":
        return np.asarray(sampling.sample_motion_aware(clip, cfg.num_frames))
    return np.asarray(sampling.sample_uniform(clip, cfg.num_frames))


def frames_for_feedback(cfg: LearnConfig, clip, label: str) -> np.ndarray:
    """The images the feedback backend sees: sampled frames, or with ``frame_sampling: grid`` one SDS-style
    grid image of them (frame numbers and times stamped). uint8, shape ``(K, H, W, 3)`` or ``(1, H', W', 3)``.
    """
    from lm_reward_learning.video import sampling

    frames = clip.frames if hasattr(clip, "frames") else np.asarray(clip)  # a VideoClip or bare frames
    idx = sample_indices(cfg, clip)
    if cfg.frame_sampling != "grid":
        return frames[idx]
    cols = max(1, math.ceil(math.sqrt(len(idx))))
    grid = sampling.frame_grid(frames[idx], cols, label=label, indices=idx, fps=getattr(clip, "fps", None))
    return grid[None]


# --------------------------------------------------------------------------------------------- training
def train_config(cfg: LearnConfig, iterations: int):
    """The :class:`~lm_reward_learning.config.TrainConfig` of one training inside the loop."""
    return load_train_config(
        cfg.robot,
        iterations=iterations,
        seed=cfg.seed,
        backend=cfg.backend,
        device=cfg.device,
        **{"env.num_envs": cfg.num_envs},
    )


def initial_program(cfg: LearnConfig) -> RewardProgram:
    """The starting reward program: ``cfg.initial_reward`` or the robot's bundled one."""
    if cfg.initial_reward:
        return RewardProgram.from_file(Path(cfg.initial_reward))
    return default_program(cfg.robot)


def train_candidate(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    m: int,
    source: str,
    warm: Candidate | None,
    expert: Expert | None,
    *,
    progress: bool = True,
) -> Candidate:
    """Train candidate ``m`` of iteration ``k`` (resuming an interrupted training), roll it out, score it.

    Raises:
        RewardRuntimeError: the candidate's reward program failed during training (now, or in the run
            being resumed: it is not trained again).
    """
    from lm_reward_learning.training.trainer import prepare_run, train

    iterations = cfg.initial_train_iterations if k == 0 else cfg.train_iterations
    tcfg = train_config(cfg, iterations)
    run_path, resume = candidate_run(store, k, m)
    if not resume:
        program = RewardProgram(source=source, name=f"iter{k}_cand{m}", origin=f"learn:{store.path.name}")
        prepare_run(cfg.robot, program, tcfg, run_path.parent, run_path=run_path)
    run = RunDir.open(run_path)
    if run.meta().get("status") != "done":
        warm_ckpt = warm.run / "checkpoints" / "latest.pt" if (warm is not None and cfg.warm_start) else None
        train(run, tcfg, resume=resume, warm_start=None if resume else warm_ckpt, progress=progress)
    return evaluate_candidate(cfg, store, k, m, source, run, expert)


def candidate_run(store: LearnStore, k: int, m: int) -> tuple[Path, bool]:
    """The training run folder of candidate ``m`` of iteration ``k`` and whether to resume it.

    A run with a checkpoint that was interrupted, or whose worker died or was stopped, is resumed; one
    interrupted before training started is removed (nothing to keep).

    Raises:
        RewardRuntimeError: the run's reward program failed in training: it would fail the same way again.
    """
    run_path = store.cand_dir(k, m) / "train"
    if not run_path.exists():
        return run_path, False
    meta = RunDir.open(run_path).meta() if (run_path / "run.yaml").is_file() else {}
    if meta.get("status") == "failed" and RewardRuntimeError.is_failure(meta.get("failure")):
        raise RewardRuntimeError.from_failure(meta["failure"])
    failure = meta.get("failure") or {}
    stopped = meta.get("status") == "failed" and failure.get("kind") in ("died", "timeout")
    resumable = meta.get("status") in ("training", "done") or stopped
    if resumable and (run_path / "checkpoints" / "latest.pt").is_file():
        if stopped:  # its worker died or was stopped: go on from the last checkpoint
            RunDir(run_path).write_meta(failure=None)
        return run_path, True
    shutil.rmtree(run_path)  # interrupted before training started: nothing to keep
    return run_path, False


def evaluate_candidate(
    cfg: LearnConfig, store: LearnStore, k: int, m: int, source: str, run: RunDir, expert: Expert | None
) -> Candidate:
    """Roll the candidate's policy out (video + state) and compute its objective score."""
    from lm_reward_learning.export import load_policy
    from lm_reward_learning.rollout import rollout

    d = store.cand_dir(k, m)
    video, arrays = d / "rollout.mp4", d / "rollout.npz"
    score = read_json(d / "score.json")
    if score is None or not video.is_file() or not arrays.is_file():
        policy, _, tcfg, env = load_policy(run)
        vx = float(np.mean(tcfg.env.commands.lin_vel_x))
        rollout(
            policy, env, duration_s=cfg.rollout_s, command=(vx, 0.0, 0.0), video=video, arrays=arrays, view=cfg.view
        )
        score = objective_score(cfg, arrays, expert)
        atomic_write_json(d / "score.json", score)
    return Candidate(k, m, source, run.path, score, video, arrays)


def objective_score(cfg: LearnConfig, arrays: Path, expert: Expert | None) -> dict[str, Any]:
    """Objective score of a rollout in [0, 1].

    With ``cfg.reference``: the gait similarity to that reference (:func:`lm_reward_learning.gait.similarity`).
    Otherwise ``0.5 * stride_match + 0.5 * speed_factor`` (0 if the robot fell), where
    ``stride_match = exp(-4 |f - f_target| / f_target)`` (the expert's stride frequency as target; 0 if
    the robot shows no stride; 1 in Eureka mode without a video) and ``speed_factor = min(v / 0.5, 1)``.
    """
    from lm_reward_learning.bilevel.motion_feedback import MotionFeedback
    from lm_reward_learning.gait import GaitInputError, compute_features, reference_features, similarity
    from lm_reward_learning.rollout import load_rollout_trajectory

    spec = get_robot(cfg.robot)
    with np.load(arrays) as a:
        fell = bool(a["fell"])
    try:
        feats = compute_features(load_rollout_trajectory(arrays))
    except GaitInputError:
        feats = None
    speed = feats.forward_speed_mps if feats is not None and feats.forward_speed_mps is not None else 0.0
    robot_hz = feats.stride_frequency_hz if feats is not None else None
    out: dict[str, Any] = {"fell": fell, "forward_speed_mps": speed, "stride_frequency_hz": robot_hz}
    if cfg.reference:
        if feats is None:
            out.update(score=0.0, kind=f"gait similarity to {cfg.reference} (not measurable)")
        else:
            gs = similarity(feats, reference_features(cfg.reference))
            out.update(score=0.0 if fell else gs.score, kind=f"gait similarity to {cfg.reference}", table=gs.table())
        return out
    target = None
    if expert is not None and expert.features.get("stride_frequency_hz"):
        target = MotionFeedback(expert_leg_length_m=cfg.effective_expert_leg_length_m).target_frequency(
            float(expert.features["stride_frequency_hz"]), spec.leg_length
        )
    stride = 1.0 if target is None else math.exp(-4.0 * abs(robot_hz - target) / target) if robot_hz else 0.0
    speed_factor = min(max(speed, 0.0) / 0.5, 1.0)
    out.update(
        target_stride_frequency_hz=target,
        stride_match=stride,
        speed_factor=speed_factor,
        score=0.0 if fell else 0.5 * stride + 0.5 * speed_factor,
        kind="stride-frequency match and forward speed",
    )
    return out


# --------------------------------------------------------------------------------------------- upper level
def side_by_side_video(store: LearnStore, k: int, cand: Candidate, expert: Expert | None) -> Path:
    """Write ``iter_KK/side_by_side.mp4`` (expert | robot, time-aligned); return its path."""
    from lm_reward_learning.video import io as vio
    from lm_reward_learning.video import sampling

    out = store.iter_dir(k) / "side_by_side.mp4"
    if not out.is_file():
        robot = vio.load_video(cand.rollout_video)
        if expert is None:
            vio.write_video(out, robot.frames, robot.fps)
        else:
            frames = sampling.side_by_side(expert.all_frames, expert.fps, robot.frames, robot.fps, fps=25.0)
            vio.write_video(out, frames, 25.0)
    return out


def visual_feedback(
    cfg: LearnConfig, store: LearnStore, k: int, backend: FeedbackBackend, cand: Candidate, expert: Expert
) -> Feedback:
    """Upper level: ask the feedback backend to compare the expert with the current rollout."""
    from lm_reward_learning.video import io as vio

    saved = read_json(store.iter_dir(k) / "feedback.json")
    if saved is not None:
        return Feedback.from_dict(saved)
    sbs = side_by_side_video(store, k, cand, expert)
    robot = vio.load_video(cand.rollout_video)
    arrays = cand.rollout_arrays if cand.rollout_arrays.is_file() else None
    if arrays is None:  # a run written by hand or by an older version: feedback from the videos alone
        log.warning("%s is missing: the feedback gets no measured gait evidence", cand.rollout_arrays)
    request = FeedbackRequest(
        iteration=k,
        robot=cfg.robot,
        task=cfg.task,
        expert_video=expert.clip_path,
        expert_frames=expert.frames,
        expert_fps=expert.fps,
        rollout_video=cand.rollout_video,
        rollout_frames=frames_for_feedback(cfg, robot, "robot"),
        side_by_side_video=sbs,
        reward_source=cand.source,
        rollout_arrays=arrays,
        expert_features=expert.features,
        evidence=rollout_evidence(cfg, store, k, cand, expert) if cfg.evidence and arrays else None,
    )
    try:
        with exchanges.at(store, "feedback", k):
            feedback = backend.feedback(request)
    finally:
        exchange = getattr(backend, "last_exchange", None)  # prompt, answers, token usage (openai)
        if exchange:
            atomic_write_json(store.iter_dir(k) / "feedback_exchange.json", exchange)
    atomic_write_json(store.iter_dir(k) / "feedback.json", feedback.to_dict())
    return feedback


def rollout_evidence(cfg: LearnConfig, store: LearnStore, k: int, cand: Candidate, expert: Expert):
    """Measured gait, contact timing, footfall diagram (``iter_KK/footfalls.png``) and hard facts of the
    current rollout (:mod:`~lm_reward_learning.bilevel.evidence`); saved as ``iter_KK/evidence.json``."""
    from lm_reward_learning.bilevel import evidence

    command = float(np.mean(train_config(cfg, 1).env.commands.lin_vel_x))  # as the rollout holds it
    measured = evidence.measure(cand.rollout_arrays, expert.features, command, store.iter_dir(k) / "footfalls.png")
    atomic_write_json(store.iter_dir(k) / "evidence.json", measured.to_dict())
    return measured


# --------------------------------------------------------------------------------------------- lower level
def env_description(robot: str) -> str:
    """The environment as text for the synthesis backend: robot, joints, feet, ``RewardState`` fields, and
    the gait vocabulary of the reward library (terms it may copy: footfall pattern, timing, clearance)."""
    from lm_reward_learning.reward.state import field_table

    spec = get_robot(robot)
    return (
        f"Robot: {spec.name} ({spec.kind}), {spec.num_joints} actuated joints in this order: "
        f"{', '.join(spec.joint_names)}. Feet (order of the feet axis F): {', '.join(spec.foot_sites)}. "
        f"Nominal base height {spec.nominal_base_height:.3f} m, leg length {spec.leg_length:.3f} m. "
        f"Policy at 50 Hz (dt = 0.02 s). The velocity command is in state.commands.\n\n"
        f"compute_reward(state) receives a RewardState with these fields:\n{field_table()}\n\n"
        f"{gait_vocabulary()}"
    )


def gait_vocabulary() -> str:
    """The reward library's gait terms as text: each term's signature and what it rewards (for the LLM)."""
    from lm_reward_learning.bilevel.rules import library

    lines = [
        "Gait terms you may use (reward/library/gait_terms.py; they pass the validator; copy a term's function "
        "into the program to use it). Phase offsets are touchdown lags of FR, RL, RR after FL in stride "
        "fractions; foot_contact_sync needs no clock and is the way to ask for a footfall pattern:"
    ]
    for term in library().values():
        doc = " ".join(term.source.split('"""')[1].strip().split("\n\n")[0].split()) if '"""' in term.source else ""
        lines.append(f"- {term.name}(state, {', '.join(term.args)}): {doc} Defaults: {term.params}")
    return "\n".join(lines)


def reflection_text(run: Path) -> str:
    """Eureka's reward reflection: each term's mean at a few points of the last training, and outcomes."""
    records = RunDir(Path(run)).reward_stats()
    if not records:
        return "No training statistics yet."
    picks = sorted({0, len(records) // 3, 2 * len(records) // 3, len(records) - 1})
    names = list(records[-1]["terms"])
    lines = [f"Training ran {len(records)} PPO iterations. Per-step mean of each term at iterations {picks}:"]
    for n in names:
        vals = [records[i]["terms"].get(n, {}).get("mean") for i in picks]
        lines.append(f"  {n}: " + ", ".join("n/a" if v is None else f"{v:.4g}" for v in vals))
    for key, label in (("mean_episode_return", "episode return"), ("mean_episode_length_s", "episode length (s)")):
        vals = [records[i].get(key) for i in picks]
        lines.append(f"  {label}: " + ", ".join("n/a" if v is None else f"{v:.4g}" for v in vals))
    return "\n".join(lines)


def update_reward(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    m: int,
    backend,
    feedback: Feedback | None,
    current: Candidate,
) -> str:
    """Lower level: synthesise, validate (retrying with the validator's message), save; return the source.

    If every attempt fails validation, the previous program is kept and ``synthesis.json`` says so.
    """
    from lm_reward_learning.reward.validator import MAX_MESSAGE_CHARS, cap_text, validate_program

    d = store.cand_dir(k, m)
    done = read_json(d / "synthesis.json")
    if done is not None:
        return (d / "program.py").read_text()
    batch = store.cand_dir(0, 0) / "train" / "reward" / "state_batch.pt"
    previous_error = None
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    attempts = []
    for j in range(cfg.max_synthesis_retries + 1):
        a = d / f"attempt_{j}"
        saved = read_json(a / "response.json")
        if saved is None:
            request = SynthesisRequest(
                iteration=k,
                candidate=m,
                robot=cfg.robot,
                task=cfg.task,
                current_source=current.source,
                env_description=env_description(cfg.robot),
                feedback=feedback,
                reward_reflection=reflection_text(current.run),
                previous_error=previous_error,
            )
            try:
                with exchanges.at(store, "synthesis", k, m, j):
                    result = backend.synthesize(request)
            except LmrlError as exc:
                if "without code" not in str(exc) and type(exc).__name__ != "BackendResponseError":
                    raise  # endpoint down, auth, rate limit: the run cannot go on; resume later
                saved = {
                    "source": "",
                    "backend": backend.name,
                    "raw_response": str(exc),
                    "usage": {},
                    "error": str(exc),
                }
            else:
                atomic_write_json(a / "prompt.json", result.prompt)
                saved = dataclasses.asdict(result)
                saved.pop("prompt", None)
            atomic_write_json(a / "response.json", saved)
        for key in usage:
            usage[key] += int(saved.get("usage", {}).get(key, 0))
        if saved.get("error"):
            previous_error = cap_text(f"Your answer contained no reward program: {saved['error']}", MAX_MESSAGE_CHARS)
            attempts.append({"attempt": j, "ok": False, "issues": [saved["error"]]})
            continue
        atomic_write_text(a / "program.py", saved["source"])
        validation = read_json(a / "validation.json")
        if validation is None:
            validation = validate_program(saved["source"], batch).to_dict()
            atomic_write_json(a / "validation.json", validation)
        attempts.append({"attempt": j, "ok": validation["ok"], "issues": validation["issues"]})
        if validation["ok"]:
            return _keep(d, saved["source"], current.source, backend.name, saved["backend"], attempts, usage, "new")
        previous_error = cap_text("\n".join(validation["issues"]), MAX_MESSAGE_CHARS)  # what the LLM is sent
    log.warning(
        "iteration %d candidate %d: every synthesis attempt failed validation; keeping the previous reward", k, m
    )
    return _keep(d, current.source, current.source, backend.name, backend.name, attempts, usage, "previous")


def _keep(d: Path, source: str, previous: str, name: str, label: str, attempts, usage, kept: str) -> str:
    atomic_write_text(d / "program.py", source)
    atomic_write_text(d / "diff.patch", unified_diff(previous, source))
    atomic_write_json(
        d / "synthesis.json",
        {"backend": name, "label": label, "kept": kept, "attempts": attempts, "usage": usage},
    )
    return source


def save_npz(path: Path, **arrays: Any) -> None:
    """Atomically write a compressed ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_candidate(store: LearnStore, k: int, m: int) -> Candidate | None:
    """A completed candidate from the store, or None if it is not complete."""
    d = store.path / f"iter_{k:02d}" / f"cand_{m}"
    score = read_json(d / "score.json")
    if score is None or not (d / "program.py").is_file():
        return None
    return Candidate(k, m, (d / "program.py").read_text(), d / "train", score, d / "rollout.mp4", d / "rollout.npz")


def write_summary(
    store: LearnStore, k: int, chosen: Candidate, cands: list[Candidate], wall_s: float, failed: list[int] = ()
) -> None:
    """``iter_KK/summary.json``: the chosen candidate, every candidate's score, the failed ones, wall time.

    When every candidate of iteration ``k`` failed, ``chosen`` is the previous iteration's candidate
    and ``kept_previous`` is true.
    """
    atomic_write_json(
        store.iter_dir(k) / "summary.json",
        {
            "iteration": k,
            "chosen": chosen.index,
            "kept_previous": chosen.iteration != k,
            "scores": [c.score for c in cands],
            "failed": list(failed),
            "wall_s": round(wall_s, 1),
        },
    )
