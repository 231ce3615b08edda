"""The recipes say what their comments promise (composition only; running them is tests/e2e)."""

from rlvr.config import compose
from rlvr.data import BOOK_TEMPLATE


def test_the_book_recipe_is_faithful_to_chapter_6():
    cfg = compose(["experiment=qwen3_math500"])
    assert cfg.model.path == "Qwen/Qwen3-0.6B-Base"
    assert (cfg.model.dtype, cfg.model.master_dtype) == ("bfloat16", "bfloat16")
    assert cfg.data.path == "rasbt/math_full_minus_math500" and not cfg.data.shuffle and cfg.data.template == "book"
    assert BOOK_TEMPLATE == (
        "You are a helpful math assistant.\nAnswer the question and write the final result on a new line as:\n"
        "\\boxed{ANSWER}\n\nQuestion:\n{problem}\n\nAnswer:"
    )
    assert (cfg.prompts_per_step, cfg.rollout.group_size, cfg.steps) == (1, 8, 50)
    assert (cfg.rollout.temperature, cfg.rollout.top_p, cfg.rollout.max_tokens) == (0.8, 0.9, 512)
    assert list(cfg.reward) == ["custom", "math"] and cfg.reward["custom"] is None
    a = cfg.algo
    assert (a.adv_scale, a.eps, a.loss_agg, a.num_iterations, a.kl_beta) == (
        "group_std",
        1e-4,
        "seq_mean_token_sum",
        1,
        0.0,
    )
    o = cfg.optim
    assert (o.lr, o.weight_decay, o.grad_clip) == (1e-5, 0.01, 1.0)
    assert (cfg.eval.max_tokens, cfg.eval.temperature, cfg.eval.before_training) == (2048, 0.0, True)
    assert cfg.eval.data.path == "HuggingFaceH4/MATH-500" and not cfg.monitor.enabled


def test_the_fast_recipe_switches_on_our_tricks():
    cfg = compose(["experiment=qwen3_math500_fast"])
    assert cfg.model.path == "Qwen/Qwen3-0.6B-Base" and cfg.data.path == "rasbt/math_full_minus_math500"
    assert (cfg.prompts_per_step, cfg.rollout.group_size, cfg.rollout.backend) == (32, 8, "vllm")
    a = cfg.algo
    assert (a.loss_agg, a.adv_scale, a.zero_variance, a.clip_high) == ("token_mean", "none", "skip", 0.28)
    assert a.num_iterations == 2 and a.tis_cap > 0
    assert (cfg.model.dtype, cfg.model.master_dtype) == ("bfloat16", "float32")
    assert cfg.monitor.enabled
    # with rollout=async its vLLM engine becomes a one-step-ahead actor (the recipe leaves the mode to the group)
    actor = compose(["experiment=qwen3_math500_fast", "rollout=async", "rollout.backend=vllm"])
    assert (actor.rollout.mode, actor.rollout.max_staleness, actor.rollout.backend) == ("actor", 1, "vllm")
