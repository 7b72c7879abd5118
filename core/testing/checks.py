"""The component contracts as plain functions: each checks one rule and raises
:class:`ContractViolation` (an AssertionError, so pytest reports it as a failure) saying
which rule a component breaks and why.

The pytest suites in :mod:`recgraft.testing.suites` call these; they can also be called
directly, e.g. from a plugin's own tests or a notebook.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ValidationError

from recgraft.components import BASE_CLASSES, ComponentConfig, component_problem
from recgraft.data.domain import Domain
from recgraft.encoder import Encoder
from recgraft.errors import DataError
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head
from recgraft.strategy import TransferContext, TransferStrategy
from recgraft.transfer_model import TransferModel


class ContractViolation(AssertionError):
    """A component breaks one of its kind's contracts; the message names the rule."""


def _fail(rule: str, why: str) -> ContractViolation:
    return ContractViolation(f"{rule}: {why}")


def toy_history(num_items: int, batch: int = 4, length: int = 12, seed: int = 0) -> torch.Tensor:
    """Right-aligned histories ``(batch, length)`` of item ids; the first row is left-padded."""
    generator = torch.Generator().manual_seed(seed)
    items = torch.randint(1, num_items + 1, (batch, length), generator=generator)
    items[0, : min(5, length - 1)] = 0
    return items


# --- every kind ---------------------------------------------------------------------------


def check_component_class(kind: str, component: object) -> None:
    """The component is a class subclassing its kind's base class, with a Config subclassing
    the base's Config (what registration checks: anything else is unusable)."""
    problem = component_problem(kind, component)
    if problem is not None:
        module, base = BASE_CLASSES[kind]
        raise _fail(f"{kind} class (a subclass of {module}.{base})", problem)


def check_config_forbids_unknown_fields(config: type[BaseModel]) -> None:
    """``Config`` refuses unknown fields, so a mistyped ``--set`` is an error, not ignored."""
    rule = "Config refuses unknown fields"
    if not issubclass(config, ComponentConfig):
        raise _fail(rule, f"{config.__qualname__} is not a subclass of recgraft.components.ComponentConfig")
    if config.model_config.get("extra") != "forbid":
        raise _fail(rule, f"{config.__qualname__} sets extra={config.model_config.get('extra')!r}, not 'forbid'")
    try:
        config.model_validate({"surely_not_a_field__": 1})
    except ValidationError:
        return
    raise _fail(rule, f"{config.__qualname__} accepted a field named 'surely_not_a_field__'")


def check_config_defaults_are_valid(config: type[BaseModel]) -> None:
    """``Config()`` works with no settings, and every default meets its own constraints
    (pydantic does not validate defaults: ``Field(0, ge=1)`` passes unless checked)."""
    rule = "Config defaults are valid"
    try:
        defaults = config()
    except ValidationError as exc:
        missing = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise _fail(rule, f"{config.__qualname__}() needs settings: {missing}; give every field a default") from None
    try:
        config.model_validate(defaults.model_dump())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(rule, f"a default of {config.__qualname__} breaks its own constraint: {problems}") from None


def check_config_round_trips_through_json(config: type[BaseModel], values: dict[str, Any] | None = None) -> None:
    """A config dumped to JSON validates back to itself: checkpoints store configs as JSON."""
    rule = "Config round-trips through JSON"
    model = config.model_validate(values or {})
    try:
        text = json.dumps(model.model_dump())
    except (TypeError, ValueError) as exc:
        raise _fail(rule, f"model_dump() is not JSON: {exc}") from None
    again = config.model_validate(json.loads(text))
    if again != model:
        raise _fail(rule, f"{model!r} came back as {again!r}")


def check_config(kind: str, component: type, values: dict[str, Any] | None = None) -> None:
    """Every Config rule (class, unknown fields, defaults, JSON) for one component class."""
    check_component_class(kind, component)
    config = component.Config  # type: ignore[attr-defined]
    check_config_forbids_unknown_fields(config)
    check_config_defaults_are_valid(config)
    check_config_round_trips_through_json(config, values)


# --- encoders -------------------------------------------------------------------------


