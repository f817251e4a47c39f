"""The month's outputs, the same for every obligation: the ledger as frames, the master and leadership workbooks,
the notices (催报, 通报, 报告), the export one level up, and the merge that publishes them."""
