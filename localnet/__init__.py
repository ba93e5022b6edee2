"""localnet: a local Internet Computer that runs Kybra canisters' Python source under CPython behind
the real IC HTTP interface. For development and testing, not a production replica."""

from localnet.net import LocalNet

__all__ = ["LocalNet"]
