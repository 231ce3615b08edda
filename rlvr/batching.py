"""Rollouts into tensors for the learner: the padded batch, and micro-batches that carry as little padding as
they can.

`collate` lays a step's rollouts out as TRL does: prompts left-padded, completions right-padded, so every
completion starts at column `P`. `micro_batches` then orders the rows by length and cuts that order where it
costs least: a micro-batch costs the token positions its forward processes (every row padded to the widest
prompt and completion in it, or, where rows share their prompt's forward (`rlvr.logprobs`), each distinct
prompt once plus every row's completion) and a fixed overhead per forward and backward. The cut is found
exactly, by dynamic programming over the ordered rows, within `optim.micro_batch_size` rows and
`optim.micro_batch_tokens` positions per micro-batch; each micro-batch is trimmed to its own widest prompt and
completion. A step of mostly short answers with one long one pays for the long one once, not in every row: the
gradient is the same sum, over less padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlvr.logprobs import prompt_groups
from rlvr.types import Rollout, TrainBatch


def collate(rollouts: list[Rollout], advantages: torch.Tensor, loss_weights: torch.Tensor, pad_id: int) -> TrainBatch:
    """Rollouts -> padded TrainBatch (prompts left-padded, completions right-padded)."""
    p_width = max(len(r.prompt_ids) for r in rollouts)
    c_width = max(1, max(len(r.completion_ids) for r in rollouts))

    def pad(seqs: list[list], width: int, value, left: bool) -> torch.Tensor:
        return torch.tensor(
            [([value] * (width - len(s)) + s) if left else (s + [value] * (width - len(s))) for s in seqs]
        )

    completion_mask = pad([[1] * len(r.completion_ids) for r in rollouts], c_width, 0, left=False)
    return TrainBatch(
        prompt_ids=pad([r.prompt_ids for r in rollouts], p_width, pad_id, left=True),
        prompt_mask=pad([[1] * len(r.prompt_ids) for r in rollouts], p_width, 0, left=True),
        completion_ids=pad([r.completion_ids for r in rollouts], c_width, pad_id, left=False),
        completion_mask=completion_mask,
        loss_mask=completion_mask.float() * loss_weights.float().unsqueeze(1),
        advantages=advantages.float(),
        sampling_logprobs=pad([r.logprobs for r in rollouts], c_width, 0.0, left=False).float(),
    )


def collate_empty() -> TrainBatch:
    """A TrainBatch with no rows: every group was filtered out, the step trains on nothing."""
    empty_long = torch.zeros(0, 1, dtype=torch.long)
    return TrainBatch(
        prompt_ids=empty_long,
        prompt_mask=empty_long,
        completion_ids=empty_long,
        completion_mask=empty_long,
        loss_mask=torch.zeros(0, 1),
        advantages=torch.zeros(0),
        sampling_logprobs=torch.zeros(0, 1),
    )


def trimmed(batch: TrainBatch) -> TrainBatch:
    """The batch without columns that are padding in every row (left of the prompts, right of the
    completions); at least one completion column stays."""
    prompt_width = int(batch.prompt_mask.sum(dim=1).max()) if batch.size else 0
    completion_width = max(1, int(batch.completion_mask.sum(dim=1).max()) if batch.size else 1)
    P = batch.prompt_ids.shape[1]
    out = {}
    for name in batch.__dataclass_fields__:
        tensor = getattr(batch, name)
        if name in ("prompt_ids", "prompt_mask"):
            tensor = tensor[:, P - prompt_width :]
        elif tensor.dim() == 2:
            tensor = tensor[:, :completion_width]
        out[name] = tensor
    return TrainBatch(**out)


# What one more forward and backward costs, counted in token positions: the per-call work (Python, kernel launches,
# the optimizer's gradient accumulation) that makes one micro-batch of 2n rows cheaper than two of n. Measured on
# the CPU demo's model, a micro-batch's fixed cost is ~10 ms, ~80-120 positions; on a GPU, small matmuls lose
# efficiency too. 256 lets the cut split off a long tail but not chop a batch into many pieces.
MICRO_BATCH_OVERHEAD_TOKENS = 256


def length_order(batch: TrainBatch) -> list[int]:
    """Rows longest completion first, then longest prompt; ties keep the batch's order. Completions first
    because they are what varies most in a step, and what every row pays for even when rows share their prompt's
    forward. A slice of this order sorts back into the same order (the learner ranks rely on it)."""
    completion, prompt = batch.completion_mask.sum(dim=1).tolist(), batch.prompt_mask.sum(dim=1).tolist()
    return sorted(range(batch.size), key=lambda i: (-completion[i], -prompt[i]))


def micro_batches(
    batch: TrainBatch, *, max_sequences: int, max_tokens: int = 0, share_prompts: bool = False
) -> list[TrainBatch]:
    """Trimmed micro-batches of `batch` (see the module docstring); every row is in exactly one.

    `share_prompts`: the learner's forward runs rows with the same prompt once (`rlvr.logprobs.shares_prompts`),
    so a micro-batch's positions are its distinct prompts x the widest prompt + its rows x the widest completion;
    otherwise its rows x (widest prompt + widest completion)."""
    prompt_lengths = batch.prompt_mask.sum(dim=1).tolist()
    completion_lengths = [max(1, c) for c in batch.completion_mask.sum(dim=1).tolist()]
    if share_prompts and batch.size:
        owner = prompt_groups(batch.prompt_ids, batch.prompt_mask)[1].tolist()
    else:
        owner = list(range(batch.size))  # every row its own prompt
    order = length_order(batch)
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: least cost of cutting order[:j]
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        prompts: set[int] = set()
        widest_prompt = 0
        for i in range(j - 1, max(-1, j - 1 - max_sequences), -1):  # the micro-batch order[i:j], growing left
            row = order[i]
            prompts.add(owner[row])
            widest_prompt = max(widest_prompt, prompt_lengths[row])
            # order is longest first, so order[i] has the widest completion of order[i:j]
            positions = len(prompts) * widest_prompt + (j - i) * completion_lengths[row]
            if max_tokens > 0 and positions > max_tokens and i < j - 1:
                break  # adding rows only adds positions
            cost = best[i] + positions + MICRO_BATCH_OVERHEAD_TOKENS
            if cost < best[j]:
                best[j], cut[j] = cost, i
    parts: list[list[int]] = []
    j = n
    while j > 0:
        parts.append(order[cut[j] : j])
        j = cut[j]
    return [trimmed(batch.select(torch.tensor(rows))) for rows in reversed(parts)]


@dataclass(frozen=True)
class BatchTotals:
    """What the loss of a micro-batch is normalised by: the whole step's loss tokens and rows, also when the
    micro-batch belongs to one learner rank's slice of it."""

    tokens: float
    rows: int

    @classmethod
    def of(cls, batch: TrainBatch) -> BatchTotals:
        return cls(float(batch.loss_mask.sum()), batch.size)


