"""Token log-probs (and entropy) of a causal LM, computed without ever holding a `[batch, tokens, vocab]` tensor.

A policy-gradient loss needs, for each completion token, `log_softmax(logits / T)[token]`: one number out of a
vocabulary-wide row. Computing the logits of every position at once costs `tokens x vocab` floats (Qwen3:
151,936 per token; 8 x 512 completion tokens in float32 is 2.5 GB), and autograd keeps them for the backward
pass. Here the decoder's hidden states are taken instead, only at the positions that carry loss (padding never
reaches the output layer), and `TokenLogprobs` applies the output layer a chunk of rows at a time: the forward
keeps only each row's log-prob, and the backward recomputes one chunk's softmax at a time to form the gradient
(the "fused linear cross-entropy" idea of Liger-Kernel). When the whole problem fits in one chunk the softmax
is kept instead of recomputed, so small models pay nothing extra.

A GRPO batch holds every prompt `group_size` times. Rows whose prompt columns are identical share one
prompt forward (`shared_prompt_hidden`): the decoder runs the distinct prompts once with a KV cache, the cache is
expanded to the rows (an `index_select`, whose backward sums each row's gradient back into its prompt), and the
completions run on top of it. The log-probs and gradients are the same as with every row's own prompt forward,
for a fraction of the tokens: at the CPU demo's shape (8 prompts of ~58 tokens, 64 completions of ~17) the
learner processes ~1,650 token positions instead of ~4,800. Models whose decoder cannot take a cache in
training (gradient checkpointing drops it) or whose cache is not a plain full-attention one run the rows whole.

`token_logprobs(model, input_ids, attention_mask, completion_mask, temperature)` is the entry point; it falls
back to the plain forward for models whose output layer is not a plain linear map (final-logit soft-capping).
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 2**24  # logits per chunk (64 MB in float32)


class TokenLogprobs(torch.autograd.Function):
    """`[N]` log-probs `log_softmax((hidden @ weight.T + bias) / scale)[target]`, and the entropy of each row
    (no gradient), in chunks of rows; see the module docstring."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, target, scale: float, chunk_rows: int):
        n = hidden.shape[0]
        logprobs = torch.empty(n, dtype=torch.float32, device=hidden.device)
        entropy = torch.empty(n, dtype=torch.float32, device=hidden.device)
        keep_probs = n <= chunk_rows  # one chunk: keep its softmax for the backward instead of recomputing
        probs = None
        for start in range(0, n, chunk_rows):
            rows = slice(start, start + chunk_rows)
            logits = _logits(hidden[rows], weight, bias, scale)
            lse = torch.logsumexp(logits, dim=-1)
            logprobs[rows] = logits.gather(-1, target[rows, None]).squeeze(-1) - lse
            p = torch.exp(logits - lse[:, None])
            entropy[rows] = lse - (p * logits).sum(-1)
            if keep_probs:
                probs = p
        ctx.scale, ctx.chunk_rows = scale, chunk_rows
        ctx.save_for_backward(hidden, weight, bias, target, probs)
        ctx.mark_non_differentiable(entropy)
        return logprobs, entropy

    @staticmethod
    def backward(ctx, grad_logprobs, grad_entropy):
        hidden, weight, bias, target, probs = ctx.saved_tensors
        scale, chunk_rows = ctx.scale, ctx.chunk_rows
        grad_hidden = torch.zeros_like(hidden) if ctx.needs_input_grad[0] else None
        # the gradient reaching the hidden states sums over the whole vocabulary; on CPU a bfloat16 matmul with
        # that long a reduction has no fast kernel (measured here: 77 s against 1.4 s in float32 for 64 rows of
        # Qwen3's 151,936), so CPU takes it in float32; accelerators keep the model's dtype and its memory
        grad_dtype = torch.float32 if hidden.device.type == "cpu" else hidden.dtype
        head = weight.to(grad_dtype) if grad_hidden is not None else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        grad_bias = (
            torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device) if bias is not None else None
        )
        for start in range(0, hidden.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            p = probs if probs is not None else torch.softmax(_logits(hidden[rows], weight, bias, scale), dim=-1)
            g = grad_logprobs[rows].float()
            # d logp / d logit_j = (1[j = target] - p_j) / scale, times the incoming gradient of the row
            grad_logits = -p * g[:, None]
            grad_logits.scatter_add_(-1, target[rows, None], g[:, None])
            grad_logits = grad_logits / scale
            if grad_hidden is not None:
                grad_hidden[rows] = (grad_logits.to(grad_dtype) @ head).to(hidden.dtype)
            grad_weight += grad_logits.T @ hidden[rows].float()
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
        grad_weight = grad_weight.to(weight.dtype) if ctx.needs_input_grad[1] else None
        if grad_bias is not None:
            grad_bias = grad_bias.to(bias.dtype) if ctx.needs_input_grad[2] else None
        return grad_hidden, grad_weight, grad_bias, None, None, None


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, scale: float) -> torch.Tensor:
    logits = hidden @ weight.to(hidden.dtype).T
    if bias is not None:
        logits = logits + bias.to(hidden.dtype)
    return logits.float() / scale


