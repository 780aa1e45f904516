"""Drives the simulator with Polymarket's official Python client,
py-clob-client-v2, to show that a second official client (not only the Rust
SDK) works against it unchanged.

Usage: python py_clob_client_v2.py http://127.0.0.1:PORT
Prints one line per check and exits non-zero on the first failure.
"""

import sys

from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    OpenOrderParams,
    OrderArgsV2,
    OrderPayload,
    OrderType,
    TradeParams,
)

# Anvil's public development keys (never hold real funds with these).
KEY_A = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
KEY_B = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
POLYGON = 137


def check(cond, what):
    if not cond:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok   {what}")


def signed_in(host, key):
    c = ClobClient(host, POLYGON, key=key)
    c.set_api_creds(c.create_or_derive_api_key())
    return c


def main():
    host = sys.argv[1].rstrip("/")
    public = ClobClient(host, POLYGON)
    check(public.get_ok() == "OK", "GET / answers OK")
    markets = public.get_markets()
    check(len(markets["data"]) >= 1 and markets["next_cursor"] == "LTE=", "markets page")
    m = markets["data"][0]
    yes, no = m["tokens"][0]["token_id"], m["tokens"][1]["token_id"]
    book = public.get_order_book(yes)
    check(book["asset_id"] == yes and book["tick_size"] == "0.01", "order book summary")
    stated = book["hash"]
    check(public.get_order_book_hash(dict(book)) == stated, "book hash matches the client's own recipe")
    check(str(public.get_tick_size(yes)) == "0.01", "tick size")
    check(public.get_neg_risk(yes) is False, "neg risk")

    a = signed_in(host, KEY_A)
    b = signed_in(host, KEY_B)
    bal = a.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    check(int(bal["balance"]) == 1_000_000_000, "starting balance 1,000 pUSD")

    rest = a.create_and_post_order(OrderArgsV2(token_id=yes, price=0.42, size=10, side="BUY"))
    check(rest["success"] and rest["status"] == "live", "resting BUY accepted")
    orders = a.get_open_orders(OpenOrderParams(asset_id=yes))
    check(len(orders) == 1 and orders[0]["id"] == rest["orderID"], "open orders list it")

    take = b.create_and_post_order(
        OrderArgsV2(token_id=no, price=0.58, size=10, side="BUY"), order_type=OrderType.GTC
    )
    check(take["success"] and take["status"] == "matched", "crossing BUY of the other outcome matched")
    trades = b.get_trades(TradeParams(asset_id=no))
    check(len(trades) == 1 and trades[0]["trader_side"] == "TAKER", "taker sees the trade")

    again = a.create_and_post_order(OrderArgsV2(token_id=yes, price=0.30, size=5, side="BUY"))
    cancelled = a.cancel_order(OrderPayload(orderID=again["orderID"]))
    check(again["orderID"] in cancelled["canceled"], "cancel")
    check(a.get_open_orders(OpenOrderParams(asset_id=yes)) == [], "no open orders left")
    hb = a.post_heartbeat()
    check(bool(hb.get("heartbeat_id")), "heartbeat")
    print("py-clob-client-v2 interop: all checks passed")


if __name__ == "__main__":
    main()
