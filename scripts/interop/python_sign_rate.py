"""Measures how many orders per second Polymarket's official Python client
(py-clob-client-v2) builds and signs on this machine, for comparison with
pmbot's own rate in the same benchmark run.

Usage: python python_sign_rate.py http://127.0.0.1:PORT TOKEN_ID [N]
Prints one line: `py-clob-client-v2 build+sign: <rate> orders/s (<us> us/order, N orders)`.
"""

import sys
import time

from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Anvil #0, public


def main():
    host, token = sys.argv[1].rstrip("/"), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    c = ClobClient(host, 137, key=KEY)
    # Warm the client's tick-size and version caches (one network round trip each).
    c.create_order(OrderArgsV2(token_id=token, price=0.42, size=10, side="BUY"))
    start = time.perf_counter()
    for i in range(n):
        c.create_order(OrderArgsV2(token_id=token, price=0.42, size=10 + (i % 50), side="BUY"))
    dt = time.perf_counter() - start
    print(f"py-clob-client-v2 build+sign: {n / dt:.0f} orders/s ({dt / n * 1e6:.0f} us/order, {n} orders)")


if __name__ == "__main__":
    main()
