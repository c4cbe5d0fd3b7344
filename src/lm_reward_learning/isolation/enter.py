"""Start a module inside the reward sandbox.

Usage: ``python -m lm_reward_learning.isolation.enter POLICY PPID MODULE [ARGS...]``.

``POLICY`` is a :class:`~lm_reward_learning.isolation.policy.SandboxPolicy` as JSON, ``PPID`` the
launcher's pid. The process applies :func:`~lm_reward_learning.isolation.layers.enter` first (before
anything else is imported or any thread starts), writes what it applied to the policy's
``report_file``, then runs ``MODULE`` as ``__main__`` with ``ARGS``. The module calls
:func:`~lm_reward_learning.isolation.layers.seal` before it compiles a reward program.

Exit code 70 (``EX_SOFTWARE``) if a layer that this machine supports could not be applied.
"""

from __future__ import annotations

import json
import runpy
import sys

from lm_reward_learning.isolation.layers import SandboxSetupError, enter
from lm_reward_learning.isolation.policy import SandboxPolicy

EXIT_SETUP_FAILED = 70


def main(argv: list[str]) -> int:
    """Apply the layers and run the target module (see the module docstring)."""
    if len(argv) < 3:
        print("usage: python -m lm_reward_learning.isolation.enter POLICY_JSON PPID MODULE [ARGS...]", file=sys.stderr)
        return 2
    policy = SandboxPolicy.from_json(argv[0])
    try:
        layers = enter(policy, parent_pid=int(argv[1]))
    except SandboxSetupError as exc:
        print(f"reward sandbox: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    if policy.report_file:
        with open(policy.report_file, "w", encoding="utf-8") as fh:
            json.dump(layers, fh)
    module, args = argv[2], argv[3:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
