"""``mtcp.Stack``: a configured TCP/IP stack on one port; one :class:`Context` per core."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Union

from . import _mtcp
from .config import Config
from .context import Context

__all__ = ["ConfigLike", "Stack"]

#: What :class:`Stack` accepts: a :class:`Config`, the path of an ``mtcp.conf``, or a
#: mapping of config keywords.
ConfigLike = Union[Config, str, "os.PathLike[str]", Mapping[str, Any], None]


def as_config(config: ConfigLike) -> Config:
    """``config`` as a :class:`Config`."""
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, os.PathLike)):
        return Config.load(config)
    if isinstance(config, Mapping):
        return Config.from_dict(config)
    raise TypeError(
        f"config must be a mtcp.Config, a path or a mapping, not {type(config).__name__}"
    )


class Stack:
    """A TCP/IP stack (``mtcp_init``). ``with stack:`` destroys it at the end of the block."""

    __slots__ = ("__weakref__", "_config", "_contexts", "_raw")

    def __init__(self, config: ConfigLike = None) -> None:
        cfg = as_config(config)
        self._raw = _mtcp.Stack(cfg._raw)
        self._config = cfg
        self._contexts: list[Context] = []

    @classmethod
    def _adopt(cls, raw: _mtcp.Stack, config: Config) -> Stack:
        self = cls.__new__(cls)
        self._raw = raw
        self._config = config
        self._contexts = []
        return self

    @property
    def raw(self) -> _mtcp.Stack:
        return self._raw

    def create_context(self, core: int = 0) -> Context:
        """``mtcp_create_context(core)``: the engine of ``core`` (``0 <= core < num_cores``)."""
        ctx = Context(self._raw.create_context(core), self, self._config.max_concurrency)
        # A context lives until it is destroyed, as in mTCP, not until its last Python
        # reference goes: a server context nobody holds must still answer its peers.
        self._contexts.append(ctx)
        return ctx

    @property
    def contexts(self) -> tuple[Context, ...]:
        """The contexts created by this stack."""
        return tuple(self._contexts)

    def config(self) -> Config:
        """The configuration the stack runs with."""
        return Config._from_raw(self._raw.config())

    def destroy(self) -> None:
        """``mtcp_destroy``: stops every context of this stack."""
        self._raw.destroy()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"<mtcp.Stack io={self._config.io} addr={self._config.addr}>"
