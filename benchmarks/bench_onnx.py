"""Batch-1 inference latency: onnxruntime vs torch for an exported policy of the default network size.

Usage: python benchmarks/bench_onnx.py [--obs 45] [--act 12] [--iters 5000]
The baseline is the torch module (rsl-rl's ONNX wrapper: normaliser + MLP) on one thread.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import onnxruntime as ort
import torch
from tensordict import TensorDict


def main() -> None:
    """Measure and print."""
    from rsl_rl.models import MLPModel

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--obs", type=int, default=45)
    ap.add_argument("--act", type=int, default=12)
    ap.add_argument("--iters", type=int, default=5000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    obs = TensorDict({"policy": torch.zeros(1, args.obs)}, batch_size=[1])
    actor = MLPModel(
        obs,
        {"actor": ["policy"]},
        "actor",
        args.act,
        hidden_dims=[128, 128, 128],
        activation="elu",
        obs_normalization=True,
        distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "scalar"},
    )
    module = actor.as_onnx(verbose=False).eval()
    buf = io.BytesIO()
    torch.onnx.export(
        module,
        (torch.zeros(1, args.obs),),
        buf,
        input_names=["obs"],
        output_names=["actions"],
        opset_version=18,
        dynamo=False,
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(1, args.obs)).astype(np.float32)
    xt = torch.from_numpy(x)

    def lat(fn) -> float:
        for _ in range(200):
            fn()
        t0 = time.perf_counter()
        for _ in range(args.iters):
            fn()
        return (time.perf_counter() - t0) / args.iters * 1e6

    with torch.no_grad():
        t_torch = lat(lambda: module(xt))
    t_ort = lat(lambda: sess.run(["actions"], {"obs": x}))
    print(f"batch-1 latency, obs {args.obs}, actions {args.act}, MLP 128x3")
    print(f"  torch (baseline)      {t_torch:8.1f} us   ratio 1.000")
    print(f"  onnxruntime           {t_ort:8.1f} us   ratio {t_ort / t_torch:.3f}  (speed-up {t_torch / t_ort:.1f}x)")


if __name__ == "__main__":
    main()