def check_encoder_shapes(encoder: Encoder, history: torch.Tensor) -> None:
    """``forward`` gives ``(B, D)``, ``item_vectors`` ``(num_items + 1, D)``, ``score_items``
    ``(B, num_items + 1)`` and ``sequence_output`` None or ``(B, L, D)``; D is ``output_dim``."""
    rule = "encoder shapes"
    batch, length = history.shape
    rows = encoder.num_items + 1
    with torch.no_grad():
        users = encoder(history)
        items = encoder.item_vectors()
        dim = encoder.output_dim
        if tuple(users.shape) != (batch, dim):
            raise _fail(rule, f"forward gave {tuple(users.shape)} for histories {tuple(history.shape)}, "
                              f"expected {(batch, dim)}")
        if tuple(items.shape) != (rows, dim):
            raise _fail(rule, f"item_vectors() is {tuple(items.shape)}, expected {(rows, dim)} (row 0 is padding)")
        scores = encoder.score_items(users)
        if tuple(scores.shape) != (batch, rows):
            raise _fail(rule, f"score_items gave {tuple(scores.shape)}, expected {(batch, rows)}")
        sequence = encoder.sequence_output(history)
        if sequence is not None and tuple(sequence.shape) != (batch, length, dim):
            raise _fail(rule, f"sequence_output gave {tuple(sequence.shape)}, expected {(batch, length, dim)}")


def check_forward_is_last_sequence_output(encoder: Encoder, history: torch.Tensor) -> None:
    """For a sequential encoder, ``forward`` equals ``sequence_output`` at the last position."""
    with torch.no_grad():
        sequence = encoder.sequence_output(history)
        if sequence is None:
            return
        _close("forward is the last sequence output", encoder(history), sequence[:, -1])


def check_causal(encoder: Encoder, history: torch.Tensor) -> None:
    """Changing the last item never changes ``sequence_output`` at earlier positions (each
    position sees only the items up to it), and does change the last position."""
    rule = "sequence outputs are causal"
    changed = history.clone()
    changed[:, -1] = changed[:, -1] % encoder.num_items + 1
    with torch.no_grad():
        before, after = encoder.sequence_output(history), encoder.sequence_output(changed)
    if before is None or after is None:
        return
    _close(rule, before[:, :-1], after[:, :-1], "an earlier position changed when the last item did")
    if torch.allclose(before[:, -1], after[:, -1]):
        raise _fail(rule, "the last position ignores the last item")


def check_hidden_layers(encoder: Encoder, history: torch.Tensor) -> None:
    """``hidden_layers`` names at least 2 layers, the last one ``"output"`` (the user vector:
    the ``local`` extractor leaves ``embedding`` and ``output`` out by default), each with the
    batch first; ``layer_names()`` lists the same names."""
    rule = "hidden layers"
    with torch.no_grad():
        layers = encoder.hidden_layers(history)
        users = encoder(history)
    names = list(layers)
    if len(names) < 2:
        raise _fail(rule, f"only {names}; name at least 2 layers (e.g. 'embedding' and 'output')")
    if names[-1] != "output":
        raise _fail(rule, f"the last layer must be named 'output', got {names}")
    wrong = [n for n, t in layers.items() if t.dim() not in (2, 3) or t.shape[0] != history.shape[0]]
    if wrong:
        raise _fail(rule, f"layers {wrong} are not (B, D) or (B, L, D) for a batch of {history.shape[0]}")
    output = layers["output"]
    _close(rule, output if output.dim() == 2 else output[:, -1], users, "'output' is not the user vector (forward)")
    if encoder.layer_names() != names:
        raise _fail(rule, f"layer_names() gave {encoder.layer_names()}, hidden_layers {names}")


def check_padding_invariance(encoder: Encoder, history: torch.Tensor) -> None:
    """An encoder claiming ``padding_invariant`` gives the same user vectors (and outputs at
    every position) with extra left padding; evaluation relies on it to cut batches short."""
    if not encoder.padding_invariant:
        return
    rule = "padding_invariant"
    history = history[:, 4:]  # padded back to the original length, within max_length
    padded = torch.cat([torch.zeros(history.shape[0], 4, dtype=history.dtype), history], dim=1)
    with torch.no_grad():
        _close(rule, encoder(history), encoder(padded), "forward changed with extra left padding")
        short, long = encoder.sequence_output(history), encoder.sequence_output(padded)
        if short is not None and long is not None:
            _close(rule, short, long[:, 4:], "sequence_output changed with extra left padding")


