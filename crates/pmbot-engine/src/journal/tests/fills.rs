//! Fills and the positions they add up to.

use pmbot_core::Usdc;
use rust_decimal::Decimal;

use super::super::{Conflict, FillOutcome, Journal, JournalError, OrderLog, OrderLogError, Position};
use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn fills_read_back_and_repeat_without_effect() {
    let s = Scratch::new("fills");
    let mut j = Journal::open(s.journal()).unwrap();
    j.record_order(&order(1)).unwrap();
    j.record_order(&order(2)).unwrap();
    let a = fill_of(&order(1), "trade-a", "0.51", "4.5", Usdc::parse("0.07874").unwrap(), Liquidity::Taker);
    let b = fill_of(&order(2), "trade-b", "0.52", "10", Usdc::ZERO, Liquidity::Maker);
    let c = fill_of(&order(1), "trade-c", "0.52", "5.5", Usdc::parse("0.0175").unwrap(), Liquidity::Taker);
    assert_eq!(j.record_fill(&a).unwrap(), FillOutcome::Recorded);
    assert!(OrderLog::fill(&mut j, &b).unwrap());
    assert_eq!(j.record_fill(&c).unwrap(), FillOutcome::Recorded);

    // Repeats (the WebSocket and REST both report a trade; the exchange moves
    // it from MATCHED to CONFIRMED) change nothing, even with other times.
    let mut late = a.clone();
    late.time.received = TimestampMs(1_800_000_000_000);
    assert_eq!(j.record_fill(&late).unwrap(), FillOutcome::AlreadyRecorded);
    assert!(!OrderLog::fill(&mut j, &b).unwrap());

    assert_eq!(j.fills().unwrap(), vec![a.clone(), b.clone(), c.clone()]);
    assert_eq!(j.fills_of(&hash(1)).unwrap(), vec![a.clone(), c]);
    assert_eq!(j.fills_of(&hash(2)).unwrap(), vec![b]);
    assert!(j.fills_of(&hash(3)).unwrap().is_empty());

    // A fill reported without our client id is stored under the order's.
    j.record_order(&order(3)).unwrap();
    let mut anonymous = fill(3, "trade-d", "1");
    anonymous.client_order_id = None;
    j.record_fill(&anonymous).unwrap();
    assert_eq!(j.fills_of(&hash(3)).unwrap()[0].client_order_id, Some(cid(3)));

    // One trade may fill two of our orders (both sides of a cross): the key is
    // (trade id, order id).
    let same_trade = fill_of(&order(2), "trade-a", "0.52", "1", Usdc::ZERO, Liquidity::Maker);
    assert_eq!(j.record_fill(&same_trade).unwrap(), FillOutcome::Recorded);
    assert_eq!(j.fills().unwrap().len(), 5);
}

