-- Up Migration

-- The paper broker's execution in the database (brokers/paper/engine.ts calls these). An order holds its account's
-- row lock for its whole transaction, so every round trip under the lock bounded how many orders one account takes a
-- second: a submit is now one call (in autocommit, the call and its commit are one round trip).
--
-- Snapshots: the functions are VOLATILE and run in READ COMMITTED, so each statement after the account's FOR UPDATE
-- takes a fresh snapshot and sees every order, fill and cash change committed before the lock was granted.
-- Open statuses are those of paper_orders_open (0002) and sql.ts OPEN_STATUSES. Money and quantities are rounded to
-- 9 decimals (engine.ts round9).

-- The next slice of `open_order` at `fill_price` if the order is marketable (market: always; limit buy: price <=
-- limit; limit sell: price >= limit): the order's fill, a fill row with an Alpaca-style id (a sortable UTC stamp,
-- "::", a uuid), the position (average entry moves only when it grows or flips; deleted when flat) and the cash.
-- Slices keep integer quantities whole (at least 1) and split fractions evenly. Returns the order as it is after.
-- The caller holds the account's row lock.
CREATE OR REPLACE FUNCTION paper_fill_slice(open_order paper_orders, fill_price numeric, fill_at timestamptz)
RETURNS paper_orders LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  remaining numeric := round(open_order.qty - open_order.filled_qty, 9);
  slices_left integer := open_order.slices_total - open_order.slices_done;
  slice numeric;
  cum numeric;
  is_done boolean;
  slice_notional numeric;
  signed_slice numeric;
  held_qty numeric;
  held_avg numeric;
  next_qty numeric;
  updated_order paper_orders;
