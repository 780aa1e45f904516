"""Drives the simulator with Polymarket's official Python client,
py-clob-client-v2, to show that a second official client (not only the Rust
SDK) works against it unchanged, and that the simulator holds it to the real
exchange's amount rules: an order built by the client's market-order builder
(`create_market_order`) is accepted, a FAK carrying limit-style amounts (a
4-decimal pUSD amount) is refused with the exchange's text.

Usage: python py_clob_client_v2.py http://127.0.0.1:PORT
Prints one line per check and exits non-zero on the first failure.
"""

import sys

from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderPayload,
    OrderType,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

# Anvil's public development keys (never hold real funds with these).
KEY_A = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
KEY_B = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
POLYGON = 137
MAX_UINT256 = 2**256 - 1
MARKET_BUY_PRECISION = (
    "invalid amounts, the market buy orders maker amount supports a max accuracy "
    "of 2 decimals, taker amount a max of 4 decimals"
)


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
    allowances = bal["allowances"]
    check(
        len(allowances) == 3 and all(int(v) == MAX_UINT256 for v in allowances.values()),
        "an account opened by API-key creation is approved for the three V2 contracts",
    )

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

    # Market orders: A offers 40 Yes at 0.50 (a bid for No at 0.50); B buys
    # $10 of Yes with the client's market-order builder, which reads the price
    # off the book and signs pUSD to the cent and shares to 4 decimals.
    a.create_and_post_order(OrderArgsV2(token_id=no, price=0.50, size=40, side="BUY"))
    market = b.create_market_order(MarketOrderArgsV2(token_id=yes, amount=10, side="BUY", order_type=OrderType.FAK))
    check(
        (int(market.makerAmount), int(market.takerAmount)) == (10_000_000, 20_000_000),
        "create_market_order signs $10.00 for 20 shares",
    )
    filled = b.post_order(market, OrderType.FAK)
    check(filled["success"] and filled["status"] == "matched", "the market-order builder's FAK BUY is accepted and fills")

    # The limit-order builder's amounts sent as a FAK: 18.87 x 0.53 = 10.0011
    # pUSD, 4 decimals where a market BUY may have 2.
    limit_style = b.create_order(OrderArgsV2(token_id=yes, price=0.53, size=18.87, side="BUY"))
    check(int(limit_style.makerAmount) == 10_001_100, "the limit builder signs 10.0011 pUSD")
    try:
        b.post_order(limit_style, OrderType.FAK)
        check(False, "a FAK with limit-style amounts is refused")
    except PolyApiException as e:
        check(e.status_code == 400, "refused with HTTP 400")
        check(e.error_msg == {"error": MARKET_BUY_PRECISION}, f"with the exchange's text: {e.error_msg}")
    print("py-clob-client-v2 interop: all checks passed")


if __name__ == "__main__":
    main()