#[test]
fn fills_that_do_not_fit_are_errors_and_change_nothing() {
    let s = Scratch::new("fill-errors");
    let mut j = Journal::open(s.journal()).unwrap();
    j.record_order(&order(1)).unwrap();
    j.record_fill(&fill(1, "t1", "2")).unwrap();
    let before = j.export_json().unwrap();

    let e = j.record_fill(&fill(9, "t9", "1")).unwrap_err();
    assert!(matches!(&e, JournalError::UnknownOrder { order, .. } if order == &hash(9).to_string()), "{e}");
    assert!(matches!(OrderLog::fill(&mut j, &fill(9, "t9", "1")), Err(OrderLogError::Storage(_))));

    let mut other_size = fill(1, "t1", "3");
    other_size.time.received = TimestampMs(1);
    let mut other_price = fill(1, "t1", "2");
    other_price.price = price("0.5");
    let mut other_token = fill(1, "t2", "1");
    other_token.token = token(TOKEN_B);
    let mut other_side = fill(1, "t2", "1");
    other_side.side = Side::Sell;
    let mut other_client = fill(1, "t2", "1");
    other_client.client_order_id = Some(cid(2));
    let cases = [
        ("size differs", other_size, Conflict::FillDiffers { trade_id: "t1".into() }),
        ("price differs", other_price, Conflict::FillDiffers { trade_id: "t1".into() }),
        ("token", other_token, Conflict::FillMismatch { field: "token" }),
        ("side", other_side, Conflict::FillMismatch { field: "side" }),
        ("client id", other_client, Conflict::FillMismatch { field: "client order id" }),
    ];
    for (name, f, want) in cases {
        match j.record_fill(&f) {
            Err(JournalError::Conflict { conflict, order, .. }) => {
                assert_eq!(conflict, want, "{name}");
                assert_eq!(order, hash(1).to_string());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(j.export_json().unwrap(), before);
}

#[test]
fn positions_add_up_exactly() {
    let s = Scratch::new("positions");
    let mut j = Journal::open(s.journal()).unwrap();
    assert!(j.positions().unwrap().is_empty());
    let buy_taker = order_of(1, TOKEN_A, Side::Buy, "0.52", "10");
    let buy_maker = order_of(2, TOKEN_A, Side::Buy, "0.4801", "5.5");
    let sell = order_of(3, TOKEN_A, Side::Sell, "0.6", "3");
    let odd = order_of(4, TOKEN_B, Side::Buy, "0.5234", "1.000001");
    for o in [&buy_taker, &buy_maker, &sell, &odd] {
        j.record_order(o).unwrap();
    }
    // Fees in pUSD on both sides (CLOB V2): 0.07 x 0.52 x 0.48 x 10 on the
    // taker buy, 0.07 x 0.6 x 0.4 x 3 on the taker sell.
    let fills = [
        fill_of(&buy_taker, "t1", "0.52", "10", Usdc::parse("0.17472").unwrap(), Liquidity::Taker),
        fill_of(&buy_maker, "t2", "0.4801", "5.5", Usdc::ZERO, Liquidity::Maker),
        fill_of(&sell, "t3", "0.6", "3", Usdc::parse("0.0504").unwrap(), Liquidity::Taker),
        fill_of(&odd, "t4", "0.5234", "1.000001", Usdc::ZERO, Liquidity::Maker),
    ];
    for f in &fills {
        j.record_fill(f).unwrap();
    }
    // A repeated fill is not counted twice.
    j.record_fill(&fills[0]).unwrap();

    let mut want = vec![
        Position {
            token: token(TOKEN_A),
            fills: 3,
            bought: size("15.5"),
            sold: size("3"),
            fee_shares: Size::ZERO,
            fee_collateral: Usdc::parse("0.22512").unwrap(),
            // 15.5 - 3: every share bought is held.
            net_shares: d("12.5"),
            // 5.2 + 2.64055 - 1.8 + 0.17472 + 0.0504
            net_cost: d("6.26567"),
        },
        Position {
            token: token(TOKEN_B),
            fills: 1,
            bought: size("1.000001"),
            sold: Size::ZERO,
            fee_shares: Size::ZERO,
            fee_collateral: Usdc::ZERO,
            net_shares: d("1.000001"),
            // Ten decimals: not a whole number of micro-pUSD, kept exactly.
            net_cost: d("0.5234005234"),
        },
    ];
    want.sort_by(|a, b| a.token.cmp(&b.token));
    assert_eq!(j.positions().unwrap(), want);
}

#[test]
fn a_position_sold_beyond_its_fills_goes_negative_rather_than_wrapping() {
    let s = Scratch::new("short");
    let mut j = Journal::open(s.journal()).unwrap();
    let sell = order_of(1, TOKEN_A, Side::Sell, "0.7", "2");
    j.record_order(&sell).unwrap();
    j.record_fill(&fill_of(&sell, "t1", "0.7", "2", Usdc::ZERO, Liquidity::Maker)).unwrap();
    let p = &j.positions().unwrap()[0];
    assert_eq!(p.net_shares, d("-2"));
    assert_eq!(p.net_cost, d("-1.4"));
}

/// Writes a BUY fill of 10 at 0.52 whose fee is 0.336 shares withheld, as
/// a journal before schema 4 could hold it (raw SQL: no `Fill` says that).
fn insert_fee_shares_fill(j: &Journal, trade_id: &str, buy: &PreparedOrder) -> rusqlite::Result<usize> {
    j.connection().execute(
        "INSERT INTO fills (trade_id, order_hash, client_order_id, token, side, price_pips, size_micros,
                            fee_kind, fee_micros, liquidity, received_ms, exchange_ms)
         VALUES (?1, ?2, ?3, ?4, 'BUY', 5200, 10000000, 'shares', 336000, 'taker', 1, 1)",
        (trade_id, buy.order_hash.to_string(), buy.client_order_id.as_str(), TOKEN_A),
    )
}

/// A journal written before schema 4 may hold fills whose fee was shares
/// withheld (CLOB V1's rule, which pmbot applied until then). They read with
/// the meaning they had: their value counts as a fee, the withheld shares
/// against the holding. No fill can be written that way any more.
#[test]
fn fills_with_fee_shares_from_before_schema_4_keep_their_meaning() {
    use super::super::schema::MIGRATIONS;
    let s = Scratch::new("fee-shares");
    let path = s.journal();
    let buy = order_of(1, TOKEN_A, Side::Buy, "0.52", "10");
    {
        let mut j = Journal::open_with(&path, &MIGRATIONS[..3]).unwrap();
        j.record_order(&buy).unwrap();
        insert_fee_shares_fill(&j, "t1", &buy).unwrap();
    }
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), 4);
    // 0.336 shares at 0.52: 0.17472 pUSD.
    assert_eq!(j.fills().unwrap()[0].fee, Usdc::parse("0.17472").unwrap());
    let p = &j.positions().unwrap()[0];
    assert_eq!(
        (p.fee_shares, p.fee_collateral, p.net_shares, p.net_cost),
        (size("0.336"), Usdc::ZERO, d("9.664"), d("5.2"))
    );
    // Schema 4 refuses a fee in shares.
    let e = insert_fee_shares_fill(&j, "t2", &buy).unwrap_err();
    assert!(e.to_string().contains("never shares"), "{e}");
}