def _base(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PEFT wrapper (its LoRA layers stay in place and active)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def chunkable(model: torch.nn.Module) -> bool:
    """Whether the output layer is a plain linear map the chunked path can apply itself."""
    base = _base(model)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    config = getattr(base, "config", None)
    return (
        isinstance(head, torch.nn.Linear)
        and hasattr(base, "get_decoder")
        and not getattr(config, "final_logit_softcapping", None)
        and not getattr(config, "logit_scale", None)
    )


def shares_prompts(model: torch.nn.Module) -> bool:
    """Whether rows with the same prompt can share one prompt forward (see the module docstring): the chunked
    path, a decoder that keeps its KV cache in training (no gradient checkpointing), full attention only (a
    sliding-window cache drops keys)."""
    base = _base(model)
    config = getattr(base, "config", None)
    layer_types = getattr(config, "layer_types", None) or []
    return (
        chunkable(model)
        and not getattr(base, "is_gradient_checkpointing", False)
        and all(kind == "full_attention" for kind in layer_types)
        and not (getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True))
    )


def prompt_groups(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`(first, owner)`: `first[g]` is a row holding the g-th distinct prompt (ids and padding alike), and
    `owner[i]` the index g of row i's prompt, so `prompt_ids[first][owner] == prompt_ids`."""
    _, owner = torch.unique(torch.cat([prompt_ids, prompt_mask], dim=1), dim=0, return_inverse=True)
    rows = torch.arange(owner.shape[0], device=owner.device)
    first = torch.full((int(owner.max()) + 1,), owner.shape[0], dtype=torch.long, device=owner.device)
    first = first.scatter_reduce(0, owner, rows, reduce="amin")
    return first, owner


def shared_prompt_hidden(
    decoder: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, width: int, owner_first
) -> torch.Tensor:
    """The decoder's hidden states `[B, C, H]` at the positions predicting the `width` completion tokens, each
    distinct prompt run once (`owner_first` from `prompt_groups`) and its KV cache expanded to its rows."""
    first, owner = owner_first
    P = input_ids.shape[1] - width
    prompt_mask = attention_mask[first, :P]
    prompt = decoder(
        input_ids=input_ids[first, :P],
        attention_mask=prompt_mask,
        position_ids=(prompt_mask.cumsum(dim=1) - 1).clamp(min=0),
        use_cache=True,
    )
    cache = prompt.past_key_values
    cache.reorder_cache(owner)  # index_select on every layer's keys and values: rows share their prompt's
    prompt_lengths = attention_mask[:, :P].sum(dim=1, keepdim=True)
    completions = decoder(
        input_ids=input_ids[:, P:],
        attention_mask=attention_mask,
        position_ids=prompt_lengths + torch.arange(width, device=input_ids.device),
        past_key_values=cache,
        use_cache=False,
    ).last_hidden_state
    # completion token 0 is predicted by the prompt's last position (prompts are left-padded), token j by
    # completion position j - 1
    last_prompt = prompt.last_hidden_state[:, -1:][owner]
    return torch.cat([last_prompt, completions[:, :-1]], dim=1)


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    temperature: float,
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
    same_passes: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies `[B, C]` of the completion tokens under `log_softmax(logits / T)` (T = 0: 1).

    `input_ids`/`attention_mask` are `[B, P + C]`: left-padded prompts then right-padded completions, so every
    completion starts at column `P` (TRL's layout); `completion_mask` `[B, C]` is 1 on real completion tokens,
    whose values are returned (0 elsewhere). Positions come from the attention mask, as in generation, so left
    padding does not shift them. Rows with the same prompt share its forward where the model allows
    (`shares_prompts`). `same_passes`: take the prompt-then-completions passes whenever the model allows,
    also when no two rows share a prompt, so that every call runs the decoder the same number of times (FSDP
    ranks gather each layer's weights in its forward: ranks running different numbers of forwards would hang).
    """
    scale = temperature if temperature > 0 else 1.0
    width = completion_mask.shape[1]
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    completion_ids = input_ids[:, -width:]
    mask = completion_mask.bool()
    logprobs = torch.zeros(completion_mask.shape, dtype=torch.float32, device=input_ids.device)
    entropy = torch.zeros_like(logprobs)
    if not chunkable(model):
        logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                       logits_to_keep=width + 1).logits[:, :-1]  # fmt: skip
        logp = torch.log_softmax(logits.float() / scale, dim=-1)
        with torch.no_grad():
            entropy = -(logp.exp() * logp).sum(-1) * mask
        return logp.gather(-1, completion_ids[..., None]).squeeze(-1) * mask, entropy
    base = _base(model)
    two_passes = shares_prompts(model)
    if two_passes and input_ids.shape[1] == width:
        if same_passes:  # a prompt pass of no columns cannot run, and the other ranks run theirs
            raise ValueError("every prompt of a micro-batch is empty: learner ranks need at least one prompt token")
        two_passes = False
    groups = prompt_groups(input_ids[:, :-width], attention_mask[:, :-width]) if two_passes else None
    if groups is not None and (same_passes or groups[0].shape[0] < input_ids.shape[0]):
        hidden = shared_prompt_hidden(base.get_decoder(), input_ids, attention_mask, width, groups)
    else:
        hidden = base.get_decoder()(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state[:, -width - 1 : -1]  # position t predicts token t + 1: token j at column P - 1 + j
    predicting = hidden[mask]  # [N, H]: only the tokens that carry loss
    head = base.get_output_embeddings()
    rows = max(1, chunk_elements // head.weight.shape[0])
    values, ent = TokenLogprobs.apply(predicting, head.weight, head.bias, completion_ids[mask], scale, rows)
    logprobs = logprobs.masked_scatter(mask, values)
    entropy = entropy.masked_scatter(mask, ent.detach())
    return logprobs, entropy
