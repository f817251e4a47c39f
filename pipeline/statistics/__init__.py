"""The Annex 2 statistics form as an obligation (安全生产督查情况统计表, due by the 23rd): its rules, the rules
that need a unit's history, its template, and each unit's timeliness for a month."""
