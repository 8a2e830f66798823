-- Cost of each call in USD (NULL when the model has no price).
ALTER TABLE usage_records ADD COLUMN cost_usd REAL;
