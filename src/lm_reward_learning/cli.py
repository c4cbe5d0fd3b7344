"""``lmrl``: the command line.

Subcommands: ``train`` (PPO on a reward program), ``play`` (render a rollout video and measure it),
``export`` (ONNX + deploy.yaml with a parity check), ``validate`` (check a reward program without
training), ``robustness`` (a battery of physical conditions), ``pose`` (a person's gait from a video with
MediaPipe Pose). Every user error prints one paragraph
saying what was wrong and what to do, and exits 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lm_reward_learning.errors import LmrlError

log = logging.getLogger("lmrl")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a policy for a reward program (rsl-rl PPO on MuJoCo)")
    p.add_argument("--robot", default="go2", help="robot name (go2, g1); default go2")
    p.add_argument("--reward", type=Path, help="reward program (.py source); default: the robot's bundled one")
    p.add_argument("--iterations", type=int, help="PPO iterations (total, also when resuming)")
    p.add_argument("--num-envs", type=int, help="parallel simulations")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--config", type=Path, help="training YAML (default: config/train/<robot>.yaml)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run directories go (default runs/)")
    p.add_argument("--name", help="suffix of the run directory name")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue an interrupted run directory")
    p.add_argument(
        "--warm-start", type=Path, metavar="CHECKPOINT", help="initialise the policy from this checkpoint (.pt)"
    )
    p.add_argument(
        "--backend", choices=("mujoco", "isaaclab"), help="simulator: mujoco (default) or isaaclab (Isaac Lab 3)"
    )
    p.add_argument("--device", help="Isaac Lab device: cpu (default) or cuda:0")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-video", action="store_true", help="skip the rollout video after training")
    p.add_argument("--no-export", action="store_true", help="skip the ONNX export after training")
    p.add_argument("--policies-dir", type=Path, default=Path("policies"), help="ONNX export root (default policies/)")


def _add_play(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="render a rollout of a trained policy to MP4 and report its speed")
    p.add_argument("--run", type=Path, required=True, help="run directory")
    p.add_argument("--view", default="side", help="camera: side, three_quarter, front, back")
    p.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument(
        "--command",
        dest="velocity_command",
        type=float,
        nargs=3,
        default=(0.8, 0.0, 0.0),
        metavar=("VX", "VY", "WZ"),
        help="velocity command held during the rollout: m/s, m/s, rad/s (default 0.8 0 0)",
    )
    p.add_argument("--out", type=Path, help="MP4 path (default RUN/videos/rollout_<view>.mp4)")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--no-video", action="store_true", help="only measure, do not render")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the policy to ONNX + deploy.yaml (parity-checked)")
    p.add_argument("--run", type=Path, required=True, help="run directory")
    p.add_argument("--out", type=Path, default=Path("policies"), help="policies root (default policies/)")
    p.add_argument("--name", help="policy name (default: the run directory's name)")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate a reward program against recorded robot states")
    p.add_argument("reward", type=Path, help="reward program (.py source)")
    p.add_argument("--robot", default="go2")


def _add_learn(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("learn", help="learn a reward from an expert video with the bi-level VLM->LLM loop")
    p.add_argument(
        "--video",
        help="expert video file or folder of frames, or a bundled clip by name: horse_gallop, human_walk "
        "(default: horse_gallop for a quadruped, human_walk for a humanoid)",
    )
    p.add_argument("--robot", help="robot name (go2, g1)")
    p.add_argument("--preset", default="default", help="config/learn/<preset>.yaml: default or smoke")
    p.add_argument("--config", type=Path, help="a learn YAML instead of the preset")
    p.add_argument("--mode", choices=("bilevel", "eureka"), help="bilevel (the paper) or eureka (text only)")
    p.add_argument("--feedback", help="upper level: motion (offline, not a VLM), openai, gemini (video), human")
    p.add_argument(
        "--synthesis",
        help="lower level: rules (offline, not an LLM), reflection (offline Eureka tuner), openai, gemini",
    )
    p.add_argument("--iterations", type=int, help="loop iterations K")
    p.add_argument("--candidates", type=int, help="reward candidates M per iteration")
    p.add_argument("--start", type=float, dest="video_start_s", help="trim start, s (video time)")
    p.add_argument("--end", type=float, dest="video_end_s", help="trim end, s (video time)")
    p.add_argument("--video-speed", type=float, help="slow-motion factor: real time = video time / speed")
    p.add_argument("--frame-sampling", help="uniform, motion (optical-flow peaks) or grid")
    p.add_argument(
        "--reference",
        help="gait reference to pick the best candidate by: a name (dog_trot, ...) or a file (.txt/.npz/.csv)",
    )
    p.add_argument("--feedback-file", dest="human_feedback", help="scripted human feedback (file or folder)")
    p.add_argument("--backend", choices=("mujoco", "isaaclab"), help="simulator of every training")
    p.add_argument("--device", help="Isaac Lab device: cpu or cuda:0")
    p.add_argument("--parallel", choices=("none", "local", "ray"), help="train the M candidates in parallel")
    p.add_argument("--ray-address", help="Ray cluster address (default: a local Ray instance)")
    p.add_argument(
        "--randomization",
        choices=("preset", "propose"),
        help="preset: the robot's randomization ranges; propose: after the loop, DrEureka (sweep, ranges "
        "proposed by the lower level, warm-started retraining, robustness before/after)",
    )
    p.add_argument("--base-url", help="endpoint of both levels (OpenAI-compatible, or Gemini's for gemini backends)")
    p.add_argument("--model", help="model name for both levels")
    p.add_argument("--api-key-env", help="environment variable holding the API key (default OPENAI_API_KEY)")
    for level, what in (("feedback", "upper level (VLM)"), ("synthesis", "lower level (LLM)")):
        p.add_argument(f"--{level}-base-url", help=f"endpoint of the {what} only; overrides --base-url")
        p.add_argument(f"--{level}-model", help=f"model of the {what} only; overrides --model")
        p.add_argument(f"--{level}-api-key-env", help=f"API key variable of the {what} only; overrides --api-key-env")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where learn runs go (default runs/)")
    p.add_argument("--name", help="learn run name (default learn_<UTC time>_<robot>)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue an interrupted or budget-stopped learn run")
    p.add_argument(
        "--replay",
        type=Path,
        metavar="RUN",
        help="re-run a stored learn run with its config, answering every language-model call from RUN (no endpoint)",
    )
    p.add_argument("--cache", type=Path, metavar="DIR", help="answer repeated identical requests from DIR, fill it")
    p.add_argument(
        "--max-cost", type=float, dest="max_cost_usd", metavar="USD", help="stop before a call would pass USD dollars"
    )
    p.add_argument(
        "--max-tokens", type=int, dest="max_total_tokens", metavar="N", help="stop before a call would pass N tokens"
    )
    p.add_argument("--prices", help="price table YAML (default config/prices.yaml)")
    p.add_argument("--policies-dir", type=Path, default=Path("policies"), help="ONNX export root")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the HTML report of a learn run")
    p.add_argument("run", type=Path, help="learn run directory")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a policy's gait against a reference gait (table, footfall plot, JSON)")
    p.add_argument(
        "target",
        type=Path,
        metavar="RUN_OR_POLICY",
        help="training run, learn run (its best candidate) or exported policy directory (policy.onnx + deploy.yaml)",
    )
    p.add_argument(
        "--reference",
        required=True,
        help="reference gait: dog_trot, dog_pace, dog_canter, human_walk, human_run, human_jump, or a reference "
        "file (DeepMimic motion .txt/.json, or .npz/.csv of foot contacts, base trajectory and leg length)",
    )
    p.add_argument("--duration", type=float, default=10.0, help="rollout length, s (default 10)")
    p.add_argument(
        "--command",
        dest="velocity_command",
        type=float,
        nargs=3,
        metavar=("VX", "VY", "WZ"),
        help="velocity command held: m/s, m/s, rad/s (default: the reference's speed at equal Froude number, "
        "clipped to the trained range)",
    )
    p.add_argument("--out", type=Path, help="output folder (default RUN_OR_POLICY/evaluation/<reference>/)")


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="rerun the paper's comparison (ours, eureka, human, initial) over fixed seeds")
    p.add_argument("--preset", default="default", help="config/compare/<preset>.yaml: default, smoke or openai")
    p.add_argument("--config", type=Path, help="a compare YAML instead of the preset")
    p.add_argument("--reference", help="reference gait every method is scored against: a name (dog_trot) or a file")
    p.add_argument("--methods", help="comma-separated subset of initial,ours,eureka,human")
    p.add_argument("--seeds", help="comma-separated seeds, e.g. 1,2,3")
    p.add_argument(
        "--video", help="expert video (file, folder or bundled clip name) for ours and human (default: by robot kind)"
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for both levels")
    p.add_argument("--model", help="model name for both levels")
    p.add_argument("--api-key-env", help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument(
        "--out", type=Path, help="comparison folder (default runs/compare_<preset>_<reference>); rerun to resume"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_robustness(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "robustness", help="run a policy through a fixed battery of physical conditions (success, tracking, CoT, slip)"
    )
    p.add_argument(
        "targets",
        type=Path,
        nargs="+",
        metavar="RUN_OR_POLICY",
        help="training run, learn run or exported policy directory; several are measured side by side",
    )
    p.add_argument("--quick", action="store_true", help="4 episodes per condition (under a minute on 2 cores)")
    p.add_argument("--episodes", type=int, help="episodes per condition (default 20, --quick 4)")
    p.add_argument("--conditions", help="comma-separated subset of the battery (default: all)")
    p.add_argument("--engine", choices=("mujoco", "isaaclab"), default="mujoco", help="simulator (default mujoco)")
    p.add_argument("--json", type=Path, dest="json_out", help="also write robustness.json here")
    p.add_argument("--out", type=Path, help="output folder (default FIRST_TARGET/robustness/)")
    p.add_argument("--seed", type=int, default=0, help="seed of resets and draws (default 0)")


def _add_pose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pose", help="measure a person's gait from a side-view video with MediaPipe Pose (cadence, duty, angles)"
    )
    p.add_argument(
        "video", nargs="?", default="human_walk", help="video file, folder of frames or bundled clip name (human_walk)"
    )
    p.add_argument("--leg-length-m", type=float, help="the person's leg length, m (default: the bundled clip's)")
    p.add_argument(
        "--crop", type=int, nargs=4, metavar=("LEFT", "TOP", "RIGHT", "BOTTOM"), help="box around the person, px"
    )
    p.add_argument("--start", type=float, dest="start_s", help="trim start, s (video time)")
    p.add_argument("--end", type=float, dest="end_s", help="trim end, s (video time)")
    p.add_argument("--video-speed", type=float, help="slow-motion factor: real time = video time / speed")
    p.add_argument("--json", type=Path, dest="json_out", help="also write the measurements here")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``lmrl`` argument parser."""
    parser = argparse.ArgumentParser(prog="lmrl", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_play(sub)
    _add_export(sub)
    _add_validate(sub)
    _add_learn(sub)
    _add_report(sub)
    _add_evaluate(sub)
    _add_compare(sub)
    _add_robustness(sub)
    _add_pose(sub)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    """``lmrl train``: prepare (validate) a run, train it, print where it is."""
    from lm_reward_learning.config import TrainConfig, from_dict, load_train_config
    from lm_reward_learning.reward.program import RewardProgram, default_program
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.run_dir import RunDir
    from lm_reward_learning.training.trainer import prepare_run, train

    if args.resume is not None:
        import yaml

        run = RunDir.open(args.resume)
        cfg = from_dict(TrainConfig, yaml.safe_load((run.path / "config.yaml").read_text()), "config.yaml")
        if args.iterations is not None:
            import dataclasses

            cfg = dataclasses.replace(cfg, iterations=args.iterations)
        train(run, cfg, resume=True, progress=not args.no_progress)
    else:
        get_robot(args.robot)  # unknown robot: fail before anything is written
        cfg = load_train_config(
            args.robot,
            args.config,
            **{
                "iterations": args.iterations,
                "seed": args.seed,
                "env.num_envs": args.num_envs,
                "backend": args.backend,
                "device": args.device,
            },
        )
        if cfg.backend == "isaaclab":  # no Isaac Lab venv: fail before anything is written
            from lm_reward_learning.isaaclab_backend.launcher import check_available

            check_available(args.robot)
        program = RewardProgram.from_file(args.reward) if args.reward else default_program(args.robot)
        if args.warm_start is not None and not args.warm_start.is_file():
            raise LmrlError(
                f"--warm-start {args.warm_start} is not a file; pass a checkpoint such as RUN/checkpoints/latest.pt."
            )
        run = prepare_run(args.robot, program, cfg, args.runs_dir, args.name)
        print(f"run directory: {run.path}", flush=True)
        train(run, cfg, progress=not args.no_progress, warm_start=args.warm_start)
    stats = run.reward_stats()
    last = stats[-1] if stats else {}
    print(f"trained {run.meta().get('iterations_done')} iterations; run directory: {run.path}")
    if last.get("mean_episode_return") is not None:
        print(
            f"last mean episode return {last['mean_episode_return']:.2f}, length {last['mean_episode_length_s']:.1f} s"
        )
    if not args.no_video:
        cmd_play(build_parser().parse_args(["play", "--run", str(run.path)]))
    if not args.no_export:
        cmd_export(build_parser().parse_args(["export", "--run", str(run.path), "--out", str(args.policies_dir)]))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """``lmrl play``: roll the policy out, render, print the measured speed."""
    from lm_reward_learning.export import load_policy
    from lm_reward_learning.rollout import CAMERA_VIEWS, rollout
    from lm_reward_learning.training.run_dir import RunDir

    if args.view not in CAMERA_VIEWS:
        raise LmrlError(f"Unknown --view {args.view!r}; choose one of {sorted(CAMERA_VIEWS)}.")
    run = RunDir.open(args.run)
    policy, _, _, env = load_policy(run)
    video = None if args.no_video else (args.out or run.videos / f"rollout_{args.view}.mp4")
    res = rollout(
        policy,
        env,
        duration_s=args.duration,
        command=tuple(args.velocity_command),
        video=video,
        arrays=run.videos / f"rollout_{args.view}.npz",
        view=args.view,
        width=args.width,
        height=args.height,
    )
    print(
        f"{res.duration_s:.1f} s rollout: mean forward speed {res.mean_forward_speed:.2f} m/s, "
        f"distance {res.distance_m:.2f} m, {'FELL' if res.fell else 'no fall'}"
    )
    if res.video_path:
        print(f"video: {res.video_path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``lmrl export``: write policy.onnx + deploy.yaml, print the parity error."""
    from lm_reward_learning.export import export_run
    from lm_reward_learning.training.run_dir import RunDir

    res = export_run(RunDir.open(args.run), args.out, args.name)
    print(f"exported {res.onnx_path} and {res.deploy_path}; parity max abs error {res.parity_max_abs_err:.2e}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``lmrl validate``: static checks, then a sandboxed dry run on states recorded from the robot.

    Prints the sandbox layers that were active in the dry run (and which were missing, with why).
    """
    import tempfile

    from lm_reward_learning.errors import RewardValidationError
    from lm_reward_learning.reward.program import RewardProgram
    from lm_reward_learning.reward.static_checks import check_source

    program = RewardProgram.from_file(args.reward)
    found = check_source(program.source)  # fail fast: before torch, MuJoCo and the simulator start
    if found:
        items = "\n".join(f"  - {issue}" for issue in found)
        raise RewardValidationError(f"reward program rejected ({len(found)} issues):\n{items}", found)

    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.reward.validator import ensure_valid
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.trainer import record_state_batch

    spec = get_robot(args.robot)
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "states.pt"
        record_state_batch(spec, load_train_config(args.robot).env, batch)
        result = ensure_valid(program.source, batch)
    print(f"{args.reward}: valid; terms: {', '.join(result.component_names)}")
    print(sandbox_summary(result.sandbox))
    return 0


def sandbox_summary(layers: dict) -> str:
    """One line naming the sandbox layers a child reported active (and the missing ones, with why)."""
    applied = ", ".join(["language", *layers.get("applied", [])])
    missing = layers.get("missing", {})
    line = f"sandbox: {applied}"
    if missing:
        line += "; MISSING: " + "; ".join(f"{k} ({v})" for k, v in sorted(missing.items()))
    return line


def cmd_learn(args: argparse.Namespace) -> int:
    """``lmrl learn``: run, resume or replay the bi-level loop; print where the policy and report are."""
    import datetime as dt

    from lm_reward_learning.bilevel.backends import call_session, make_feedback, make_synthesis
    from lm_reward_learning.bilevel.budget import BudgetExceededError
    from lm_reward_learning.bilevel.exchanges import spend_text
    from lm_reward_learning.bilevel.loop import candidate_executor, learn
    from lm_reward_learning.bilevel.store import LearnStore

    cfg, store, replay, expert_video = _learn_setup(args)
    session = call_session(cfg, cache_dir=args.cache, replay=replay)
    feedback, synthesis = make_feedback(cfg, session), make_synthesis(cfg, session)  # no API key: fail here
    with candidate_executor(cfg) as executor:  # an unreachable Ray cluster fails here (bounded wait)
        if store is None:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            default = f"{replay.name}_replay" if replay is not None else f"learn_{stamp}_{cfg.robot}"
            store = LearnStore.create(args.runs_dir / (args.name or default), cfg)
            if replay is not None:
                store.update_status(replay_of=str(replay))
        else:
            store.update_status(status="running", stop_reason=None)
        print(f"learn run: {store.path}" + (f" (replaying {replay})" if replay is not None else ""), flush=True)
        try:
            result = learn(
                cfg,
                store,
                feedback,
                synthesis,
                policies_root=args.policies_dir,
                progress=not args.no_progress,
                expert_video=expert_video,
                executor=executor,
            )
        except BudgetExceededError:
            print(f"lmrl learn: {spend_text(store.path)}; stopped, resumable.", file=sys.stderr)
            raise
        except (LmrlError, KeyboardInterrupt) as exc:
            store.update_status(status="failed", error=str(exc) or type(exc).__name__)
            print(
                f"lmrl learn: everything completed so far is in {store.path}; continue with --resume {store.path}",
                file=sys.stderr,
            )
            raise
    best = result.best
    print(f"best: iteration {best.iteration} candidate {best.index}, score {best.value:.3f} ({best.score['kind']})")
    print(spend_text(store.path, session.budget))
    print(f"policy: {result.onnx_path}\nreport: {result.report_path}")
    return 0


_BUDGET_FLAGS = ("max_cost_usd", "max_total_tokens", "prices")


def _learn_setup(args: argparse.Namespace):
    """``(cfg, store or None for a new run, replay source or None, loaded expert video or None)``.

    ``--resume`` keeps the stored config but takes new budget flags (written into ``learn.yaml``);
    ``--replay RUN`` uses RUN's config; otherwise the preset/config with the flags. A bad video fails
    here, before a run directory exists.
    """
    import dataclasses

    from lm_reward_learning.bilevel.config import load_learn_config
    from lm_reward_learning.bilevel.steps import load_expert
    from lm_reward_learning.bilevel.store import LearnStore
    from lm_reward_learning.config import to_dict
    from lm_reward_learning.io import atomic_write_yaml
    from lm_reward_learning.video.bundled import BUNDLED_EXPERT_VIDEOS, is_bundled_name

    budget = {k: getattr(args, k) for k in _BUDGET_FLAGS if getattr(args, k) is not None}
    if args.resume is not None and args.replay is not None:
        raise LmrlError("--resume and --replay exclude each other: --resume RUN continues a replay run as well.")
    if args.resume is not None:
        store = LearnStore.open(args.resume)
        cfg = store.config()
        if budget:
            cfg = dataclasses.replace(cfg, **budget).check()
            atomic_write_yaml(store.path / "learn.yaml", to_dict(cfg))
        replay = store.status().get("replay_of")
        return cfg, store, Path(replay) if replay else None, None
    if args.replay is not None:
        cfg = dataclasses.replace(LearnStore.open(args.replay).config(), **budget).check()
        replay = Path(args.replay)
    else:
        overrides = {
            k: getattr(args, k)
            for k in (
                "video",
                "robot",
                "mode",
                "feedback",
                "synthesis",
                "iterations",
                "candidates",
                "video_start_s",
                "video_end_s",
                "video_speed",
                "frame_sampling",
                "reference",
                "human_feedback",
                "backend",
                "device",
                "parallel",
                "ray_address",
                *_BUDGET_FLAGS,
                "randomization",
            )
        }
        cfg = learn_endpoints(load_learn_config(args.preset, args.config, **overrides), args)
        replay = None
    from lm_reward_learning.robots import get_robot

    get_robot(cfg.robot)
    if cfg.video and not Path(cfg.video).exists() and not is_bundled_name(cfg.video):
        raise LmrlError(
            f"Expert video {cfg.video} does not exist. Pass an existing file or folder to --video, or the name of "
            f"a bundled clip ({', '.join(sorted(BUNDLED_EXPERT_VIDEOS))})."
        )
    expert_video = load_expert(cfg) if cfg.mode == "bilevel" else None  # a bad video fails before the run dir
    return cfg, None, replay, expert_video


def learn_endpoints(cfg, args: argparse.Namespace):
    """``cfg`` with the endpoint flags applied: ``--base-url/--model/--api-key-env`` set both levels,
    ``--feedback-*`` / ``--synthesis-*`` one level (and win over the shared flags)."""
    import dataclasses

    changes = {}
    for level in ("feedback", "synthesis"):
        endpoint = {}
        for key in ("base_url", "model", "api_key_env"):
            value = getattr(args, f"{level}_{key}", None)
            value = value if value is not None else getattr(args, key, None)
            if value is not None:
                endpoint[key] = value
        if endpoint:
            changes[f"{level}_endpoint"] = dataclasses.replace(getattr(cfg, f"{level}_endpoint"), **endpoint)
    return dataclasses.replace(cfg, **changes) if changes else cfg


def cmd_report(args: argparse.Namespace) -> int:
    """``lmrl report``: (re)write ``report.html`` of a learn run."""
    from lm_reward_learning.bilevel.loop import write_report
    from lm_reward_learning.bilevel.store import LearnStore

    print(f"report: {write_report(LearnStore.open(args.run))}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``lmrl evaluate``: roll out, measure the gait, print the per-feature table and the score."""
    from lm_reward_learning.evaluation import evaluate

    command = tuple(args.velocity_command) if args.velocity_command is not None else None
    res = evaluate(args.target, args.reference, duration_s=args.duration, command=command, out_dir=args.out)
    print(res.table())
    print(f"{res.kind} {res.target} vs {res.reference}: score {res.score:.3f} (command {res.command})")
    print(f"json: {res.json_path}\nplot: {res.plot_path}")
    return 0


def _csv(text: str | None, convert, flag: str) -> tuple | None:
    if text is None:
        return None
    try:
        return tuple(convert(x.strip()) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise LmrlError(f"{flag} takes a comma-separated list, e.g. {flag} 1,2,3; got {text!r}") from exc


def cmd_compare(args: argparse.Namespace) -> int:
    """``lmrl compare``: run (or resume) every method × seed cell; print the table and where the files are."""
    from lm_reward_learning.evaluation.compare import run_compare
    from lm_reward_learning.evaluation.compare_config import load_compare_config

    endpoint = {
        k: v
        for k, v in (("base_url", args.base_url), ("model", args.model), ("api_key_env", args.api_key_env))
        if v is not None
    }
    cfg = load_compare_config(
        args.preset,
        args.config,
        reference=args.reference,
        methods=_csv(args.methods, str, "--methods"),
        seeds=_csv(args.seeds, int, "--seeds"),
        video=args.video,
        endpoint=endpoint or None,
    )
    name = args.config.stem if args.config is not None else args.preset
    out = args.out or Path("runs") / f"compare_{name}_{cfg.reference}"
    print(f"comparison: {out} (rerun the same command to resume)", flush=True)
    res = run_compare(cfg, out, progress=not args.no_progress)
    print(res.table_path.read_text())
    print(f"table: {res.table_path}\nchart: {res.chart_path}\njson: {res.json_path}")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    """``lmrl robustness``: the battery on one or more policies; print the table and where the files are."""
    from lm_reward_learning.evaluation.robustness import robustness

    res = robustness(
        args.targets,
        quick=args.quick,
        engine=args.engine,
        out_dir=args.out,
        json_out=args.json_out,
        conditions=list(_csv(args.conditions, str, "--conditions") or ()) or None,
        episodes=args.episodes,
        seed=args.seed,
    )
    print(res.table())
    print(f"json: {res.json_path}\nplot: {res.plot_path}\ntable: {res.table_path}")
    if args.json_out is not None:
        print(f"json: {args.json_out}")
    return 0


def cmd_pose(args: argparse.Namespace) -> int:
    """``lmrl pose``: MediaPipe Pose over the clip, gait events and measurements; print a table, write JSON."""
    from lm_reward_learning.io import atomic_write_json
    from lm_reward_learning.video import BUNDLED_EXPERT_VIDEOS, analyse_human_video, load_video
    from lm_reward_learning.video.bundled import bundled_expert_video, is_bundled_name
    from lm_reward_learning.video.human_pose import POSE_MAX_SIDE

    bundled = BUNDLED_EXPERT_VIDEOS[args.video] if is_bundled_name(args.video) else None
    source = bundled_expert_video(args.video) if bundled is not None else Path(args.video)
    speed = args.video_speed or (bundled.speed if bundled is not None else 1.0)
    leg = args.leg_length_m or (bundled.leg_length_m if bundled is not None else None)
    clip = load_video(source, start_s=args.start_s, end_s=args.end_s, speed=speed, max_side=POSE_MAX_SIDE)
    crop = None
    if args.crop is not None:  # given in the file's px; the clip may be downscaled
        s = clip.width / clip.original_size[0] if clip.original_size else 1.0
        crop = tuple(round(v * s) for v in args.crop)
    g = analyse_human_video(clip, leg_length_m=leg, crop=crop)

    def fmt(x, unit="", digits=2) -> str:
        if x is None:
            return "n/a"
        if isinstance(x, (tuple, list)):
            return " / ".join(fmt(v, "", digits) for v in x) + unit
        return f"{x:.{digits}f}{unit}"

    rows = [
        ("person found in", fmt(100 * g.person_fraction, " % of frames", 0)),
        ("gait", f"{g.gait} (walking {g.direction} in the image)"),
        ("stride frequency", fmt(g.stride_frequency_hz, " Hz")),
        ("cadence", fmt(g.cadence_steps_per_min, " steps/min", 0)),
        ("duty factor (left / right)", fmt(g.duty_factor)),
        ("flight / double support / single support", fmt((g.flight_fraction, g.double_support_fraction,
                                                           g.single_support_fraction))),
        ("step length", f"{fmt(g.step_length_leg, ' leg')} ({fmt(g.step_length_m, ' m')})"),
        ("speed", f"{fmt(g.speed_leg_per_s, ' leg/s')} ({fmt(g.speed_mps, ' m/s')})"),
        ("hip flexion range", fmt(g.hip_flexion_range_deg, " deg", 0)),
        ("knee flexion range", fmt(g.knee_flexion_range_deg, " deg", 0)),
    ]  # fmt: skip
    print(f"{source} ({g.source})")
    print("| quantity | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    for note in g.notes:
        print(f"note: {note}")
    if args.json_out is not None:
        atomic_write_json(args.json_out, {"video": str(args.video), "speed": speed, **g.to_dict()})
        print(f"json: {args.json_out}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "play": cmd_play,
    "export": cmd_export,
    "validate": cmd_validate,
    "learn": cmd_learn,
    "report": cmd_report,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
    "robustness": cmd_robustness,
    "pose": cmd_pose,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``lmrl``. Returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    from lm_reward_learning.gl import select_gl_backend

    select_gl_backend()  # MuJoCo picks its OpenGL backend when first imported
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return COMMANDS[args.command](args)
    except LmrlError as exc:
        print(f"lmrl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"lmrl {args.command}: interrupted; completed iterations are saved (resume with --resume RUN).",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
