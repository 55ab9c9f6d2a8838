-- Every scheduled report send: when, what, to whom, and how it went.
CREATE SEQUENCE IF NOT EXISTS report_send_ids START 1;
CREATE TABLE IF NOT EXISTS report_sends (
    id BIGINT PRIMARY KEY DEFAULT nextval('report_send_ids'),
    schedule VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    version VARCHAR,
    range_start TIMESTAMPTZ NOT NULL,
    range_end TIMESTAMPTZ NOT NULL,
    channel VARCHAR NOT NULL,
    recipients VARCHAR NOT NULL,   -- comma-separated addresses
    status VARCHAR NOT NULL,       -- 'sent' | 'failed'
    error VARCHAR,
    pdf_bytes BIGINT,
    html_bytes BIGINT,
    sent_at TIMESTAMPTZ NOT NULL
);