BEGIN
  IF remaining <= 0 THEN RETURN open_order; END IF;
  IF open_order.type = 'limit' AND open_order.limit_price IS NOT NULL
     AND (CASE WHEN open_order.side = 'buy' THEN fill_price > open_order.limit_price ELSE fill_price < open_order.limit_price END) THEN
    RETURN open_order;
  END IF;
  slice := CASE
    WHEN slices_left <= 1 THEN remaining
    WHEN remaining = trunc(remaining) THEN least(remaining, greatest(1, ceil(remaining / slices_left)))
    ELSE round(remaining / slices_left, 9)
  END;
  cum := round(open_order.filled_qty + slice, 9);
  is_done := cum >= open_order.qty;
  slice_notional := round(slice * fill_price, 9);

  UPDATE paper_orders
  SET filled_qty = CASE WHEN is_done THEN qty ELSE filled_qty + slice END, filled_notional = filled_notional + slice_notional,
      slices_done = slices_done + 1, status = CASE WHEN is_done THEN 'filled' ELSE 'partially_filled' END,
      updated_at = fill_at, filled_at = CASE WHEN is_done THEN fill_at ELSE filled_at END
  WHERE id = open_order.id
  RETURNING * INTO updated_order;

  INSERT INTO paper_fills (id, account, order_id, symbol, side, qty, price, cum_qty, leaves_qty, order_status, ts)
  VALUES (to_char(fill_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSMS') || '::' || gen_random_uuid(), open_order.account, open_order.id,
          open_order.symbol, open_order.side, slice, fill_price, CASE WHEN is_done THEN open_order.qty ELSE cum END,
          CASE WHEN is_done THEN 0 ELSE round(open_order.qty - cum, 9) END, updated_order.status, fill_at);

  signed_slice := CASE WHEN open_order.side = 'buy' THEN slice ELSE -slice END;
  SELECT pp.qty, pp.avg_entry_price INTO held_qty, held_avg FROM paper_positions pp WHERE pp.account = open_order.account AND pp.symbol = open_order.symbol;
  held_qty := coalesce(held_qty, 0);
  held_avg := coalesce(held_avg, 0);
  next_qty := round(held_qty + signed_slice, 9);
  IF next_qty = 0 THEN
    DELETE FROM paper_positions pp WHERE pp.account = open_order.account AND pp.symbol = open_order.symbol;
  ELSE
    INSERT INTO paper_positions (account, symbol, qty, avg_entry_price)
    VALUES (open_order.account, open_order.symbol, next_qty, CASE
      WHEN held_qty = 0 OR sign(held_qty) = sign(signed_slice) THEN round((abs(held_qty) * held_avg + abs(signed_slice) * fill_price) / abs(next_qty), 9)
      WHEN sign(next_qty) = sign(held_qty) THEN held_avg
      ELSE fill_price
    END)
    ON CONFLICT (account, symbol) DO UPDATE SET qty = EXCLUDED.qty, avg_entry_price = EXCLUDED.avg_entry_price;
  END IF;

  UPDATE paper_accounts SET cash = cash + CASE WHEN open_order.side = 'buy' THEN -slice_notional ELSE slice_notional END, updated_at = now()
  WHERE account = open_order.account;
  RETURN updated_order;
END
$$;

-- One execution attempt (the next slice) for each open order of the account, of `only_symbols` unless NULL, oldest
-- first, at its symbol's last price. Returns how many orders filled a slice. The caller holds the account's row lock.
CREATE OR REPLACE FUNCTION paper_execute_open(for_account text, only_symbols text[], fill_at timestamptz)
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  open_order paper_orders;
  last_price numeric;
  fills integer := 0;
BEGIN
  FOR open_order IN
    SELECT * FROM paper_orders o
    WHERE o.account = for_account AND o.status IN ('new', 'accepted', 'partially_filled') AND (only_symbols IS NULL OR o.symbol = ANY(only_symbols))
    ORDER BY o.seq FOR UPDATE
  LOOP
    SELECT p.price INTO last_price FROM paper_prices p WHERE p.account = for_account AND p.symbol = open_order.symbol;
    CONTINUE WHEN last_price IS NULL;
    IF (paper_fill_slice(open_order, last_price, fill_at)).slices_done <> open_order.slices_done THEN fills := fills + 1; END IF;
  END LOOP;
  RETURN fills;
END
$$;

-- POST /v2/orders in one call: locks the account row first, then refuses a taken client order id ('duplicate'), a
-- symbol without a price ('no_price') or a buy that costs more than cash less what open buys reserve
-- ('insufficient_buying_power', with needed and available); otherwise creates the order ('created', `placed`),
-- executes its first slice and cancels what an IOC order did not fill. Inside a transaction that holds the lock
-- already (closing a position), the FOR UPDATE returns at once.
CREATE OR REPLACE FUNCTION paper_submit(
  for_account text, new_client_order_id text, new_symbol text, new_side text, new_type text, new_time_in_force text,
  new_qty numeric, new_limit_price numeric, new_slices integer, submitted_at timestamptz,
  OUT kind text, OUT needed numeric, OUT available numeric, OUT placed paper_orders
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  account_cash numeric;
  last_price numeric;
  reserved numeric;
BEGIN
  SELECT a.cash INTO account_cash FROM paper_accounts a WHERE a.account = for_account FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'paper account "%" does not exist (was the broker initialised?)', for_account;
  END IF;
  IF EXISTS (SELECT 1 FROM paper_orders o WHERE o.account = for_account AND o.client_order_id = new_client_order_id) THEN
    kind := 'duplicate';
    RETURN;
  END IF;
  SELECT p.price INTO last_price FROM paper_prices p WHERE p.account = for_account AND p.symbol = new_symbol;
  IF last_price IS NULL THEN
    kind := 'no_price';
    RETURN;
  END IF;
  IF new_side = 'buy' THEN
    SELECT coalesce(sum((o.qty - o.filled_qty) * coalesce(o.limit_price, p.price, 0)), 0) INTO reserved
    FROM paper_orders o LEFT JOIN paper_prices p ON p.account = o.account AND p.symbol = o.symbol
    WHERE o.account = for_account AND o.side = 'buy' AND o.status IN ('new', 'accepted', 'partially_filled');
    needed := round(new_qty * coalesce(new_limit_price, last_price), 9);
    available := round(account_cash - reserved, 9);
    IF needed > available + 0.000000001 THEN
      kind := 'insufficient_buying_power';
      RETURN;
    END IF;
    needed := NULL;
    available := NULL;
  END IF;

  INSERT INTO paper_orders (id, account, client_order_id, symbol, side, type, time_in_force, qty, limit_price, status, slices_total, created_at, updated_at)
  VALUES (gen_random_uuid(), for_account, new_client_order_id, new_symbol, new_side, new_type, new_time_in_force, new_qty, new_limit_price, 'new', new_slices,
          submitted_at, submitted_at)
  ON CONFLICT (account, client_order_id) DO NOTHING
  RETURNING * INTO placed;
  IF NOT FOUND THEN
    kind := 'duplicate';
    RETURN;
  END IF;
  placed := paper_fill_slice(placed, last_price, submitted_at);
  IF placed.time_in_force = 'ioc' AND placed.status <> 'filled' THEN
    UPDATE paper_orders SET status = 'canceled', updated_at = submitted_at, canceled_at = submitted_at WHERE id = placed.id RETURNING * INTO placed;
  END IF;
  kind := 'created';
END
$$;

-- Down Migration

DROP FUNCTION IF EXISTS paper_submit(text, text, text, text, text, text, numeric, numeric, integer, timestamptz);
DROP FUNCTION IF EXISTS paper_execute_open(text, text[], timestamptz);
DROP FUNCTION IF EXISTS paper_fill_slice(paper_orders, numeric, timestamptz);
