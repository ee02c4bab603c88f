"""``mtcp bench --veth`` in the lab (root): the kernel with 1 and 2 client threads and mtcp on
AF_PACKET (cBPF fanout) with 1 and 2 contexts, each row in its child process against the
2-worker kernel peer, short runs. Figures are printed by the tool, never asserted; what is
checked is that every row ran to a record with operations and CPU figures, that each mtcp
context opened connections of its own, that the 2-context rows carry a 1 → 2 scaling factor,
and that AF_XDP and TAP with 2 contexts (software-steered) give a figure with every connection
completed, or "not supported", never a failure.
"""

from __future__ import annotations

import io

from mtcp.tools import bench
from mtcp.tools._bench_veth import Row, run_in_lab, veth_table

SECS = 0.3


def test_kernel_and_afpacket_with_one_and_two_contexts(lab: None) -> None:
    rows = [
        Row(workload, stack, io_, n)
        for workload in ("short", "rpc")
        for stack, io_ in (("kernel", "veth"), ("mtcp", "afpacket"))
        for n in (1, 2)
    ]
    out = io.StringIO()
    recs = run_in_lab(rows, SECS, out, bench._describe)
    print(out.getvalue())
    assert [(r["workload"], r["io"], r["contexts"]) for r in recs] == [
        (row.workload, row.io, row.contexts) for row in rows
    ]
    for r in recs:
        assert r["status"] == "ok", r
        assert r["ops"] > 0, r
        assert len(r["thread_rates"]) == r["contexts"]
        assert all(rate > 0 for rate in r["thread_rates"]), r  # both contexts did work
        assert len(r["cpu"]["client_threads"]) == r["contexts"]
        assert r["limit"]
        if r["contexts"] == 2:
            assert r["scaling"] > 0
        if r["stack"] == "mtcp":  # each context opened connections of its own
            opened = [c["connections_opened"] for c in r["context_stats"]]
            assert len(opened) == r["contexts"]
            assert min(opened) > 0, r["context_stats"]
    print(veth_table(recs))


def test_steered_backends_with_two_contexts_finish_every_connection(lab: None) -> None:
    """AF_XDP on the 2-queue veth and the multi-queue TAP need software steering: each
    context's frames partly arrive on the other's queue. Every short connection completes
    (a context whose thread finished first used to strand its sibling's last connections,
    which then failed at the end of the drain), or the backend says it is not supported."""
    rows = [Row(w, "mtcp", io_, 2) for w in ("short", "rpc") for io_ in ("afxdp", "tap")]
    out = io.StringIO()
    recs = run_in_lab(rows, SECS, out, bench._describe)
    print(out.getvalue())
    for r in recs:
        assert r["status"] in ("ok", "not supported"), r
        if r["status"] == "not supported":
            assert r["reason"]
            continue
        assert r["ops"] > 0
        assert r["errors"] == 0, r
        assert r["secs"] < SECS + 2, r  # no connection waited for the drain
