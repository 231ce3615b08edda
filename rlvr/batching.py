"""Rollouts into tensors for the learner: the padded batch, and micro-batches that carry as little padding as
they can.

`collate` lays a step's rollouts out as TRL does: prompts left-padded, completions right-padded, so every
completion starts at column `P`. `micro_batches` then sorts the rows by length and cuts them into micro-batches
of at most `optim.micro_batch_size` sequences and, when `optim.micro_batch_tokens` is set, at most that many
padded tokens (rows x the longest row); each micro-batch is trimmed to its own longest prompt and completion.
Sorting puts rows of similar length together, so a step of mostly short answers with one long one pays for
the long one once, not in every row: the gradient is the same sum, over less padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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


def micro_batches(batch: TrainBatch, *, max_sequences: int, max_tokens: int = 0) -> list[TrainBatch]:
    """Trimmed micro-batches of `batch` (see the module docstring); every row is in exactly one."""
    prompt_lengths = batch.prompt_mask.sum(dim=1).tolist()
    completion_lengths = batch.completion_mask.sum(dim=1).tolist()
    order = sorted(range(batch.size), key=lambda i: -(prompt_lengths[i] + completion_lengths[i]))
    parts: list[list[int]] = []
    widest_prompt = widest_completion = 0
    for i in order:
        p, c = max(widest_prompt, prompt_lengths[i]), max(widest_completion, completion_lengths[i], 1)
        current = parts[-1] if parts else None
        fits = (
            current is not None
            and len(current) < max_sequences
            and (max_tokens <= 0 or (len(current) + 1) * (p + c) <= max_tokens)
        )
        if fits:
            current.append(i)
            widest_prompt, widest_completion = p, c
        else:
            parts.append([i])
            widest_prompt, widest_completion = prompt_lengths[i], max(completion_lengths[i], 1)
    return [trimmed(batch.select(torch.tensor(rows))) for rows in parts]


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
    """`batch` cut into `parts` slices of rows with similar token counts (rows sorted by length, dealt out in
    turn), each trimmed. A slice that would be empty gets one zero-weighted row, so every rank has work to
    run its forwards on."""
    lengths = (batch.prompt_mask.sum(dim=1) + batch.completion_mask.sum(dim=1)).tolist()
    order = sorted(range(batch.size), key=lambda i: -lengths[i])
    slices = []
    for k in range(parts):
        rows = order[k::parts]
        slices.append(trimmed(batch.select(torch.tensor(rows))) if rows else zero_weighted(batch.select(slice(0, 1))))
    return slices
