"""The official documents the bureau sends (GB/T 9704 layout), their 发文字号 and the SMTP connection they go
out through."""
