"""The toy distribution's strategy, imported only when it is used."""

from recgraft.strategy import TransferStrategy, TransferStrategyConfig


class ToyStrategyConfig(TransferStrategyConfig):
    rate: float = 0.5


class ToyStrategy(TransferStrategy):
    Config = ToyStrategyConfig
