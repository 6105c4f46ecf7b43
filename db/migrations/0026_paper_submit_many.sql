-- Up Migration

-- Several submits to one account in one call and one transaction: paper_submit for each, in the order given, under the
-- account lock the first one takes. The paper engine sends the orders that arrived while its last call on the account
-- ran (a bar close's burst from many deployments), so a burst commits, and waits for the commit's flush, once per
-- call rather than once per order while every other order of the account waits for the lock. Each order gets the
-- answer it would have got alone after the ones before it (a duplicate within the call included).
CREATE OR REPLACE FUNCTION paper_submit_many(
  for_account text, client_order_ids text[], symbols text[], sides text[], types text[], times_in_force text[],
  qtys numeric[], limit_prices numeric[], slices integer[], submitted_ats timestamptz[]
) RETURNS TABLE (n integer, kind text, needed numeric, available numeric, placed paper_orders) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  one record;
BEGIN
  FOR i IN 1 .. coalesce(array_length(client_order_ids, 1), 0) LOOP
    SELECT * INTO one
    FROM paper_submit(for_account, client_order_ids[i], symbols[i], sides[i], types[i], times_in_force[i], qtys[i], limit_prices[i], slices[i], submitted_ats[i]);
    n := i;
    kind := one.kind;
    needed := one.needed;
    available := one.available;
    placed := one.placed;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Down Migration

DROP FUNCTION IF EXISTS paper_submit_many(text, text[], text[], text[], text[], text[], numeric[], numeric[], integer[], timestamptz[]);
