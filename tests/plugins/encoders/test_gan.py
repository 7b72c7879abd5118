"""The CFGAN-style encoder's adversarial objective."""

from __future__ import annotations

import torch

from recgraft.engine.batching import NextItemExamples, next_item_examples
from recgraft.engine.config import TrainConfig
from recgraft.plugins.encoders.gan import AdversarialObjective, GANEncoder, GANEncoderConfig


def objective_on(small_split, **settings) -> tuple[AdversarialObjective, NextItemExamples]:
    torch.manual_seed(0)
    config = GANEncoderConfig(embedding_dim=16, hidden_dim=32, max_length=20, **settings)
    encoder = GANEncoder(config, small_split.domain.num_items)
    examples = next_item_examples(small_split.train, small_split.train_users, 20)
    return AdversarialObjective(encoder, TrainConfig(learning_rate=3e-3)), examples


def test_discriminator_and_generator_have_their_own_optimisers(small_split) -> None:
    objective, _ = objective_on(small_split)
    generator_params = {id(p) for g in objective.generator_optimizer.param_groups for p in g["params"]}
    discriminator_params = {id(p) for g in objective.discriminator_optimizer.param_groups for p in g["params"]}
    assert generator_params and discriminator_params and not generator_params & discriminator_params


def test_both_losses_move_during_training(small_split) -> None:
    objective, examples = objective_on(small_split, reconstruction_weight=0.0)
    batch = NextItemExamples(examples.inputs[:128], examples.targets[:128])
    first = objective.step(batch)
    for _ in range(20):
        last = objective.step(batch)
    assert abs(last["d_loss"] - first["d_loss"]) > 1e-3
    assert abs(last["g_adv"] - first["g_adv"]) > 1e-3


def generator_gradient_norm(objective: AdversarialObjective, batch: NextItemExamples) -> float:
    objective.step(batch)
    return sum(float(p.grad.abs().sum()) for p in objective.generator.parameters() if p.grad is not None)


def test_generator_learns_only_through_the_discriminator_in_pure_cfgan(small_split) -> None:
    objective, examples = objective_on(small_split, reconstruction_weight=0.0, zero_reconstruction_weight=0.0)
    batch = NextItemExamples(examples.inputs[:64], examples.targets[:64])
    assert generator_gradient_norm(objective, batch) > 0
    # A discriminator blind to its input gives the generator nothing to learn from.
    objective, _ = objective_on(small_split, reconstruction_weight=0.0, zero_reconstruction_weight=0.0)
    objective.discriminator_optimizer.param_groups[0]["lr"] = 0.0
    with torch.no_grad():
        objective.discriminator.network[0].weight.zero_()
    assert generator_gradient_norm(objective, batch) == 0


def test_checkpoint_holds_only_the_generator(small_split) -> None:
    objective, _ = objective_on(small_split)
    assert not any(k.startswith("discriminator") for k in objective.generator.state_dict())
