"""NeuralLinear: a shared network's last hidden layer ``φ(x)`` as features for a clustered linear bandit.

Paper 000 §6 baseline (Riquelme, Tucker, Snoek, "Deep Bayesian bandits showdown", ICLR 2018; Xu et al.
2020): "the embedding of a neural network is fed into the linear bandit with the clustering procedure".
Reconstructed choices (notes §1.4 item 8): one network of the shared architecture and schedule,
``φ(x)`` its ``m``-dimensional last hidden layer, CLUB as the clustering procedure, and after every
retraining all ridge statistics rebuilt from the kept raw ``(x, r)`` under the new ``φ``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.training import MaskedAdam, SampleBuffer, TrainSchedule, grow_rows, train_members
from neuralbandits.policies.base import PolicyBase, register
from neuralbandits.policies.clustered import CLUB
from neuralbandits.policies.neural import NETWORK_CONSTRAINTS, NETWORK_TEST_PARAMS
from neuralbandits.rng import spawn_seeds
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo, Selection
from neuralbandits.validation import Interval


@register("neurallinear")
class NeuralLinear(PolicyBase):
    """NeuralLinear with CLUB: scores ``φ(x)ᵀθ_c + α β(N_c, t) φ(x)ᵀS_c⁻¹φ(x)`` on ``u_t``'s cluster.

    ``alpha``, ``l2_reg``: CLUB's α and λ on the embedding; ``width`` m (= the embedding size),
    ``depth``, ``lr``, ``n_steps``, ``batch_size`` and the ``train_*`` schedule: the shared network's
    training (Adam on ``½(f − r)²``, paper-000 schedule).  Arm features ``(B, K, d)`` or block arms.
    """

    constraints = {
        **NETWORK_CONSTRAINTS,
        "alpha": Interval(0, None),
        "l2_reg": Interval(0, None, low_open=True),
        "lr": Interval(0, None, low_open=True),
    }
    test_params = NETWORK_TEST_PARAMS

    def __init__(self, info: ProblemInfo, *, alpha: float = 1.0, l2_reg: float = 1.0, width: int = 100,
                 depth: int = 2, lr: float = 1e-3, n_steps: int = 50, batch_size: int = 16,
                 train_every: int = 10, train_every_after: int = 100, train_switch_at: int = 1000,
                 seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg, self.width, self.depth = alpha, l2_reg, width, depth
        self.lr, self.n_steps, self.batch_size = lr, n_steps, batch_size
        self.train_every, self.train_every_after, self.train_switch_at = train_every, train_every_after, train_switch_at
        self.check_params()
        self.schedule = TrainSchedule(every=train_every, every_after=train_every_after,
                                      switch_at=train_switch_at, n_steps=n_steps, batch_size=batch_size, lr=lr)
        init_seed, stream_seed = spawn_seeds(seed, 2)
        self.generator.manual_seed(stream_seed)
        self.blocked = info.block_dim is not None
        self.network = LearnerBank(info.dim, 1, network=NetworkConfig(width=width, depth=depth),
                                   n_blocks=info.n_arms if self.blocked else 1, seed=init_seed)
        self.optimizer = MaskedAdam(self.network, lr=lr)
        self.buffer = SampleBuffer(info.block_dim if self.blocked else info.dim)
        self.register_buffer("sample_users", torch.zeros(1024, dtype=torch.int64))
        self.linear = CLUB(ProblemInfo(n_arms=info.n_arms, dim=width, n_users=info.n_users),
                           alpha=alpha, l2_reg=l2_reg)
        self.linear.generator = self.generator  # one stream, so save/load restores every draw

    def _embedded(self, context: Context) -> Context:
        zero = torch.zeros(context.batch_size, dtype=torch.int64)
        with torch.no_grad():
            features = self.network.embed_arms(zero, context.arm_features)
        return Context(arm_features=features, user_ids=context.user_ids, arm_mask=context.arm_mask)

    def select_with_scores(self, context: Context) -> Selection:
        self.check_context(context)
        return self.linear.select_with_scores(self._embedded(context))

    def update(self, feedback: Feedback) -> None:
        context, actions = feedback.context, feedback.actions
        self.linear.update(Feedback(self._embedded(context), actions, feedback.rewards))
        rows = torch.arange(actions.shape[0])
        features = context.arm_features
        start = self.buffer.n_samples
        zero = torch.zeros_like(actions)
        if isinstance(features, BlockArms):
            self.buffer.add(features.contexts, actions, feedback.rewards, zero, rows)
        else:
            self.buffer.add(features[rows, actions], None, feedback.rewards, zero, rows)
        self._buffers["sample_users"] = grow_rows(self.sample_users, self.buffer.n_samples)
        self.sample_users[start : self.buffer.n_samples] = self.user_ids(context)
        first = int(self.rounds_seen)
        self.rounds_seen.add_(actions.shape[0])
        if any(self.schedule.is_training_round(t) for t in range(first + 1, int(self.rounds_seen) + 1)):
            self.train()

    def train(self) -> None:
        """Retrain the network on every sample, then rebuild the users' ridge statistics under new ``φ``."""
        train_members(self.network, self.optimizer, self.buffer, torch.zeros(1, dtype=torch.int64),
                      self.schedule, self.generator, blocks=self.blocked)
        n = self.buffer.n_samples
        phi = self.network.embed_samples(0, self.buffer.inputs(torch.arange(n)[None], self.blocked))
        self.linear.refit(self.sample_users[:n], phi, self.buffer.targets[:n])

