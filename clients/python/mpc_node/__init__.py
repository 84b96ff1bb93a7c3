"""mpc_node: Python trainers of mpc-node (docs/python.md).

The core (``Client``, ``MpcNodeError``) uses the standard library only; numpy and torch are
imported only when an update or state_dict holds such objects.
"""
from .client import Client, Result
from .errors import MpcNodeError
from .state_dict import aggregate_state_dict

__all__ = ["Client", "MpcNodeError", "Result", "aggregate_state_dict"]
__version__ = "0.1.0"