def micro_batch_share(loss_agg: str, part_mask: torch.Tensor, totals: BatchTotals) -> float:
    """Weight of one micro-batch's loss so that the weighted sum over micro-batches equals the loss of the
    whole batch: token-count share for `token_mean`, sequence-count share for the per-sequence means."""
    if loss_agg == "token_mean":
        return float(part_mask.sum()) / max(1.0, totals.tokens)
    return part_mask.shape[0] / max(1, totals.rows)


def zero_weighted(batch: TrainBatch) -> TrainBatch:
    """`batch` with no loss tokens and no advantage: a forward and backward that change nothing (a learner rank
    with fewer micro-batches than the others runs these, because FSDP's gathers need every rank)."""
    zeros = {name: torch.zeros_like(getattr(batch, name)) for name in ("loss_mask", "advantages")}
    return TrainBatch(**{**{n: getattr(batch, n) for n in batch.__dataclass_fields__}, **zeros})


def split_rows(batch: TrainBatch, parts: int) -> list[TrainBatch]:
    """`batch` cut into `parts` slices of rows with similar token counts (rows in `length_order`, dealt out in
    turn, so each slice keeps that order), each trimmed. A slice that would be empty gets one zero-weighted row,
    so every rank has work to run its forwards on."""
    order = length_order(batch)
    slices = []
    for k in range(parts):
        rows = order[k::parts]
        slices.append(trimmed(batch.select(torch.tensor(rows))) if rows else zero_weighted(batch.select(slice(0, 1))))
    return slices