def check_item_parameters(encoder: Encoder) -> None:
    """Every parameter in ``item_parameters()`` is the encoder's and indexed by item id."""
    rule = "item_parameters"
    owned = {id(p) for p in encoder.parameters()}
    params = encoder.item_parameters()
    if not params:
        raise _fail(rule, "empty; list the item table (alignment resizes these)")
    for param in params:
        if id(param) not in owned:
            raise _fail(rule, "lists a tensor that is not one of the encoder's parameters")
        if param.shape[0] != encoder.num_items + 1:
            raise _fail(rule, f"a parameter of shape {tuple(param.shape)} is not indexed by item id "
                              f"(first dimension {encoder.num_items + 1})")


def check_resize_items(encoder: Encoder) -> None:
    """``resize_items`` grows the item tables to a new catalogue, keeping the mapped rows."""
    rule = "resize_items"
    old_items = encoder.num_items
    old = encoder.item_vectors().detach().clone()
    new_items = old_items + 10
    source_rows = torch.full((new_items + 1,), -1, dtype=torch.long)
    source_rows[0] = 0
    kept = min(old_items, 5)
    source_rows[1 : kept + 1] = torch.arange(old_items - kept + 1, old_items + 1)
    encoder.resize_items(new_items, source_rows)
    new = encoder.item_vectors().detach()
    if encoder.num_items != new_items or new.shape[0] != new_items + 1:
        raise _fail(rule, f"after resizing to {new_items} items, num_items is {encoder.num_items} and "
                          f"item_vectors() has {new.shape[0]} rows")
    _close(rule, new[1 : kept + 1], old[old_items - kept + 1 :], "mapped rows did not keep their vectors")
    with torch.no_grad():
        encoder(toy_history(new_items))


def check_learns(encoder: Encoder, num_items: int, steps: int = 30) -> None:
    """A few optimiser steps on a fixed batch lower the next-item loss by 10% or more."""
    from recgraft.objective import next_item_loss

    torch.manual_seed(0)
    # Each item is followed by the next id (cyclically): a pattern any encoder can pick up.
    length = min(12, int(encoder.config.max_length))
    starts = torch.randint(0, num_items, (32, 1), generator=torch.Generator().manual_seed(1))
    sequence = (starts + torch.arange(length + 1)) % num_items + 1
    inputs, targets = sequence[:, :-1].clone(), sequence[:, 1:].clone()
    inputs[:8, :4] = 0
    targets[:8, :4] = 0
    optimizer = torch.optim.Adam(encoder.parameters(), lr=5e-3)
    encoder.train()
    with torch.no_grad():
        first = float(next_item_loss(encoder, inputs, targets))
    for _ in range(steps):
        optimizer.zero_grad()
        next_item_loss(encoder, inputs, targets).backward()
        optimizer.step()
    with torch.no_grad():
        last = float(next_item_loss(encoder, inputs, targets))
    if not last < first * 0.9:
        raise _fail("the encoder learns", f"{steps} Adam steps moved the next-item loss from {first:.4f} to {last:.4f}")


def check_same_seed_same_encoder(build: Callable[[], Encoder]) -> None:
    """Two encoders built after the same ``torch.manual_seed`` have equal weights."""
    torch.manual_seed(0)
    first = build().state_dict()
    torch.manual_seed(0)
    second = build().state_dict()
    for key, value in first.items():
        if not torch.equal(value, second[key]):
            raise _fail("the same seed builds the same encoder", f"{key} differs")


# --- extractors -----------------------------------------------------------------------


def check_extractor(extractor: FeatureExtractor, encoder: Encoder, history: torch.Tensor) -> None:
    """``extract`` gives ``(B, output_dim(encoder))``; ``extract_sequence`` None or
    ``(B, L, F)`` ending with ``extract``'s features, causal; ``describe()`` is the config as JSON."""
    rule = "extractor"
    encoder.eval()
    with torch.no_grad():
        features = extractor.extract(encoder, history)
        dim = extractor.output_dim(encoder)
        if tuple(features.shape) != (history.shape[0], dim):
            raise _fail(rule, f"extract gave {tuple(features.shape)}, output_dim says {(history.shape[0], dim)}")
        sequence = extractor.extract_sequence(encoder, history)
        if sequence is not None:
            if tuple(sequence.shape) != (*history.shape, dim):
                raise _fail(rule, f"extract_sequence gave {tuple(sequence.shape)}, expected {(*history.shape, dim)}")
            _close(rule, sequence[:, -1], features, "extract_sequence's last position is not extract's features")
            changed = history.clone()
            changed[:, -1] = changed[:, -1] % encoder.num_items + 1
            again = extractor.extract_sequence(encoder, changed)
            if again is not None:
                _close(rule, again[:, :-1], sequence[:, :-1], "extract_sequence is not causal")
    described = extractor.describe()
    try:
        type(extractor).Config.model_validate(json.loads(json.dumps(described)))
    except (TypeError, ValueError) as exc:  # ValidationError is a ValueError
        raise _fail(rule, f"describe() is not the config as JSON: {' '.join(str(exc).split())}") from None


