"""The official documents the bureau sends (GB/T 9704 layout), their 发文字号 and the SMTP connection they go
out through; the notice model (notice.py: sections and documents every obligation builds), the xlsx writing
helpers (xlsx.py), and the Obligation protocol (obligation.py) that each obligation package implements."""
