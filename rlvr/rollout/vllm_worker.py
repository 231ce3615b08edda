"""Runs inside vLLM's worker process: the extension that receives the learner's weights.

Loaded by name (`LLM(worker_extension_cls="rlvr.rollout.vllm_worker.WeightSync")`) and mixed into the
worker class; the learner reaches it through `llm.collective_rpc("rlvr_load_weights", ...)`, vLLM's
supported extension point, so no checkpoint is written to disk. Under `rollout.weight_transport=broadcast`
each worker receives the weights itself (`rlvr_receive_weights` starts its receiving thread) and the payload
only names the version to load. The method name is our own on purpose: the
worker already has an `update_weights`, and vLLM refuses an extension that shadows it.
"""

from __future__ import annotations

from typing import Any

from rlvr.rollout.weights import decode


class WeightSync:
    """Worker extension: load the learner's weights into the running model, in place."""

    def rlvr_receive_weights(self, channel: dict[str, Any], member: str) -> None:
        import torch

        from rlvr.rollout.broadcast import start_receiver

        device = getattr(self, "device", None) or torch.device("cpu")
        start_receiver(channel, f"{member}.w{getattr(self, 'rank', 0)}", device)

    def rlvr_load_weights(self, payload: dict[str, Any]) -> int:
        tensors = decode(payload)
        # `reload_weights` is the worker's in-place reload (it handles the CPU backend's repacked weights,
        # where `model.load_weights` finds zero-sized parameters); names are the HF checkpoint names.
        self.reload_weights(weights_iterator=iter(tensors.items()))
        return len(tensors)