# --- heads ----------------------------------------------------------------------------

MakeHead = Callable[[int, int], Head]


def check_head(make_head: MakeHead, feature_dim: int = 12, item_dim: int = 8, num_items: int = 10) -> None:
    """``make_head(feature_dim, item_dim)`` builds a head for any sizes; ``forward`` scores the
    catalogue ``(B, I + 1)``; ``pair_logits`` scores candidates as ``forward`` does; ``loss``
    is a finite scalar whose gradient reaches the head's parameters."""
    rule = "head"
    generator = torch.Generator().manual_seed(0)
    for f_dim, i_dim in ((feature_dim, item_dim), (item_dim, item_dim)):
        head = make_head(f_dim, i_dim).eval()
        if not isinstance(head, Head):
            raise _fail(rule, f"make_head built a {type(head).__name__}, not a recgraft.head.Head")
        features = torch.randn(3, f_dim, generator=generator)
        items = torch.randn(num_items + 1, i_dim, generator=generator)
        with torch.no_grad():
            scores = head(features, items)
            if tuple(scores.shape) != (3, num_items + 1):
                raise _fail(rule, f"forward gave {tuple(scores.shape)} for features (3, {f_dim}) and items "
                                  f"({num_items + 1}, {i_dim}), expected {(3, num_items + 1)}")
            candidates = torch.tensor([[1, 4], [2, num_items], [0, 3]])
            pairs = head.pair_logits(features, items[candidates])
            if tuple(pairs.shape) != (3, 2):
                raise _fail(rule, f"pair_logits gave {tuple(pairs.shape)}, expected (3, 2)")
            _close(rule, pairs, scores.gather(1, candidates), "pair_logits disagrees with forward")
        head.train()
        loss = head.loss(features, torch.tensor([1, 2, 3]), items, torch.zeros(num_items + 1))
        if loss.dim() != 0 or not torch.isfinite(loss):
            raise _fail(rule, f"loss is {loss!r}, not a finite scalar")
        params = [p for p in head.parameters() if p.requires_grad]
        if params:
            loss.backward()
            if all(p.grad is None or not p.grad.any() for p in params):
                raise _fail(rule, "the loss's gradient reaches none of the head's parameters")


# --- strategies -----------------------------------------------------------------------


def check_strategy(strategy: TransferStrategy, context: Callable[[], TransferContext], history: torch.Tensor) -> None:
    """``build(context)`` returns a ``TransferModel`` scoring ``(B, I + 1)``, with the same
    parameter names and shapes every time (a checkpoint reloads by building again);
    ``parameter_groups`` puts each trainable parameter in exactly one group;
    ``learning_rate_scales`` names groups; ``source_mix()`` is not negative."""
    rule = "strategy"
    model = strategy.build(context())
    if not isinstance(model, TransferModel):
        raise _fail(rule, f"build() returned a {type(model).__name__}, not a recgraft.transfer_model.TransferModel")
    num_items = model.num_items
    model.eval()
    with torch.no_grad():
        scores = model(history)
    if tuple(scores.shape) != (history.shape[0], num_items + 1):
        raise _fail(rule, f"the model scored {tuple(scores.shape)}, expected {(history.shape[0], num_items + 1)}")
    again = strategy.build(context())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in again.state_dict().items()}:
        raise _fail(rule, "building twice gave different parameters, so its checkpoint cannot be reloaded")
    groups = strategy.parameter_groups(model, 1e-3)
    seen: dict[int, str] = {}
    for group in groups:
        if not {"params", "lr", "name"} <= set(group):
            raise _fail(rule, f"a parameter group lacks params, lr or name: {sorted(group)}")
        for param in group["params"]:
            if id(param) in seen:
                raise _fail(rule, f"a parameter is in groups {seen[id(param)]!r} and {group['name']!r}")
            if not param.requires_grad:
                raise _fail(rule, f"group {group['name']!r} holds a frozen parameter")
            seen[id(param)] = group["name"]
    left_out = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if left_out:
        raise _fail(rule, f"trainable parameters in no group (freeze them, or group them): {left_out[:3]}")
    names = {group["name"] for group in groups}
    for epoch in (1, 2, 5):
        unknown = set(strategy.learning_rate_scales(epoch)) - names
        if unknown:
            raise _fail(rule, f"learning_rate_scales({epoch}) names no group: {sorted(unknown)}")
    if not strategy.source_mix() >= 0:
        raise _fail(rule, f"source_mix() is {strategy.source_mix()}")


