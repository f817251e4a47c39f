"""The month's outputs, the same for every obligation: the registry of obligations (obligations.py, the one place
that names them), each unit's status, the ledger as frames, the master and leadership workbooks, the notices
(催报, 通报, 报告), the export one level up, and the merge that publishes them."""
