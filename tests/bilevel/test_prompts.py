"""Prompt templates: versions, fields, and agreement with the validator."""

from __future__ import annotations

import numpy as np
import pytest
from bilevel_data import solid_frames

from lm_reward_learning import prompts
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.prompts.messages import ImageOptions, sample_frames, synthesis_system_text
from lm_reward_learning.reward.allowlist import SAFE_BUILTINS, STATE_ATTRS, TENSOR_ATTRS, TORCH_FUNCTIONS

#: Every v1 template and the fields it is filled with.
TEMPLATES = {
    "feedback_system": set(),
    "feedback_user": {
        "iteration", "robot", "task", "reward_source", "measurements_section", "expert_count", "expert_fps",
        "robot_count",
    },
    "feedback_measurements": {"features"},
    "feedback_fix": {"error"},
    "synthesis_system": {
        "safe_builtins", "forbidden_names", "torch_functions", "torch_values", "linalg_functions",
        "functional_functions", "tensor_attrs", "state_fields",
    },
    "synthesis_user": {
        "task", "robot", "iteration", "candidate", "env_description", "current_source", "feedback_section",
        "reflection_section", "previous_error_section",
    },
    "eureka_user": {
        "task", "robot", "iteration", "candidate", "env_description", "current_source", "reflection_section",
        "previous_error_section",
    },
    "synthesis_feedback_section": {"problems", "rewrite", "remove", "add", "text"},
    "synthesis_reflection_section": {"reflection"},
    "synthesis_retry_section": {"error"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_fields(name: str) -> None:
    assert prompts.template_fields(prompts.load_template(name)) == TEMPLATES[name]
    assert prompts.available_versions(name) == ["v1"]


def test_unknown_version_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"available versions of 'synthesis_user': \['v1'\]"):
        prompts.load_template("synthesis_user", "v9")
    with pytest.raises(KeyError, match="needs fields"):
        prompts.render("feedback_fix", error="e", extra="x")


def test_system_prompt_states_the_validators_current_rules() -> None:
    text = synthesis_system_text()
    assert all(f"{name}," in text or f"{name}." in text for name in STATE_ATTRS)
    assert ", ".join(SAFE_BUILTINS) in text
    assert all(f" {name}," in text or f"{{{name}," in text or f" {name}}}" in text for name in TORCH_FUNCTIONS)
    assert all(f" {name}," in text or f" {name}." in text for name in TENSOR_ATTRS)
    assert "torch.save" in text and "rejected" in text
    assert "{" in text and "{{" not in text  # literal braces were unescaped


def test_sample_frames_keeps_first_and_last() -> None:
    frames = solid_frames(list(range(10)), 4, 4)
    # linspace(0, 9, 3) = 0, 4.5, 9 → round half to even → 0, 4, 9
    assert [int(f[0, 0, 0]) for f in sample_frames(frames, 3)] == [0, 4, 9]
    assert len(sample_frames(frames, 20)) == 10
    with pytest.raises(ValueError, match="uint8 RGB frames"):
        sample_frames(np.zeros((2, 4, 4, 3), np.float32), 3)


def test_image_options_are_checked() -> None:
    with pytest.raises(ValueError, match="jpeg"):
        ImageOptions(format="gif")
    with pytest.raises(ValueError, match="max_frames"):
        ImageOptions(max_frames=0)