# --- dataset loaders ------------------------------------------------------------------


def check_detect_never_raises(loader: type, paths: list[Path]) -> None:
    """``detect(path)`` is a bool for any path (missing, a folder, other formats), never an error."""
    for path in paths:
        try:
            found = loader.detect(path)  # type: ignore[attr-defined]
        except Exception as exc:
            raise _fail("detect never raises", f"detect({path}) raised {type(exc).__name__}: {exc}") from None
        if not isinstance(found, bool):
            raise _fail("detect never raises", f"detect({path}) returned {found!r}, not a bool")


def check_loads(loader: Any, path: Path) -> Domain:
    """The loader detects and reads its own sample into a non-empty :class:`Domain`."""
    rule = "dataset loader"
    if not type(loader).detect(path):
        raise _fail(rule, f"detect() does not recognise the sample {path}")
    domain = loader.load(path, None)
    if not isinstance(domain, Domain):
        raise _fail(rule, f"load() returned a {type(domain).__name__}, not a recgraft.data.domain.Domain")
    if domain.num_interactions == 0 or domain.num_items == 0 or domain.num_users == 0:
        raise _fail(rule, f"load() of the sample gave an empty domain: {domain!r}")
    named = loader.load(path, "named")
    if named.name != "named":
        raise _fail(rule, f"load(path, 'named') gave a domain named {named.name!r}")
    return domain


def check_malformed_is_data_error(loader: Any, path: Path) -> None:
    """Malformed input raises :class:`recgraft.errors.DataError` (one line at the CLI), not a traceback."""
    try:
        loader.load(path, None)
    except DataError:
        return
    except Exception as exc:
        raise _fail("malformed data is a DataError", f"load({path}) raised {type(exc).__name__}: {exc}") from None
    raise _fail("malformed data is a DataError", f"load({path}) accepted malformed data")


def _close(rule: str, actual: torch.Tensor, expected: torch.Tensor, why: str = "values differ") -> None:
    if actual.shape != expected.shape or not torch.allclose(actual.float(), expected.float(), rtol=1e-4, atol=1e-5):
        raise _fail(rule, why)


def check_item_feature(feature: Any, config: Any, values: np.ndarray, dim: int = 8) -> None:
    """An item feature fits a JSON state, makes per-item inputs of its declared shape and dtype,
    embeds them to ``(N, dim)``, and is rebuilt from its config and state (as from a checkpoint)
    with the same vectors: what transfer to new items relies on."""
    import json

    rule = "item_feature"
    state = feature.fit(config, values)
    try:
        recorded = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise _fail(rule, f"fit must return JSON-serialisable state: {exc}") from None
    torch.manual_seed(0)
    module = feature(config, dim, recorded)
    inputs = module.inputs(values)
    if tuple(inputs.shape) != (len(values), *module.input_shape()) or inputs.dtype != module.input_dtype:
        raise _fail(rule, f"inputs are {list(inputs.shape)} {inputs.dtype}, input_shape() and input_dtype say "
                          f"{[len(values), *module.input_shape()]} {module.input_dtype}")
    if not torch.equal(inputs, module.inputs(values)):
        raise _fail(rule, "inputs must be the same for the same values")
    vectors = module(inputs)
    if tuple(vectors.shape) != (len(values), dim) or not torch.isfinite(vectors).all():
        raise _fail(rule, f"forward must give finite vectors of shape {[len(values), dim]}, got {list(vectors.shape)}")
    rebuilt = feature(config, dim, json.loads(json.dumps(state)))
    rebuilt.load_state_dict(module.state_dict())
    _close(rule, rebuilt(rebuilt.inputs(values)), vectors, "a feature rebuilt from its config and state differs")
