"""Checksum offload on the wire (``checksum_offload``): our stack hands TCP checksums to the
kernel — through the virtio-net header on TAP and AF_PACKET, through AF_XDP TX metadata on
AF_XDP — and the kernel's TCP takes those segments as verified.

A raw ``AF_PACKET`` socket in the kernel's namespace watches the frames our stack sends while a
kernel ``curl`` fetches a page from it. With offload on, our TCP segments arrive carrying only
the pseudo-header sum (the kernel calls them ``CHECKSUM_PARTIAL``), so a software check of
their checksum fails, and yet ``curl`` gets every byte. With ``checksum_offload = 0`` every
checksum on the wire is complete. Root only; addresses in the lab's 198.18.0.0/15 namespaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .test_kernel_interop import BODY, HTTP_PORT, SITES, kernel, serving

#: Counts our TCP frames on the kernel's interface and how many carry a complete checksum.
WATCHER = textwrap.dedent(
    """
    import json, socket, struct, sys, time
    dev, src = sys.argv[1], socket.inet_aton(sys.argv[2])
    # ETH_P_ALL: a device enslaved to a bridge hands IPv4 frames to the bridge, not to
    # protocol-specific packet sockets.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 3))
    s.settimeout(0.2)
    def csum(data):
        if len(data) % 2:
            data += b"\\0"
        total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        while total > 0xffff:
            total = (total & 0xffff) + (total >> 16)
        return total
    print("ready", flush=True)
    seen = complete = 0
    deadline = time.monotonic() + float(sys.argv[3])
    last = None  # stop once our frames have been quiet for a second
    while time.monotonic() < deadline and seen < 200:
        if last is not None and time.monotonic() - last > 1.0:
            break
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        ip = frame[14:]
        if frame[12:14] != b"\\x08\\x00" or len(ip) < 40 or ip[9] != 6 or ip[12:16] != src:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        segment = ip[ihl:total]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(segment))
        seen += 1
        last = time.monotonic()
        complete += csum(pseudo + segment) == 0xffff
    print(json.dumps({"seen": seen, "complete": complete}), flush=True)
    """
)


@pytest.mark.parametrize("offload", [1, 0], ids=["offload", "software"])
@pytest.mark.parametrize("io", ["tap", "afpacket", "afxdp"])
def test_tcp_checksums_left_to_the_kernel_only_with_offload(
    lab: None, io: str, offload: int
) -> None:
    site = SITES[io]
    with serving(site, checksum_offload=offload):
        watcher = subprocess.Popen(
            ["timeout", "30", "ip", "netns", "exec", site.kernel_ns, sys.executable, "-c",
             WATCHER, site.kernel_dev, site.stack_addr, "15"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert watcher.stdout is not None
            assert watcher.stdout.readline().strip() == "ready"
            url = f"http://{site.stack_addr}:{HTTP_PORT}/"
            for _ in range(3):
                out = kernel(site, "curl", "-sS", "--max-time", "10", url)
                assert out.encode() == BODY, "curl got the body intact"
            result, _ = watcher.communicate(timeout=20)
        finally:
            watcher.kill()
    counts = json.loads(result.strip().splitlines()[-1])
    # Three connections: SYN-ACK, the response, FIN and ACKs, at least 5 segments each.
    assert counts["seen"] >= 15, counts
    if offload:
        # A pseudo-header sum passes a full check only by a 1-in-65536 coincidence.
        assert counts["complete"] <= 1, f"checksums were not left to the kernel: {counts}"
    else:
        assert counts["complete"] == counts["seen"], counts
