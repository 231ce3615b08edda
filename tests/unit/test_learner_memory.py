"""A learner step on a model with Qwen3's 151,936-token vocabulary never holds a float32 [batch, tokens, vocab]
tensor: its peak memory stays below what that one tensor alone would take.

The step runs in a fresh process so that its peak resident memory (ru_maxrss) is its own; the model is tiny
except for its vocabulary (hidden 64, one layer), so the output layer's logits dominate everything else.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BATCH, PROMPT, COMPLETION, VOCAB = 8, 16, 256, 151_936
FULL_LOGITS_MB = BATCH * (PROMPT + COMPLETION) * VOCAB * 4 / 2**20  # 1,328 MB in float32

SCRIPT = f"""
import json, resource, torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from rlvr.config import compose
from rlvr.learner import Learner
from rlvr.types import TrainBatch

torch.manual_seed(0)
config = Qwen3Config(vocab_size={VOCAB}, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                     num_attention_heads=1, num_key_value_heads=1, head_dim=64, tie_word_embeddings=True)
model = Qwen3ForCausalLM(config)
cfg = compose(["experiment=tiny", "model.path=unused", "optim.micro_batch_size={BATCH}", "algo.tis_cap=2.0",
               "monitor.enabled=false", "rollout.max_tokens={COMPLETION}"])
learner = Learner(cfg, model, torch.device("cpu"))
B, P, C = {BATCH}, {PROMPT}, {COMPLETION}
batch = TrainBatch(
    prompt_ids=torch.randint(0, {VOCAB}, (B, P)), prompt_mask=torch.ones(B, P, dtype=torch.long),
    completion_ids=torch.randint(0, {VOCAB}, (B, C)), completion_mask=torch.ones(B, C, dtype=torch.long),
    loss_mask=torch.ones(B, C), advantages=torch.linspace(-1, 1, B), sampling_logprobs=torch.full((B, C), -12.0),
)
metrics = learner.step(batch)  # the first step is the costliest too: it also allocates the AdamW state
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"peak_mb": peak, "tokens": metrics["learn/tokens"]}}))
"""


@pytest.mark.slow
def test_a_learner_step_never_materialises_full_vocabulary_logits():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tokens"] == BATCH * COMPLETION
    # the whole process (torch, the model with its 39 MB embedding, AdamW state, activations) stays below
    # what the [8, 272, 151936] float32 logits alone would take
    assert result["peak_mb"] < FULL_LOGITS_MB, result
