"""More than one learner process: the policy sharded with PyTorch's FSDP2 over `learner.world_size` ranks.

    ranks.py   the collectives a learner step needs (torch.distributed: gloo on CPU, NCCL on GPU)
    fsdp.py    `fully_shard` of each decoder layer and of the whole model, mixed precision from the config
    rank.py    one learner rank: a process of its own holding its shard, serving the driver's calls
    group.py   `LearnerGroup`: what the training loop sees instead of a `Learner` when world_size > 1

The training loop stays one process (the driver: data, rollouts, rewards, logging, checkpoints' bookkeeping) and
calls its learner as before; with world_size > 1 that learner is a group of rank processes, each given its slice
of the step's batch. Ranks are started and cleaned up by the same process handles as rollout actors
(`rlvr.rollout.actors`), so a rank that dies, or a driver that dies, leaves nothing behind. Nothing here is a
collective or a scheduler of our own: reductions are `torch.distributed.all_reduce`, sharding and gradient
reduction are FSDP2's, checkpoints are `torch.distributed.checkpoint`'s.
"""
