"""Chat messages of the bi-level loop, built from the versioned templates of this package.

* :func:`build_feedback_messages` — upper level: the task, the current program and the sampled
  expert and rollout frames as image parts (base64 data URLs);
* :func:`build_synthesis_messages` — lower level: the contract and the validator's rules (taken from
  :mod:`~lm_reward_learning.reward.static_checks`, so prompt and validator cannot drift apart), the
  task, the environment, the current program, the feedback (or, in Eureka mode, the task only), the
  reward reflection and, on a retry, the validator's previous error.

Messages are OpenAI chat-completions dicts. :class:`Prompt` also keeps, per message, the template it
came from, and a copy for the run directory with image data replaced by a short description.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, FeedbackRequest, SynthesisRequest
from lm_reward_learning.prompts import PROMPT_VERSION, render, template_id

_FRAME_MARKERS = ("[[expert_frames]]", "[[robot_frames]]")


@dataclass(frozen=True)
class ImageOptions:
    """How video frames are sent to a vision-language model.

    Attributes:
        max_frames: Frames sent per video at most (evenly subsampled from the request's frames).
        max_side: Longest image side in pixels after downscaling (aspect ratio kept; never upscaled).
        format: ``"jpeg"`` or ``"png"``.
        jpeg_quality: JPEG quality, 1-95.
        detail: OpenAI's image ``detail`` (``"auto"``, ``"low"``, ``"high"``); None leaves it out
            (for servers that reject the field).
    """

    max_frames: int = 8
    max_side: int = 512
    format: str = "jpeg"
    jpeg_quality: int = 85
    detail: str | None = "auto"

    def __post_init__(self) -> None:
        if self.max_frames < 1 or self.max_side < 16:
            raise ValueError(f"ImageOptions: need max_frames >= 1 and max_side >= 16, got {self}")
        if self.format not in ("jpeg", "png"):
            raise ValueError(f"ImageOptions.format must be 'jpeg' or 'png', got {self.format!r}")


@dataclass(frozen=True)
class EncodedImage:
    """One frame encoded for a chat message.

    Attributes:
        data_url: ``data:image/<format>;base64,...``.
        width: Width after downscaling, px.
        height: Height after downscaling, px.
        nbytes: Size of the encoded image, bytes.
    """

    data_url: str
    width: int
    height: int
    nbytes: int


@dataclass
class Prompt:
    """Messages to send, with what to record about them.

    Attributes:
        messages: Chat-completions messages as sent.
        templates: Template id of each message (``"synthesis_system_v1"``), same order.
        version: Prompt version (``"v1"``).
        image_notes: One description per image part, in order, recorded instead of the image data.
    """

    messages: list[dict[str, Any]]
    templates: list[str]
    version: str = PROMPT_VERSION
    image_notes: list[str] = field(default_factory=list)

    def record(self) -> list[dict[str, Any]]:
        """Messages for the run directory: each with its ``"template"``, images described, not embedded."""
        images = iter(self.image_notes)
        out = []
        for message, template in zip(self.messages, self.templates, strict=True):
            content = message["content"]
            if isinstance(content, list):
                content = [
                    {"type": part["type"], part["type"]: {"url": next(images)}}
                    if part["type"] in ("image_url", "video_url")
                    else part
                    for part in content
                ]
            out.append({**message, "content": content, "template": template})
        return out


def sample_frames(frames: Any, max_frames: int) -> np.ndarray:
    """Return up to ``max_frames`` frames evenly spaced over ``frames`` (first and last included).

    Args:
        frames: uint8 RGB frames. Shape ``(K, H, W, 3)``.
        max_frames: How many to keep at most.

    Raises:
        ValueError: if ``frames`` is not a non-empty uint8 array of shape ``(K, H, W, 3)``.
    """
    array = np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0 or array.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB frames of shape (K, H, W, 3), got {array.dtype} {array.shape}")
    if len(array) <= max_frames:
        return array
    return array[np.linspace(0, len(array) - 1, max_frames).round().astype(int)]


def encode_frames(frames: Any, options: ImageOptions) -> list[EncodedImage]:
    """Subsample, downscale and encode frames as base64 data URLs (Pillow).

    Args:
        frames: uint8 RGB frames. Shape ``(K, H, W, 3)``.
        options: Frame count, size and format.

    Raises:
        ValueError: on frames of the wrong dtype or shape.
    """
    from PIL import Image

    out = []
    for frame in sample_frames(frames, options.max_frames):
        image = Image.fromarray(np.ascontiguousarray(frame))
        image.thumbnail((options.max_side, options.max_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if options.format == "jpeg":
            image.save(buffer, format="JPEG", quality=options.jpeg_quality)
        else:
            image.save(buffer, format="PNG", optimize=True)
        data = buffer.getvalue()
        url = f"data:image/{options.format};base64,{base64.b64encode(data).decode('ascii')}"
        out.append(EncodedImage(url, image.width, image.height, len(data)))
    return out


def build_feedback_messages(
    request: FeedbackRequest, options: ImageOptions, version: str = PROMPT_VERSION, *, video: bool = False
) -> Prompt:
    """Build the upper-level prompt: system text, then task, program, measurements and the expert and
    robot frames (or, with ``video``, the two clips as ``video_url`` parts, as vLLM's OpenAI-compatible
    server takes them: ``{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,..."}}``) in
    one user message.

    Raises:
        ValueError: on frames of the wrong dtype or shape.
        FileNotFoundError: ``video`` and a clip is missing.
        lm_reward_learning.errors.ConfigError: if ``version`` has no templates.
    """
    if video:
        return _video_prompt(request, version)
    expert = encode_frames(request.expert_frames, options)
    robot = encode_frames(request.rollout_frames, options)
    measurements = measurements_section(request, version)
    text = render(
        "feedback_user",
        version,
        iteration=request.iteration,
        robot=request.robot,
        task=request.task,
        reward_source=request.reward_source.strip("\n"),
        measurements_section=measurements,
        expert_count=len(expert),
        expert_fps=request.expert_fps,
        robot_count=len(robot),
    )
    parts: list[dict[str, Any]] = []
    described: list[str] = []
    rest = text
    for marker, images, who in zip(_FRAME_MARKERS, (expert, robot), ("expert", "robot"), strict=True):
        before, found, rest = rest.partition(marker)
        if not found:
            raise KeyError(f"template {template_id('feedback_user', version)!r} lacks the marker {marker}")
        parts.append({"type": "text", "text": before.strip("\n")})
        for i, image in enumerate(images, 1):
            url: dict[str, Any] = {"url": image.data_url}
            if options.detail is not None:
                url["detail"] = options.detail
            parts.append({"type": "image_url", "image_url": url})
            described.append(
                f"<{who} frame {i}/{len(images)}: {options.format} {image.width}x{image.height}, "
                f"{image.nbytes} bytes, not recorded>"
            )
    return _finish(request, parts, described, rest, "feedback_user", version)


def _finish(request: FeedbackRequest, parts: list, described: list[str], rest: str, user: str, version: str) -> Prompt:
    png = getattr(request.evidence, "footfall_png", None)
    if png:  # the robot's footfall diagram after its frames
        parts.append({"type": "text", "text": render("feedback_footfalls", version).strip("\n")})
        url = f"data:image/png;base64,{base64.b64encode(png).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
        described.append(f"<robot footfall diagram: png, {len(png)} bytes, not recorded>")
    parts.append({"type": "text", "text": rest.strip("\n")})
    messages = [
        {"role": "system", "content": render("feedback_system", version)},
        {"role": "user", "content": parts},
    ]
    templates = [template_id("feedback_system", version), template_id(user, version)]
    return Prompt(messages, templates, version, described)


def measurements_section(request: FeedbackRequest, version: str = PROMPT_VERSION) -> str:
    """The evidence (:func:`evidence_section`), else the expert's measured features, else ""."""
    if request.evidence is not None:
        return evidence_section(request.evidence, version)
    if request.expert_features:
        features = json.dumps(request.expert_features, indent=1, sort_keys=True, default=str)
        return render("feedback_measurements", version, features=features)
    return ""


def _video_prompt(request: FeedbackRequest, version: str) -> Prompt:
    from pathlib import Path

    text = render(
        "feedback_user_video",
        version,
        iteration=request.iteration,
        robot=request.robot,
        task=request.task,
        reward_source=request.reward_source.strip("\n"),
        measurements_section=measurements_section(request, version),
    )
    parts: list[dict[str, Any]] = []
    described: list[str] = []
    rest = text
    clips = (request.expert_video, request.rollout_video)
    for marker, clip, who in zip(_FRAME_MARKERS, clips, ("expert", "robot"), strict=True):
        before, found, rest = rest.partition(marker)
        if not found:
            raise KeyError(f"template {template_id('feedback_user_video', version)!r} lacks the marker {marker}")
        data = Path(clip).read_bytes()
        parts.append({"type": "text", "text": before.strip("\n")})
        url = f"data:video/mp4;base64,{base64.b64encode(data).decode('ascii')}"
        parts.append({"type": "video_url", "video_url": {"url": url}})
        described.append(f"<{who} video: mp4, {len(data)} bytes, not recorded>")
    return _finish(request, parts, described, rest, "feedback_user_video", version)


def evidence_section(evidence: Any, version: str = PROMPT_VERSION) -> str:
    """The measurements and hard facts of :class:`~lm_reward_learning.bilevel.evidence.Evidence` as the
    feedback prompt's measurements section."""

    def js(obj: Any) -> str:
        return json.dumps(obj, sort_keys=True, default=str) if obj is not None else "not measurable"

    rows = "\n".join(js(row) for row in evidence.contacts) or "no foot contacts recorded"
    return render(
        "feedback_evidence",
        version,
        robot_features=js(evidence.robot),
        contact_table=rows,
        expert_features=js(evidence.expert),
        facts="\n".join(f"- {f.statement}" for f in evidence.facts),
    )


def facts_fix_message(error: str, version: str = PROMPT_VERSION) -> dict[str, Any]:
    """The follow-up user message when an answer contradicts measured facts."""
    return {"role": "user", "content": render("feedback_facts_fix", version, error=error)}


def feedback_fix_message(error: str, version: str = PROMPT_VERSION) -> dict[str, Any]:
    """The follow-up user message asking the model to repair an unusable feedback answer."""
    return {"role": "user", "content": render("feedback_fix", version, error=error)}


def build_synthesis_messages(request: SynthesisRequest, version: str = PROMPT_VERSION) -> Prompt:
    """Build the lower-level prompt; Eureka mode (``request.feedback is None``) has no feedback section.

    Raises:
        lm_reward_learning.errors.ConfigError: if ``version`` has no templates.
    """
    reflection = ""
    if request.reward_reflection:
        reflection = render("synthesis_reflection_section", version, reflection=request.reward_reflection.strip())
    retry = ""
    if request.previous_error:
        retry = render("synthesis_retry_section", version, error=request.previous_error.strip())
    common = {
        "task": request.task,
        "robot": request.robot,
        "iteration": request.iteration,
        "candidate": request.candidate,
        "env_description": request.env_description.strip("\n"),
        "current_source": request.current_source.strip("\n"),
        "reflection_section": reflection,
        "previous_error_section": retry,
    }
    if request.feedback is None:
        user_name = "eureka_user"
        user = render(user_name, version, **common)
    else:
        user_name = "synthesis_user"
        user = render(user_name, version, feedback_section=feedback_section(request.feedback, version), **common)
    messages = [
        {"role": "system", "content": synthesis_system_text(version)},
        {"role": "user", "content": user},
    ]
    return Prompt(messages, [template_id("synthesis_system", version), template_id(user_name, version)], version)


def synthesis_system_text(version: str = PROMPT_VERSION) -> str:
    """The lower-level system prompt, with the validator's current name lists filled in."""
    from lm_reward_learning.reward import allowlist as allow
    from lm_reward_learning.reward.static_checks import FORBIDDEN_NAMES

    return render(
        "synthesis_system",
        version,
        safe_builtins=", ".join(allow.SAFE_BUILTINS),
        forbidden_names=", ".join(sorted(n for n in FORBIDDEN_NAMES if not n.startswith("_"))),
        torch_functions=", ".join(sorted(allow.TORCH_FUNCTIONS)),
        torch_values=", ".join(f"torch.{v}" for v in allow.TORCH_VALUES),
        linalg_functions=", ".join(allow.LINALG_FUNCTIONS),
        functional_functions=", ".join(allow.FUNCTIONAL_FUNCTIONS),
        tensor_attrs=", ".join(sorted(allow.TENSOR_ATTRS, key=str.lower)),
        state_fields=", ".join(allow.STATE_ATTRS),
    )


def feedback_section(feedback: Feedback, version: str = PROMPT_VERSION) -> str:
    """The four parts of ``feedback`` as the synthesis prompt's feedback section."""
    return render(
        "synthesis_feedback_section",
        version,
        problems=_bullets(feedback.problems),
        rewrite=_bullets(_change_text(c) for c in feedback.rewrite),
        remove=_bullets(feedback.remove),
        add=_bullets(_change_text(c) for c in feedback.add),
        text=feedback.text.strip() or "(none)",
    )


def _change_text(change: ComponentChange) -> str:
    text = f"{change.name}: {change.instruction}" if change.name else change.instruction  # "": free text
    if change.params:
        text += " (suggested: " + ", ".join(f"{k}={v:g}" for k, v in change.params.items()) + ")"
    return text


def _bullets(items: Any) -> str:
    lines = [f"- {item}" for item in items]
    return "\n".join(lines) if lines else "- (none)"
