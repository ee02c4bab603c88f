"""The programs behind the ``mtcp`` command: mTCP's sample apps and the demo.

* :mod:`mtcp.tools.epserver` — mTCP's ``epserver``: HTTP file server on mtcp epoll;
* :mod:`mtcp.tools.epwget` — mTCP's ``epwget``: HTTP load, a new connection per request;
* :mod:`mtcp.tools.demo` — both in one process over the in-memory link, with a verdict.

Each module has ``add_arguments(parser)`` and ``run(args) -> exit status``; the workers
(:class:`~mtcp.tools.epserver.ServerWorker`, :class:`~mtcp.tools.epwget.ClientWorker`) can be
used from Python directly, one per context.
"""

from __future__ import annotations

__all__ = ["demo", "epserver", "epwget"]
