-- acme_claims: the fraud detector flags a claim as an anomaly.
\set id random(:claims * 9 / 10, :claims + 5000)
UPDATE claims SET is_anomaly = true, anomaly_reason = 'detector', flagged_at = now(), updated_at = now()
WHERE id = :id AND NOT is_anomaly;
