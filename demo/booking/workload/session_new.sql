-- booking_journey: a new session's page views (most stop at the product
-- page); a fifth of them anonymous; users drawn with a skew, some of them not
-- registered yet (ids above the history's :users: they arrive later).
\set s random(:sessions + 1, :sessions * 2)
\set u random_exponential(1, :users + 200, 6)
\set stage random(1, 100)
\set plat random(1, 3)
INSERT INTO page_views (session_id, user_id, page, platform, product_id, viewed_at, ip_address)
SELECT md5('session ' || :s)::uuid, CASE WHEN :stage <= 20 THEN NULL ELSE :u END, v.page::page,
	   (ARRAY['web', 'ios', 'android'])[:plat]::platform, CASE WHEN v.page = 'product' THEN 1 + :s % 4096 END,
	   now() - (5 - v.k) * interval '1 second', '10.9.0.1'
FROM unnest(CASE WHEN :stage <= 62 THEN ARRAY['product']
				 WHEN :stage <= 80 THEN ARRAY['product', 'cart']
				 WHEN :stage <= 88 THEN ARRAY['product', 'cart', 'payment']
				 ELSE ARRAY['product', 'cart', 'payment', 'confirmation'] END) WITH ORDINALITY AS v(page, k);
