#!/usr/bin/env python3
"""Prints N distinct free TCP ports of 127.0.0.1 (default 1), separated by spaces.

    read -r public_port operator_port < <(python3 scripts/lib/free_ports.py 2)

The one way the scripts pick ports for the servers they start, so that no
run depends on a fixed port being free and runs side by side do not clash.
All N sockets are bound at once, so that no port is picked twice; the
ports are free when this returns (another program may still take one
before the caller binds it, which is unlikely on loopback within a moment).
scripts/bench/run.py imports free_ports() from here.
"""

import socket
import sys


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and not sys.argv[1].isdigit()):
        sys.exit(f"usage: {sys.argv[0]} [N]")
    print(*free_ports(int(sys.argv[1]) if len(sys.argv) == 2 else 1))
