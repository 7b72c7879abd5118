"""Checkpoint bytes: safetensors plus metadata, loadable without the training data."""

from __future__ import annotations

import pytest
import torch

from recgraft.checkpoint import CheckpointFormatError, from_bytes, read_metadata
from recgraft.checkpoint.modules import encoder_from_checkpoint
from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.engine.device import precision_for
from recgraft.pretrain import build_encoder as fresh_encoder
from recgraft.pretrain import pretrain


@pytest.fixture(scope="module")
def trained():
    split = leave_one_out(synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=2)[0])
    return pretrain(split, "lstm", {"embedding_dim": 8, "hidden_dim": 8, "max_length": 8}, {"epochs": 1}, device="cpu")


def test_round_trip_rebuilds_an_identical_encoder(trained) -> None:
    contents = from_bytes(trained.to_bytes())
    rebuilt = encoder_from_checkpoint(contents).eval()
    history = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])
    torch.testing.assert_close(rebuilt(history), trained.encoder.eval()(history))


def test_metadata_carries_vocabulary_config_and_provenance(trained) -> None:
    metadata = read_metadata(trained.to_bytes())
    assert metadata["components"]["encoder"]["name"] == "lstm"
    assert metadata["items"][0] == "[PAD]" and len(metadata["items"]) == trained.domain.num_items + 1
    # auto: bf16 autocast on a CPU with native bf16, float32 elsewhere
    assert metadata["device"] == "cpu" and metadata["precision"] == precision_for(torch.device("cpu"))


def test_an_encoder_pretrained_from_an_instance_is_recorded_by_its_plugin_name() -> None:
    split = leave_one_out(synthetic_domains(num_users=(60, 20), num_items=(30, 20), seed=3)[0])
    instance = fresh_encoder("transformer", {"embedding_dim": 8, "max_length": 8, "num_layers": 1}, split.domain.num_items)
    pretrained = pretrain(split, instance, train={"epochs": 1}, device="cpu")
    contents = from_bytes(pretrained.to_bytes())
    assert contents.metadata["components"]["encoder"]["name"] == "transformer"
    assert type(encoder_from_checkpoint(contents)) is type(instance)


def test_bytes_that_are_not_a_checkpoint_are_refused() -> None:
    with pytest.raises(CheckpointFormatError):
        read_metadata(b"definitely not safetensors")


def _rewritten(data: bytes, edit) -> bytes:
    """The checkpoint with its recgraft metadata passed through ``edit`` (tensors unchanged)."""
    import json

    from safetensors.torch import load, save

    metadata = json.loads(json.dumps(read_metadata(data)))
    edited = edit(metadata)
    return save(load(data), metadata={"recgraft": json.dumps(metadata if edited is None else edited)})


def _huge_dim(meta):
    meta["components"]["encoder"]["config"]["embedding_dim"] = 10**9


def _other_dim(meta):
    meta["components"]["encoder"]["config"]["embedding_dim"] = 4096


def _one_item_less(meta):
    meta["items"] = meta["items"][:-1]


def _one_item_more(meta):
    meta["items"] = [*meta["items"], "a new item"]


def _duplicate_item(meta):
    meta["items"][-1] = meta["items"][1]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda meta: [1, 2], "a JSON list, not an object"),
        (lambda meta: {k: v for k, v in meta.items() if k != "components"}, "'components'"),
        (_duplicate_item, "appears more than once"),
        (_one_item_less, "tensor encoder.item_embedding.weight has shape"),
        (_one_item_more, "tensor encoder.item_embedding.weight has shape"),
        (_huge_dim, "embedding_dim: Input should be less than or equal to"),
        (_other_dim, "has shape"),
        (lambda meta: meta["components"]["encoder"]["config"].update(embedding_dim=0), "embedding_dim"),
        (lambda meta: meta["components"]["encoder"].update(name="nosuch"), "nosuch"),
    ],
)
def test_malformed_contents_are_one_error_naming_the_checkpoint(trained, edit, match: str) -> None:
    from recgraft.errors import RecgraftError
    from recgraft.recommender import load_recommender

    data = _rewritten(trained.to_bytes(), edit)
    with pytest.raises(RecgraftError, match=match) as raised:
        load_recommender(data, "cpu", source="src@3")
    assert str(raised.value).startswith("checkpoint src@3: ") and "\n" not in str(raised.value)


def test_huge_shapes_in_the_header_are_a_format_error(trained) -> None:
    import json
    import struct

    data = trained.to_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [2**62, 2**62]
    text = json.dumps(header).encode()
    with pytest.raises(CheckpointFormatError, match="checkpoint src@1: not a recgraft checkpoint"):
        from_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :], "src@1")


def test_recommend_on_a_checkpoint_that_does_not_fit_its_items_is_one_line(trained) -> None:
    from click.testing import CliRunner

    from recgraft.cli import build_cli
    from recgraft.registry import Registry

    with Registry.open() as registry:  # the registry checks the header; the tensors fit on load
        registry.register("bad", _rewritten(trained.to_bytes(), _one_item_more), domain="d",
                          encoder="lstm", encoder_config={})
    result = CliRunner().invoke(build_cli(), ["recommend", "bad", "--history", "x"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "checkpoint bad@1: tensor encoder.item_embedding" in result.stderr
