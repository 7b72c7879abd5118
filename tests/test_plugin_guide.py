"""docs/plugins.md's examples run as written: together they are a plugin (loaded through
plugins.toml), and its components pass the contract suites the guide tells authors to run."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch

from recgraft.plugin_manager import catalog
from recgraft.testing import checks

ROOT = Path(__file__).parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text()

REGISTER = '''

@hookimpl
def register_encoders(register):
    register("windowmean", WindowMeanEncoder)

@hookimpl
def register_extractors(register):
    register("with-last-item", WithLastItemExtractor)

@hookimpl
def register_heads(register):
    register("cosine", CosineHead)

@hookimpl
def register_strategies(register):
    register("adapted", AdaptedStrategy)

@hookimpl
def register_datasets(register):
    register("pairs", PairsLoader)

@hookimpl
def register_item_features(register):
    register("length", LengthFeature)
'''


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)


@pytest.fixture
def guide_plugin(tmp_path: Path, plugins_toml) -> dict[str, object]:
    """The guide's examples as one local plugin module, loaded; returns its namespace."""
    module = tmp_path / "guide_plugin.py"
    module.write_text("\n\n".join(python_blocks()) + REGISTER)
    plugins_toml(f'[plugins]\npaths = ["{module}"]\n')
    entry = catalog().entry("encoder", "windowmean")
    return vars(inspect.getmodule(entry.load()))


def run_suite(suite: object, tmp_path: Path) -> list[str]:
    """Every test method of a contract suite instance, fixtures filled in; the names run."""
    ran = []
    for name in sorted(n for n in dir(suite) if n.startswith("test_")):
        method = getattr(suite, name)
        arguments = {}
        for parameter in inspect.signature(method).parameters:
            if parameter == "encoder":
                arguments["encoder"] = suite.build().eval()  # type: ignore[attr-defined]
            elif parameter == "history":
                length = min(suite.length, int(arguments["encoder"].config.max_length))  # type: ignore[attr-defined]
                arguments["history"] = checks.toy_history(suite.num_items, length=length)  # type: ignore[attr-defined]
            elif parameter == "tmp_path":
                arguments["tmp_path"] = tmp_path / name
                arguments["tmp_path"].mkdir(parents=True)
        torch.manual_seed(0)
        try:
            method(**arguments)
        except pytest.skip.Exception:
            continue
        ran.append(name)
    return ran


def test_the_guide_has_an_example_for_every_component_kind_and_contract() -> None:
    code = "\n".join(python_blocks())
    for name in ("Encoder", "FeatureExtractor", "Head", "TransferStrategy", "DatasetLoader", "ItemFeature",
                 "TransferModel", "FeatureAdapter", "make_head", "padding_invariant", '"output"',
                 "EncoderContract", "StrategyContract", "ItemFeatureContract"):
        assert name in code, name


def test_the_guide_names_files_that_exist() -> None:
    for path in set(re.findall(r"`((?:core|plugins|registry|examples)/[\w/.-]+)`", GUIDE)):
        assert (ROOT / path).exists(), path
    assert "recgraft/hookspecs.py" not in GUIDE


def test_the_guide_examples_are_a_plugin_whose_components_pass_the_contract_suites(
    guide_plugin: dict[str, object], tmp_path: Path
) -> None:
    suites = {name: value for name, value in guide_plugin.items() if name.startswith("Test") and isinstance(value, type)}
    assert set(suites) == {"TestWindowMean", "TestWithLastItem", "TestCosineHead", "TestAdapted", "TestPairs",
                           "TestLength"}
    for name, suite in suites.items():
        ran = run_suite(suite(), tmp_path / name)
        assert len(ran) >= 5, (name, ran)
    assert all(e.status == "ok" for e in catalog().entries() if e.plugin == "guide_plugin")


def test_the_guide_strategy_and_head_transfer_end_to_end(guide_plugin: dict[str, object], tmp_path: Path) -> None:
    from recgraft.data.loader import load_domain
    from recgraft.data.synthetic import synthetic_domains
    from recgraft.pretrain import pretrain
    from recgraft.transfer import Transfer

    source, target = synthetic_domains(num_users=(80, 40), num_items=(40, 30), interactions_per_user=(10, 8), seed=0)
    pretrained = pretrain(source, "windowmean", {"embedding_dim": 8, "max_length": 8}, {"epochs": 1}, device="cpu")
    transfer = Transfer.from_pretrained(pretrained, strategy="adapted", head="cosine", extractor="with-last-item")
    result = transfer.fit(target, {"epochs": 1}, device="cpu")
    assert 0.0 <= result.evaluate("test")["ndcg@10"] <= 1.0
    pairs = tmp_path / "events.pairs"
    pairs.write_text("u1 i1\nu1 i2\nu2 i1\n")
    assert load_domain(pairs).num_interactions == 3


def test_the_guide_lineage_example_is_what_registry_lineage_prints(
    guide_plugin: dict[str, object], tmp_path: Path
) -> None:
    """The guide's example (the example package's ``bag`` encoder and ``embeddings-only``
    strategy) printed by ``recgraft registry lineage`` for the guide's own encoder and strategy."""
    import dataclasses

    from click.testing import CliRunner

    from recgraft.cli import build_cli
    from recgraft.data.synthetic import synthetic_domains
    from recgraft.pretrain import pretrain
    from recgraft.registry import Registry
    from recgraft.transfer import Transfer

    example = re.search(r"shows up as\n\n((?:    .*\n)+)", GUIDE)
    assert example is not None
    expected = "".join(line[4:] + "\n" for line in example.group(1).splitlines())
    expected = expected.replace("embeddings-only", "adapted").replace("bag", "windowmean")
    source, target = synthetic_domains(num_users=(80, 40), num_items=(40, 30), interactions_per_user=(10, 8), seed=0)
    source, target = dataclasses.replace(source, name="ml-1m"), dataclasses.replace(target, name="ml-100k")
    registry = Registry.open()
    pretrained = pretrain(source, "windowmean", {"embedding_dim": 8, "max_length": 8}, {"epochs": 1}, device="cpu")
    parent = pretrained.register(registry)
    transfer = Transfer.from_checkpoint(registry, parent.reference, strategy="adapted")  # default head, extractor
    transfer.fit(target, {"epochs": 1}, device="cpu").register(registry)
    result = CliRunner().invoke(build_cli(), ["registry", "lineage", "ml-1m-windowmean"])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected


def test_the_guide_item_feature_pretrains_and_reaches_new_items(guide_plugin: dict[str, object]) -> None:
    from recgraft.checkpoint import from_bytes
    from recgraft.checkpoint.modules import encoder_from_checkpoint
    from recgraft.data.synthetic import synthetic_domains
    from recgraft.pretrain import pretrain

    domain = synthetic_domains(num_domains=1, num_users=40, num_items=30, seed=0)[0]
    config = {"embedding_dim": 8, "max_length": 8, "num_heads": 1, "item_features": ["title:length"], "item_ids": False}
    trained = pretrain(domain, "transformer", config, {"epochs": 1}, device="cpu")
    assert trained.encoder.config.item_features[0].kind == "length"
    loaded = encoder_from_checkpoint(from_bytes(trained.to_bytes())).eval()
    assert torch.equal(loaded.item_vectors(), trained.encoder.eval().item_vectors())
